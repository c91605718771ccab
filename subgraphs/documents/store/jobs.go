package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
)

// Subjects of the processing events.
const (
	// SubjectDocumentProcessed: a job extracted and chunked a document's text
	// (ProcessedEvent): the hand-off to the ai subgraph's embeddings.
	SubjectDocumentProcessed = "studio.documents.document.processed"
	// SubjectJobFailed: a job gave up (JobEvent with its error).
	SubjectJobFailed = "studio.documents.job.failed"
	// SubjectChunksExtracted: the text of a batch of a processed document's
	// chunks (ChunksEvent), appended with document.processed: what the ai
	// subgraph embeds, so it never reads documents' tables.
	SubjectChunksExtracted = "studio.documents.chunks.extracted"
)

// chunkBatchBytes bounds the chunk text of one ChunksEvent, well inside
// events.MaxPayload once JSON-encoded.
const chunkBatchBytes = 40 << 10

// ChunksEvent is the payload of chunks.extracted: some chunks of a document
// (Part of Parts), with what a reader of them needs to cite and scope them.
type ChunksEvent struct {
	DocumentID string      `json:"documentId"`
	JobID      string      `json:"jobId"`
	ProjectID  string      `json:"projectId"`
	EvidenceID *string     `json:"evidenceId,omitempty"`
	Filename   string      `json:"filename"`
	Part       int         `json:"part"`
	Parts      int         `json:"parts"`
	Chunks     []ChunkText `json:"chunks"`
}

// ChunkText is one chunk of a ChunksEvent.
type ChunkText struct {
	ID       string `json:"id"`
	Position int    `json:"position"`
	Content  string `json:"content"`
}

// chunkBatches splits a document's chunks into events of at most
// chunkBatchBytes of text each (a chunk is never split).
func chunkBatches(doc *model.Document, jobID string, ids []string, chunks []NewChunk) []ChunksEvent {
	var out []ChunksEvent
	size := 0
	for i, c := range chunks {
		if len(out) == 0 || (size+len(c.Content) > chunkBatchBytes && len(out[len(out)-1].Chunks) > 0) {
			out = append(out, ChunksEvent{DocumentID: doc.ID, JobID: jobID, ProjectID: doc.ProjectID, EvidenceID: doc.EvidenceID,
				Filename: doc.Filename, Part: len(out) + 1})
			size = 0
		}
		last := &out[len(out)-1]
		last.Chunks = append(last.Chunks, ChunkText{ID: ids[i], Position: c.Position, Content: c.Content})
		size += len(c.Content)
	}
	for i := range out {
		out[i].Parts = len(out)
	}
	return out
}

// ProcessedEvent is the payload of document.processed.
type ProcessedEvent struct {
	ID        string   `json:"id"`
	JobID     string   `json:"jobId"`
	ProjectID string   `json:"projectId"`
	ChunkIDs  []string `json:"chunkIds"`
}

// NewChunk is a chunk to store.
type NewChunk struct {
	Position, StartChar int
	Content             string
}

// StoredChunk is a stored chunk.
type StoredChunk struct {
	ID        string
	Position  int
	StartChar int
	Content   string
}

// StartJob takes job id of orgID for a worker: RUNNING, attempts + 1,
// progress 0, its document PROCESSING. It returns the job and its document;
// ErrNotFound when either is gone; done is true (and nothing changes) when
// the job already ended.
func (s *Store) StartJob(ctx context.Context, orgID, id string) (job *model.ProcessingJob, doc *model.Document, done bool, err error) {
	err = pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		job = new(model.ProcessingJob)
		err := tx.QueryRow(ctx, "SELECT "+jobCols+" FROM processing_jobs WHERE id = $1 AND org_id = $2 FOR UPDATE", id, orgID).Scan(jobFields(job)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("select job: %w", err)
		}
		doc = new(model.Document)
		err = tx.QueryRow(ctx, "SELECT "+documentCols+" FROM documents WHERE id = $1 AND org_id = $2", job.DocumentID, orgID).Scan(documentFields(doc)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("select document: %w", err)
		}
		if job.State == model.JobStateSucceeded || job.State == model.JobStateFailed {
			done = true
			return nil
		}
		err = tx.QueryRow(ctx, `UPDATE processing_jobs SET state = 'RUNNING', attempts = attempts + 1, progress = 0, error = NULL, updated_at = now()
			WHERE id = $1 RETURNING attempts, updated_at`, id).Scan(&job.Attempts, &job.UpdatedAt)
		if err != nil {
			return fmt.Errorf("start job: %w", err)
		}
		job.State, job.Progress, job.Error = model.JobStateRunning, 0, nil
		if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'PROCESSING' WHERE id = $1`, doc.ID); err != nil {
			return fmt.Errorf("document processing: %w", err)
		}
		doc.Status = model.DocumentStatusProcessing
		return nil
	})
	return job, doc, done, err
}

// SetProgress records a running job's progress (0–100).
func (s *Store) SetProgress(ctx context.Context, orgID, id string, progress int) error {
	_, err := s.Pool().Exec(ctx, `UPDATE processing_jobs SET progress = $3, updated_at = now() WHERE id = $1 AND org_id = $2 AND state = 'RUNNING'`,
		id, orgID, progress)
	if err != nil {
		return fmt.Errorf("job progress: %w", err)
	}
	return nil
}

// FinishJob replaces the document's chunks with chunks, marks the job
// SUCCEEDED (100) and the document PROCESSED, and appends the chunks'
// text (chunks.extracted, in batches) and document.processed with the
// chunk ids, in one transaction.
func (s *Store) FinishJob(ctx context.Context, job *model.ProcessingJob, doc *model.Document, chunks []NewChunk) ([]string, error) {
	ids := make([]string, len(chunks))
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1 AND org_id = $2`, doc.ID, doc.OrgID); err != nil {
			return fmt.Errorf("delete chunks: %w", err)
		}
		rows := make([][]any, len(chunks))
		for i, c := range chunks {
			ids[i] = newID()
			rows[i] = []any{ids[i], doc.OrgID, doc.ID, job.ID, c.Position, c.StartChar, c.Content}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"chunks"}, []string{"id", "org_id", "document_id", "job_id", "position", "start_char", "content"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("insert chunks: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE processing_jobs SET state = 'SUCCEEDED', progress = 100, error = NULL, updated_at = now() WHERE id = $1`, job.ID); err != nil {
			return fmt.Errorf("finish job: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'PROCESSED' WHERE id = $1`, doc.ID); err != nil {
			return fmt.Errorf("document processed: %w", err)
		}
		for _, b := range chunkBatches(doc, job.ID, ids, chunks) {
			if err := appendEvent(ctx, tx, SubjectChunksExtracted, doc.OrgID, b); err != nil {
				return err
			}
		}
		return appendEvent(ctx, tx, SubjectDocumentProcessed, doc.OrgID, ProcessedEvent{ID: doc.ID, JobID: job.ID, ProjectID: doc.ProjectID, ChunkIDs: ids})
	})
	return ids, err
}

// RetryJob puts a job back in the queue after a failed attempt, keeping why.
func (s *Store) RetryJob(ctx context.Context, orgID, id, reason string) error {
	_, err := s.Pool().Exec(ctx, `UPDATE processing_jobs SET state = 'QUEUED', error = $3, updated_at = now() WHERE id = $1 AND org_id = $2`,
		id, orgID, reason)
	if err != nil {
		return fmt.Errorf("retry job: %w", err)
	}
	return nil
}

// FailJob marks a job FAILED with reason and its document FAILED, and
// appends job.failed, in one transaction.
func (s *Store) FailJob(ctx context.Context, orgID, id, documentID, reason string) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE processing_jobs SET state = 'FAILED', error = $3, updated_at = now() WHERE id = $1 AND org_id = $2`,
			id, orgID, reason); err != nil {
			return fmt.Errorf("fail job: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'FAILED' WHERE id = $1 AND org_id = $2`, documentID, orgID); err != nil {
			return fmt.Errorf("document failed: %w", err)
		}
		return appendEvent(ctx, tx, SubjectJobFailed, orgID, JobEvent{ID: id, DocumentID: documentID, State: "FAILED", Error: reason})
	})
}

// Chunks returns up to limit chunks of document id of orgID, in position order (tests, tools).
func (s *Store) Chunks(ctx context.Context, orgID, id string, limit int) ([]StoredChunk, error) {
	rows, err := s.Pool().Query(ctx, `SELECT id::text, position, start_char, content FROM chunks WHERE document_id = $1 AND org_id = $2
		ORDER BY position LIMIT $3`, id, orgID, limit)
	if err != nil {
		return nil, fmt.Errorf("select chunks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredChunk, error) {
		var c StoredChunk
		return c, r.Scan(&c.ID, &c.Position, &c.StartChar, &c.Content)
	})
}

// LatestJob returns the newest processing job of document documentID in orgID
// (ErrNotFound when it has none or is not the organization's). One query.
func (s *Store) LatestJob(ctx context.Context, orgID, documentID string) (*model.ProcessingJob, error) {
	j := new(model.ProcessingJob)
	err := s.Pool().QueryRow(ctx, "SELECT "+jobCols+" FROM processing_jobs WHERE document_id = $1::uuid AND org_id = $2::uuid ORDER BY created_at DESC, id LIMIT 1",
		documentID, orgID).Scan(jobFields(j)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("latest job: %w", err)
	}
	return j, nil
}
