package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/subgraphs/ai/graph/model"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Subjects of the ai subgraph's events (internal/events), appended to the
// outbox in the transaction of the change they describe.
const (
	// SubjectAnalysisRequested: an analysis waits for a worker (JobEvent).
	SubjectAnalysisRequested = "studio.ai.analysis.requested"
	// SubjectDraftRequested: a policy draft waits for a worker (JobEvent).
	SubjectDraftRequested = "studio.ai.policy_draft.requested"
	// SubjectDraftGenerated: a policy draft is written (DraftEvent); the
	// documents subgraph stores it as a document of the project.
	SubjectDraftGenerated = "studio.ai.policy_draft.generated"
)

// Job kinds (JobEvent.Kind).
const (
	KindAnalysis = "analysis"
	KindDraft    = "policy_draft"
)

// JobEvent is the payload of the *.requested events: the job to run.
type JobEvent struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

// DraftEvent is the payload of policy_draft.generated: the document the
// documents subgraph is to store (id chosen here, so a redelivery stores it
// once).
type DraftEvent struct {
	ID          string `json:"id"`
	DocumentID  string `json:"documentId"`
	ProjectID   string `json:"projectId"`
	RequestedBy string `json:"requestedBy"`
	Filename    string `json:"filename"`
	Content     string `json:"content"`
}

const (
	analysisCols = "id::text, org_id::text, evidence_id::text, control_id::text, state, verdict, summary, citations, model, error, requested_by::text, created_at, updated_at"
	draftCols    = "id::text, org_id::text, project_id::text, framework_id::text, state, title, content, document_id::text, model, error, requested_by::text, created_at, updated_at"
)

func analysisFields(a *model.Analysis) []any {
	return []any{&a.ID, &a.OrgID, &a.EvidenceID, &a.ControlID, &a.State, &a.Verdict, &a.Summary, &a.Citations, &a.Model, &a.Error,
		&a.RequestedByID, &a.CreatedAt, &a.UpdatedAt}
}

func draftFields(d *model.PolicyDraft) []any {
	return []any{&d.ID, &d.OrgID, &d.ProjectID, &d.FrameworkID, &d.State, &d.Title, &d.Content, &d.DocumentID, &d.Model, &d.Error,
		&d.RequestedByID, &d.CreatedAt, &d.UpdatedAt}
}

// AnalysesByIDs returns analyses of orgID in key order, nil where there is none. One query.
func (s *Store) AnalysesByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Analysis, error) {
	return kit.ByIDs(ctx, s.Pool(), analysisCols, "analyses", analysisFields, func(a *model.Analysis) string { return a.ID }, orgID, ids)
}

// DraftsByIDs returns policy drafts of orgID in key order, nil where there is none. One query.
func (s *Store) DraftsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.PolicyDraft, error) {
	return kit.ByIDs(ctx, s.Pool(), draftCols, "policy_drafts", draftFields, func(d *model.PolicyDraft) string { return d.ID }, orgID, ids)
}

var (
	analysesOfEvidence = kit.PageQuery{Select: analysisCols, From: "analyses", Key: "evidence_id", Where: "org_id = $2::uuid", Order: "created_at DESC, id"}
	draftsOfProject    = kit.PageQuery{Select: draftCols, From: "policy_drafts", Key: "project_id", Where: "org_id = $2::uuid", Order: "created_at DESC, id"}
)

// AnalysesByEvidenceIDs returns, per key, a page of its evidence's analyses, newest first. One query.
func (s *Store) AnalysesByEvidenceIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.AnalysisConnection, error) {
	return kit.Pages(ctx, s.Pool(), analysesOfEvidence, keys, analysisFields, orgID)
}

// DraftsByProjectIDs returns, per key, a page of its project's policy drafts, newest first. One query.
func (s *Store) DraftsByProjectIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.PolicyDraftConnection, error) {
	return kit.Pages(ctx, s.Pool(), draftsOfProject, keys, draftFields, orgID)
}

// CreateAnalysis inserts a QUEUED analysis (ID, OrgID, EvidenceID,
// ControlID, RequestedByID set) and appends analysis.requested, in one
// transaction.
func (s *Store) CreateAnalysis(ctx context.Context, a *model.Analysis) error {
	a.State, a.Citations = model.AIJobStateQueued, []model.Citation{}
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO analyses (id, org_id, evidence_id, control_id, state, requested_by) VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING created_at, updated_at`, a.ID, a.OrgID, a.EvidenceID, a.ControlID, string(a.State), a.RequestedByID).Scan(&a.CreatedAt, &a.UpdatedAt)
		if err != nil {
			return fmt.Errorf("insert analysis: %w", err)
		}
		return appendEvent(ctx, tx, SubjectAnalysisRequested, a.OrgID, JobEvent{ID: a.ID, Kind: KindAnalysis})
	})
}

// CreateDraft inserts a QUEUED policy draft (ID, OrgID, ProjectID,
// FrameworkID, Title, RequestedByID set) and appends
// policy_draft.requested, in one transaction.
func (s *Store) CreateDraft(ctx context.Context, d *model.PolicyDraft) error {
	d.State = model.AIJobStateQueued
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO policy_drafts (id, org_id, project_id, framework_id, state, title, requested_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
			RETURNING created_at, updated_at`, d.ID, d.OrgID, d.ProjectID, d.FrameworkID, string(d.State), d.Title, d.RequestedByID).Scan(&d.CreatedAt, &d.UpdatedAt)
		if err != nil {
			return fmt.Errorf("insert policy draft: %w", err)
		}
		return appendEvent(ctx, tx, SubjectDraftRequested, d.OrgID, JobEvent{ID: d.ID, Kind: KindDraft})
	})
}

// StartJob marks job id of kind (KindAnalysis or KindDraft) of orgID
// RUNNING; done is true (and nothing changes) when it already ended;
// ErrNotFound when it is gone.
func (s *Store) StartJob(ctx context.Context, orgID, kind, id string) (done bool, err error) {
	table, err := jobTable(kind)
	if err != nil {
		return false, err
	}
	var state string
	err = s.Pool().QueryRow(ctx, `UPDATE `+table+` SET state = CASE WHEN state IN ('SUCCEEDED', 'FAILED') THEN state ELSE 'RUNNING' END,
		updated_at = now() WHERE id = $1 AND org_id = $2 RETURNING state`, id, orgID).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("start %s: %w", kind, err)
	}
	return state != string(model.AIJobStateRunning), nil
}

// RetryJob puts a job back to QUEUED after a failed attempt, keeping why.
func (s *Store) RetryJob(ctx context.Context, orgID, kind, id, reason string) error {
	return s.setState(ctx, orgID, kind, id, model.AIJobStateQueued, reason)
}

// FailJob marks a job FAILED with reason.
func (s *Store) FailJob(ctx context.Context, orgID, kind, id, reason string) error {
	return s.setState(ctx, orgID, kind, id, model.AIJobStateFailed, reason)
}

func (s *Store) setState(ctx context.Context, orgID, kind, id string, state model.AIJobState, reason string) error {
	table, err := jobTable(kind)
	if err != nil {
		return err
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE `+table+` SET state = $3, error = $4, updated_at = now() WHERE id = $1 AND org_id = $2`,
		id, orgID, string(state), reason); err != nil {
		return fmt.Errorf("%s %s: %w", kind, state, err)
	}
	return nil
}

// FinishAnalysis stores an analysis's result: SUCCEEDED.
func (s *Store) FinishAnalysis(ctx context.Context, a *model.Analysis) error {
	_, err := s.Pool().Exec(ctx, `UPDATE analyses SET state = 'SUCCEEDED', verdict = $3, summary = $4, citations = $5, model = $6, error = NULL,
		updated_at = now() WHERE id = $1 AND org_id = $2`, a.ID, a.OrgID, a.Verdict, a.Summary, a.Citations, a.Model)
	if err != nil {
		return fmt.Errorf("finish analysis: %w", err)
	}
	return nil
}

// FinishDraft stores a draft's content (SUCCEEDED, document id chosen) and
// appends policy_draft.generated, in one transaction.
func (s *Store) FinishDraft(ctx context.Context, d *model.PolicyDraft, filename string) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE policy_drafts SET state = 'SUCCEEDED', content = $3, document_id = $4, model = $5, error = NULL,
			updated_at = now() WHERE id = $1 AND org_id = $2`, d.ID, d.OrgID, d.Content, d.DocumentID, d.Model)
		if err != nil {
			return fmt.Errorf("finish policy draft: %w", err)
		}
		return appendEvent(ctx, tx, SubjectDraftGenerated, d.OrgID, DraftEvent{ID: d.ID, DocumentID: *d.DocumentID, ProjectID: d.ProjectID,
			RequestedBy: d.RequestedByID, Filename: filename, Content: *d.Content})
	})
}

func jobTable(kind string) (string, error) {
	switch kind {
	case KindAnalysis:
		return "analyses", nil
	case KindDraft:
		return "policy_drafts", nil
	}
	return "", fmt.Errorf("unknown job kind %q", kind)
}

// appendEvent appends an event of organization orgID to the outbox in tx.
func appendEvent(ctx context.Context, tx pgx.Tx, subject, orgID string, payload any) error {
	return events.AppendPayload(ctx, tx, subject, orgID, payload)
}
