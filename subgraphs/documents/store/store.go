// Package store is the documents subgraph's PostgreSQL storage (schema
// "documents"): documents' metadata, pending presigned uploads, processing
// jobs and the chunks of extracted text. Every read and write is scoped by
// an organization id. The bytes are in object storage (package objects).
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Schema is the Postgres schema the documents subgraph owns.
const Schema = "documents"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migrations (the *.sql files at its root).
func Migrations() fs.FS { return pg.Dir(migrationFiles, "migrations") }

// ErrNotFound is returned for a row absent from the caller's organization.
var ErrNotFound = errors.New("not found")

// Store reads and writes the documents subgraph's tables.
type Store struct {
	*pg.DB
}

// New returns the store on db (opened on Schema with Migrations, e.g. by kit.Open).
func New(db *pg.DB) *Store { return &Store{DB: db} }

const (
	documentCols = "id::text, org_id::text, project_id::text, evidence_id::text, uploaded_by::text, filename, content_type, size, sha256, object_key, status, created_at"
	jobCols      = "id::text, org_id::text, document_id::text, state, progress, attempts, error, created_at, updated_at"
)

func documentFields(d *model.Document) []any {
	return []any{&d.ID, &d.OrgID, &d.ProjectID, &d.EvidenceID, &d.UploadedByID, &d.Filename, &d.ContentType,
		&d.Size, &d.Sha256, &d.ObjectKey, &d.Status, &d.CreatedAt}
}

func jobFields(j *model.ProcessingJob) []any {
	return []any{&j.ID, &j.OrgID, &j.DocumentID, &j.State, &j.Progress, &j.Attempts, &j.Error, &j.CreatedAt, &j.UpdatedAt}
}

// DocumentsByIDs returns documents of orgID in key order, nil where there is none. One query.
func (s *Store) DocumentsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Document, error) {
	return kit.ByIDs(ctx, s.Pool(), documentCols, "documents", documentFields, func(d *model.Document) string { return d.ID }, orgID, ids)
}

// JobsByIDs returns processing jobs of orgID in key order, nil where there is none. One query.
func (s *Store) JobsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.ProcessingJob, error) {
	return kit.ByIDs(ctx, s.Pool(), jobCols, "processing_jobs", jobFields, func(j *model.ProcessingJob) string { return j.ID }, orgID, ids)
}

// The lists, each scoped by organization ($2).
var (
	documentsOfProject  = kit.PageQuery{Select: documentCols, From: "documents", Key: "project_id", Where: "org_id = $2::uuid", Order: "created_at DESC, id"}
	documentsOfEvidence = kit.PageQuery{Select: documentCols, From: "documents", Key: "evidence_id", Where: "org_id = $2::uuid", Order: "created_at DESC, id"}
	jobsOfDocument      = kit.PageQuery{Select: jobCols, From: "processing_jobs", Key: "document_id", Where: "org_id = $2::uuid", Order: "created_at DESC, id"}
)

// DocumentsByProjectIDs returns, per key, a page of its project's documents, newest first. One query.
func (s *Store) DocumentsByProjectIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.DocumentConnection, error) {
	return kit.Pages(ctx, s.Pool(), documentsOfProject, keys, documentFields, orgID)
}

// DocumentsByEvidenceIDs returns, per key, a page of the documents attached to it, newest first. One query.
func (s *Store) DocumentsByEvidenceIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.DocumentConnection, error) {
	return kit.Pages(ctx, s.Pool(), documentsOfEvidence, keys, documentFields, orgID)
}

// JobsByDocumentIDs returns, per key, a page of its document's jobs, newest first. One query.
func (s *Store) JobsByDocumentIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.ProcessingJobConnection, error) {
	return kit.Pages(ctx, s.Pool(), jobsOfDocument, keys, jobFields, orgID)
}

// CreateDocument inserts d (everything but CreatedAt set, Status UPLOADED)
// with its first processing job, and appends document.uploaded and
// job.queued, in one transaction. It fills d.CreatedAt and returns the job.
func (s *Store) CreateDocument(ctx context.Context, d *model.Document) (*model.ProcessingJob, error) {
	var job *model.ProcessingJob
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		var err error
		job, err = insertDocument(ctx, tx, d)
		return err
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}

func insertDocument(ctx context.Context, tx pgx.Tx, d *model.Document) (*model.ProcessingJob, error) {
	err := tx.QueryRow(ctx, `INSERT INTO documents (id, org_id, project_id, evidence_id, uploaded_by, filename, content_type, size, sha256, object_key, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING created_at`,
		d.ID, d.OrgID, d.ProjectID, d.EvidenceID, d.UploadedByID, d.Filename, d.ContentType, d.Size, d.Sha256, d.ObjectKey,
		string(d.Status)).Scan(&d.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("insert document: %w", err)
	}
	if err := appendEvent(ctx, tx, SubjectDocumentUploaded, d.OrgID, documentEvent(d)); err != nil {
		return nil, err
	}
	return queueJob(ctx, tx, d)
}

// queueJob inserts a QUEUED job for d and appends job.queued.
func queueJob(ctx context.Context, tx pgx.Tx, d *model.Document) (*model.ProcessingJob, error) {
	j := &model.ProcessingJob{ID: newID(), OrgID: d.OrgID, DocumentID: d.ID, State: model.JobStateQueued}
	err := tx.QueryRow(ctx, `INSERT INTO processing_jobs (id, org_id, document_id, state) VALUES ($1, $2, $3, $4)
		RETURNING created_at, updated_at`, j.ID, j.OrgID, j.DocumentID, string(j.State)).Scan(&j.CreatedAt, &j.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("insert job: %w", err)
	}
	if err := appendEvent(ctx, tx, SubjectJobQueued, d.OrgID, JobEvent{ID: j.ID, DocumentID: d.ID, State: string(j.State)}); err != nil {
		return nil, err
	}
	return j, nil
}

// Reprocess queues a new job for document id of orgID (ErrNotFound when
// absent) and appends job.queued.
func (s *Store) Reprocess(ctx context.Context, orgID, id string) (*model.ProcessingJob, error) {
	var job *model.ProcessingJob
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		d := new(model.Document)
		err := tx.QueryRow(ctx, "SELECT "+documentCols+" FROM documents WHERE id = $1 AND org_id = $2 FOR UPDATE", id, orgID).
			Scan(documentFields(d)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("select document: %w", err)
		}
		job, err = queueJob(ctx, tx, d)
		return err
	})
	return job, err
}

// Pending is a presigned upload between requestUpload and completeUpload.
type Pending struct {
	ID, OrgID, ProjectID string
	EvidenceID           *string
	UploadedByID         string
	Filename             string
	Size                 int64
	ObjectKey            string
	ExpiresAt            time.Time
}

// CreatePending records p.
func (s *Store) CreatePending(ctx context.Context, p *Pending) error {
	_, err := s.Pool().Exec(ctx, `INSERT INTO pending_uploads (id, org_id, project_id, evidence_id, uploaded_by, filename, size, object_key, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.ID, p.OrgID, p.ProjectID, p.EvidenceID, p.UploadedByID, p.Filename, p.Size, p.ObjectKey, p.ExpiresAt)
	if err != nil {
		return fmt.Errorf("insert pending upload: %w", err)
	}
	return nil
}

// PendingUpload returns pending upload id of orgID (ErrNotFound when absent).
func (s *Store) PendingUpload(ctx context.Context, orgID, id string) (*Pending, error) {
	p := new(Pending)
	err := s.Pool().QueryRow(ctx, `SELECT id::text, org_id::text, project_id::text, evidence_id::text, uploaded_by::text, filename, size, object_key, expires_at
		FROM pending_uploads WHERE id = $1 AND org_id = $2`, id, orgID).
		Scan(&p.ID, &p.OrgID, &p.ProjectID, &p.EvidenceID, &p.UploadedByID, &p.Filename, &p.Size, &p.ObjectKey, &p.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("select pending upload: %w", err)
	}
	return p, nil
}

// DeletePending forgets pending upload id of orgID.
func (s *Store) DeletePending(ctx context.Context, orgID, id string) error {
	if _, err := s.Pool().Exec(ctx, `DELETE FROM pending_uploads WHERE id = $1 AND org_id = $2`, id, orgID); err != nil {
		return fmt.Errorf("delete pending upload: %w", err)
	}
	return nil
}

// CompletePending turns pending upload d.ID into document d (as
// CreateDocument) in one transaction: ErrNotFound when another completion
// took it first.
func (s *Store) CompletePending(ctx context.Context, d *model.Document) (*model.ProcessingJob, error) {
	var job *model.ProcessingJob
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM pending_uploads WHERE id = $1 AND org_id = $2`, d.ID, d.OrgID)
		if err != nil {
			return fmt.Errorf("delete pending upload: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		job, err = insertDocument(ctx, tx, d)
		return err
	})
	return job, err
}

// Counts returns how many documents and pending uploads orgID has (tests, tools).
func (s *Store) Counts(ctx context.Context, orgID string) (documents, pending int, err error) {
	err = s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM documents WHERE org_id = $1),
		(SELECT count(*) FROM pending_uploads WHERE org_id = $1)`, orgID).Scan(&documents, &pending)
	if err != nil {
		return 0, 0, fmt.Errorf("count documents: %w", err)
	}
	return documents, pending, nil
}
