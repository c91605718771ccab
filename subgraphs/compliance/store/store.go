// Package store is compliance's PostgreSQL storage (schema "compliance"):
// projects, controls and evidence. Every read and write is scoped by an
// organization id.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Schema is the Postgres schema compliance owns.
const Schema = "compliance"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migrations (the *.sql files at its root).
func Migrations() fs.FS { return pg.Dir(migrationFiles, "migrations") }

// Errors.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
)

// Store reads and writes compliance's tables.
type Store struct {
	*pg.DB
}

// New returns the store on db (opened on Schema with Migrations, e.g. by kit.Open).
func New(db *pg.DB) *Store { return &Store{DB: db} }

const (
	projectCols  = "id::text, org_id::text, name, description, owner_id::text, created_at, version"
	controlCols  = "id::text, org_id::text, project_id::text, code, title, description, framework, status, version"
	evidenceCols = "id::text, org_id::text, control_id::text, title, description, url, submitted_by::text, created_at, " +
		"owner_id::text, status, reviewed_by::text, reviewed_at, expires_at, version"
)

func projectFields(p *model.Project) []any {
	return []any{&p.ID, &p.OrgID, &p.Name, &p.Description, &p.OwnerID, &p.CreatedAt, &p.Version}
}

func controlFields(c *model.Control) []any {
	return []any{&c.ID, &c.OrgID, &c.ProjectID, &c.Code, &c.Title, &c.Description, &c.Framework, &c.Status, &c.Version}
}

func evidenceFields(e *model.Evidence) []any {
	return []any{&e.ID, &e.OrgID, &e.ControlID, &e.Title, &e.Description, &e.URL, &e.SubmittedByID, &e.CreatedAt,
		&e.OwnerID, &e.Status, &e.ReviewedByID, &e.ReviewedAt, &e.ExpiresAt, &e.Version}
}

// byIDs returns the rows of table with the given ids in orgID, in key order,
// nil where there is none. One query.
func byIDs[T any](ctx context.Context, s *Store, cols, table string, fields func(*T) []any, id func(*T) string, orgID string, ids []string) ([]*T, error) {
	rows, err := s.Pool().Query(ctx, "SELECT "+cols+" FROM "+table+" WHERE id = ANY($1::uuid[]) AND org_id = $2::uuid", kit.UUIDs(ids), orgID)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", table, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*T, error) {
		t := new(T)
		return t, row.Scan(fields(t)...)
	})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", table, err)
	}
	return kit.Order(ids, items, id), nil
}

// ProjectsByIDs returns projects of orgID in key order, nil where there is none. One query.
func (s *Store) ProjectsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Project, error) {
	return byIDs(ctx, s, projectCols, "projects", projectFields, func(p *model.Project) string { return p.ID }, orgID, ids)
}

// ControlsByIDs returns controls of orgID in key order, nil where there is none. One query.
func (s *Store) ControlsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Control, error) {
	return byIDs(ctx, s, controlCols, "controls", controlFields, func(c *model.Control) string { return c.ID }, orgID, ids)
}

// EvidenceByIDs returns evidence of orgID in key order, nil where there is none. One query.
func (s *Store) EvidenceByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Evidence, error) {
	return byIDs(ctx, s, evidenceCols, "evidence", evidenceFields, func(e *model.Evidence) string { return e.ID }, orgID, ids)
}

// The lists, each scoped by organization ($2).
var (
	projectsOfOrg     = kit.PageQuery{Select: projectCols, From: "projects", Key: "org_id", Where: "org_id = $2::uuid", Order: "created_at DESC, id"}
	projectsOfOwner   = kit.PageQuery{Select: projectCols, From: "projects", Key: "owner_id", Where: "org_id = $2::uuid", Order: "created_at DESC, id"}
	controlsOfProject = kit.PageQuery{Select: controlCols, From: "controls", Key: "project_id", Where: "org_id = $2::uuid", Order: "code, framework, id"}
	evidenceOfControl = kit.PageQuery{Select: evidenceCols, From: "evidence", Key: "control_id", Where: "org_id = $2::uuid", Order: "created_at, id"}
)

// ProjectsInOrg returns page p of orgID's projects, newest first. One query.
func (s *Store) ProjectsInOrg(ctx context.Context, orgID string, p kit.Page) (*model.ProjectConnection, error) {
	cs, err := kit.Pages(ctx, s.Pool(), projectsOfOrg, []kit.PageKey{{ID: orgID, Page: p}}, projectFields, orgID)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// ProjectsByOwnerIDs returns, per key, a page of the projects of orgID its
// owner owns (newest first). One query.
func (s *Store) ProjectsByOwnerIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.ProjectConnection, error) {
	return kit.Pages(ctx, s.Pool(), projectsOfOwner, keys, projectFields, orgID)
}

// ControlsByProjectIDs returns, per key, a page of its project's controls
// ordered by framework and code. One query.
func (s *Store) ControlsByProjectIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.ControlConnection, error) {
	return kit.Pages(ctx, s.Pool(), controlsOfProject, keys, controlFields, orgID)
}

// EvidenceByControlIDs returns, per key, a page of its control's evidence,
// oldest first. One query.
func (s *Store) EvidenceByControlIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.EvidenceConnection, error) {
	return kit.Pages(ctx, s.Pool(), evidenceOfControl, keys, evidenceFields, orgID)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
