package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
)

// Subjects of the documents subgraph's events (internal/events), appended to
// the outbox in the transaction of the change they describe.
const (
	// SubjectDocumentUploaded: a document's bytes are stored and its row
	// committed (DocumentEvent).
	SubjectDocumentUploaded = "studio.documents.document.uploaded"
	// SubjectJobQueued: a processing job waits for a worker (JobEvent).
	SubjectJobQueued = "studio.documents.job.queued"
)

// DocumentEvent is the payload of the document events.
type DocumentEvent struct {
	ID          string  `json:"id"`
	ProjectID   string  `json:"projectId"`
	EvidenceID  *string `json:"evidenceId,omitempty"`
	UploadedBy  string  `json:"uploadedBy"`
	Filename    string  `json:"filename"`
	ContentType string  `json:"contentType"`
	Size        int64   `json:"size"`
	SHA256      string  `json:"sha256"`
	Status      string  `json:"status"`
}

// JobEvent is the payload of the job events.
type JobEvent struct {
	ID         string `json:"id"`
	DocumentID string `json:"documentId"`
	State      string `json:"state"`
	Error      string `json:"error,omitempty"`
}

func documentEvent(d *model.Document) DocumentEvent {
	return DocumentEvent{ID: d.ID, ProjectID: d.ProjectID, EvidenceID: d.EvidenceID, UploadedBy: d.UploadedByID,
		Filename: d.Filename, ContentType: d.ContentType, Size: d.Size, SHA256: d.Sha256, Status: string(d.Status)}
}

// appendEvent appends an event of organization orgID to the outbox in tx.
func appendEvent(ctx context.Context, tx pgx.Tx, subject, orgID string, payload any) error {
	return events.AppendPayload(ctx, tx, subject, orgID, payload)
}

func newID() string { return uuid.NewString() }
