package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
)

// Subjects of compliance's events (internal/events), appended to the outbox
// in the transaction of the change they describe. Payloads carry the
// entity's whole state after the change (not a diff), so a consumer can
// upsert from any one of them.
const (
	SubjectProjectCreated    = "studio.compliance.project.created"
	SubjectControlAdded      = "studio.compliance.control.added"
	SubjectEvidenceSubmitted = "studio.compliance.evidence.submitted"
)

// ProjectEvent is the payload of the project events.
type ProjectEvent struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	OwnerID     string `json:"ownerId"`
}

// ControlEvent is the payload of the control events.
type ControlEvent struct {
	ID          string `json:"id"`
	ProjectID   string `json:"projectId"`
	Code        string `json:"code"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Framework   string `json:"framework"`
	Status      string `json:"status"`
}

// EvidenceEvent is the payload of the evidence events.
type EvidenceEvent struct {
	ID            string  `json:"id"`
	ControlID     string  `json:"controlId"`
	Title         string  `json:"title"`
	URL           *string `json:"url,omitempty"`
	SubmittedByID *string `json:"submittedBy,omitempty"`
}

func projectEvent(p *model.Project) ProjectEvent {
	return ProjectEvent{ID: p.ID, Name: p.Name, Description: p.Description, OwnerID: p.OwnerID}
}

func controlEvent(c *model.Control) ControlEvent {
	return ControlEvent{ID: c.ID, ProjectID: c.ProjectID, Code: c.Code, Title: c.Title, Description: c.Description,
		Framework: c.Framework, Status: string(c.Status)}
}

func evidenceEvent(e *model.Evidence) EvidenceEvent {
	return EvidenceEvent{ID: e.ID, ControlID: e.ControlID, Title: e.Title, URL: e.URL, SubmittedByID: e.SubmittedByID}
}

// appendEvent appends an event of organization orgID to the outbox in tx.
func appendEvent(ctx context.Context, tx pgx.Tx, subject, orgID string, payload any) error {
	org, err := uuid.Parse(orgID)
	if err != nil {
		return fmt.Errorf("event %s: organization id: %w", subject, err)
	}
	ev, err := events.New(subject, org, payload)
	if err != nil {
		return err
	}
	return events.Append(ctx, tx, ev)
}
