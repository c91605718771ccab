package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
)

// Subjects of compliance's events (internal/events), appended to the outbox
// in the transaction of the change they describe. Payloads carry the
// entity's whole state after the change (not a diff), so a consumer can
// upsert from any one of them.
const (
	SubjectProjectCreated          = "studio.compliance.project.created"
	SubjectProjectFrameworkAdopted = "studio.compliance.project.framework_adopted"
	SubjectControlAdded            = "studio.compliance.control.added"
	SubjectControlUpdated          = "studio.compliance.control.updated"
	SubjectEvidenceSubmitted       = "studio.compliance.evidence.submitted"
	SubjectEvidenceReviewed        = "studio.compliance.evidence.reviewed"
)

// Subjects lists compliance's event subjects.
func Subjects() []string {
	return []string{SubjectProjectCreated, SubjectProjectFrameworkAdopted, SubjectControlAdded, SubjectControlUpdated,
		SubjectEvidenceSubmitted, SubjectEvidenceReviewed}
}

// ProjectEvent is the payload of the project events.
type ProjectEvent struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	OwnerID      string   `json:"ownerId"`
	FrameworkIDs []string `json:"frameworkIds"`
	// Version is the row's revision (1 on creation, +1 per change): a
	// consumer ignores a payload older than what it holds.
	Version int64 `json:"version"`
}

// ControlEvent is the payload of the control events.
type ControlEvent struct {
	ID             string   `json:"id"`
	ProjectID      string   `json:"projectId"`
	Code           string   `json:"code"`
	Title          string   `json:"title"`
	Description    string   `json:"description"`
	Framework      string   `json:"framework"`
	Status         string   `json:"status"`
	RequirementIDs []string `json:"requirementIds"`
	Version        int64    `json:"version"`
}

// EvidenceEvent is the payload of the evidence events.
type EvidenceEvent struct {
	ID            string     `json:"id"`
	ControlID     string     `json:"controlId"`
	Title         string     `json:"title"`
	URL           *string    `json:"url,omitempty"`
	SubmittedByID *string    `json:"submittedBy,omitempty"`
	OwnerID       *string    `json:"ownerId,omitempty"`
	Status        string     `json:"status"`
	ReviewedByID  *string    `json:"reviewedBy,omitempty"`
	ReviewedAt    *time.Time `json:"reviewedAt,omitempty"`
	ExpiresAt     *time.Time `json:"expiresAt,omitempty"`
	Version       int64      `json:"version"`
}

func projectEvent(p *model.Project, frameworkIDs []string) ProjectEvent {
	return ProjectEvent{ID: p.ID, Name: p.Name, Description: p.Description, OwnerID: p.OwnerID,
		FrameworkIDs: nonNil(frameworkIDs), Version: p.Version}
}

func controlEvent(c *model.Control, requirementIDs []string) ControlEvent {
	return ControlEvent{ID: c.ID, ProjectID: c.ProjectID, Code: c.Code, Title: c.Title, Description: c.Description,
		Framework: c.Framework, Status: string(c.Status), RequirementIDs: nonNil(requirementIDs), Version: c.Version}
}

func evidenceEvent(e *model.Evidence) EvidenceEvent {
	return EvidenceEvent{ID: e.ID, ControlID: e.ControlID, Title: e.Title, URL: e.URL, SubmittedByID: e.SubmittedByID,
		OwnerID: e.OwnerID, Status: string(e.Status), ReviewedByID: e.ReviewedByID, ReviewedAt: utc(e.ReviewedAt),
		ExpiresAt: utc(e.ExpiresAt), Version: e.Version}
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// appendEvent appends an event of organization orgID to the outbox in tx.
func appendEvent(ctx context.Context, tx pgx.Tx, subject, orgID string, payload any) error {
	return events.AppendPayload(ctx, tx, subject, orgID, payload)
}
