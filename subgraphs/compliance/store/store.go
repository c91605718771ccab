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
	projectCols  = "id::text, org_id::text, name, description, owner_id::text, created_at"
	controlCols  = "id::text, org_id::text, project_id::text, code, title, description, framework, status"
	evidenceCols = "id::text, org_id::text, control_id::text, title, description, url, submitted_by::text, created_at"
)

func scanProject(row pgx.CollectableRow) (*model.Project, error) {
	var p model.Project
	err := row.Scan(&p.ID, &p.OrgID, &p.Name, &p.Description, &p.OwnerID, &p.CreatedAt)
	return &p, err
}

func scanControl(row pgx.CollectableRow) (*model.Control, error) {
	var c model.Control
	var status string
	err := row.Scan(&c.ID, &c.OrgID, &c.ProjectID, &c.Code, &c.Title, &c.Description, &c.Framework, &status)
	c.Status = model.ControlStatus(status)
	return &c, err
}

func scanEvidence(row pgx.CollectableRow) (*model.Evidence, error) {
	var e model.Evidence
	err := row.Scan(&e.ID, &e.OrgID, &e.ControlID, &e.Title, &e.Description, &e.URL, &e.SubmittedByID, &e.CreatedAt)
	return &e, err
}

func query[T any](ctx context.Context, s *Store, scan pgx.RowToFunc[*T], sql string, args ...any) ([]*T, error) {
	rows, err := s.Pool().Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return out, nil
}

// ProjectsByIDs returns projects of orgID in key order, nil where there is none. One query.
func (s *Store) ProjectsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Project, error) {
	ps, err := query(ctx, s, scanProject, "SELECT "+projectCols+" FROM projects WHERE id = ANY($1::uuid[]) AND org_id = $2::uuid", kit.UUIDs(ids), orgID)
	if err != nil {
		return nil, err
	}
	return kit.Order(ids, ps, func(p *model.Project) string { return p.ID }), nil
}

// ControlsByIDs returns controls of orgID in key order, nil where there is none. One query.
func (s *Store) ControlsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Control, error) {
	cs, err := query(ctx, s, scanControl, "SELECT "+controlCols+" FROM controls WHERE id = ANY($1::uuid[]) AND org_id = $2::uuid", kit.UUIDs(ids), orgID)
	if err != nil {
		return nil, err
	}
	return kit.Order(ids, cs, func(c *model.Control) string { return c.ID }), nil
}

// EvidenceByIDs returns evidence of orgID in key order, nil where there is none. One query.
func (s *Store) EvidenceByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Evidence, error) {
	es, err := query(ctx, s, scanEvidence, "SELECT "+evidenceCols+" FROM evidence WHERE id = ANY($1::uuid[]) AND org_id = $2::uuid", kit.UUIDs(ids), orgID)
	if err != nil {
		return nil, err
	}
	return kit.Order(ids, es, func(e *model.Evidence) string { return e.ID }), nil
}

// ProjectsInOrg returns the projects of orgID, newest first.
func (s *Store) ProjectsInOrg(ctx context.Context, orgID string) ([]*model.Project, error) {
	return query(ctx, s, scanProject, "SELECT "+projectCols+" FROM projects WHERE org_id = $1::uuid ORDER BY created_at DESC, id", orgID)
}

// ProjectsByOwnerIDs returns, per owner, the projects of orgID they own (newest first). One query.
func (s *Store) ProjectsByOwnerIDs(ctx context.Context, orgID string, ownerIDs []string) ([][]*model.Project, error) {
	ps, err := query(ctx, s, scanProject, "SELECT "+projectCols+" FROM projects WHERE owner_id = ANY($1::uuid[]) AND org_id = $2::uuid ORDER BY created_at DESC, id", kit.UUIDs(ownerIDs), orgID)
	if err != nil {
		return nil, err
	}
	return kit.Group(ownerIDs, ps, func(p *model.Project) string { return p.OwnerID }), nil
}

// ControlsByProjectIDs returns, per project, its controls ordered by framework and code. One query.
func (s *Store) ControlsByProjectIDs(ctx context.Context, orgID string, projectIDs []string) ([][]*model.Control, error) {
	cs, err := query(ctx, s, scanControl, "SELECT "+controlCols+" FROM controls WHERE project_id = ANY($1::uuid[]) AND org_id = $2::uuid ORDER BY framework, code, id", kit.UUIDs(projectIDs), orgID)
	if err != nil {
		return nil, err
	}
	return kit.Group(projectIDs, cs, func(c *model.Control) string { return c.ProjectID }), nil
}

// EvidenceByControlIDs returns, per control, its evidence oldest first. One query.
func (s *Store) EvidenceByControlIDs(ctx context.Context, orgID string, controlIDs []string) ([][]*model.Evidence, error) {
	es, err := query(ctx, s, scanEvidence, "SELECT "+evidenceCols+" FROM evidence WHERE control_id = ANY($1::uuid[]) AND org_id = $2::uuid ORDER BY created_at, id", kit.UUIDs(controlIDs), orgID)
	if err != nil {
		return nil, err
	}
	return kit.Group(controlIDs, es, func(e *model.Evidence) string { return e.ControlID }), nil
}

// CreateProject inserts p (ID, OrgID, Name, Description, OwnerID set) and fills CreatedAt.
func (s *Store) CreateProject(ctx context.Context, p *model.Project) error {
	err := s.Pool().QueryRow(ctx, `INSERT INTO projects (id, org_id, name, description, owner_id)
		VALUES ($1, $2, $3, $4, $5) RETURNING created_at`, p.ID, p.OrgID, p.Name, p.Description, p.OwnerID).Scan(&p.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert project: %w", err)
	}
	return nil
}

// AddControl inserts c into its project, which must belong to c.OrgID
// (ErrNotFound otherwise); ErrDuplicate when the project has the code already.
func (s *Store) AddControl(ctx context.Context, c *model.Control) error {
	tag, err := s.Pool().Exec(ctx, `INSERT INTO controls (id, org_id, project_id, code, title, description, framework, status)
		SELECT $1, $2, p.id, $4, $5, $6, $7, $8 FROM projects p WHERE p.id = $3 AND p.org_id = $2`,
		c.ID, c.OrgID, c.ProjectID, c.Code, c.Title, c.Description, c.Framework, string(c.Status))
	if isUniqueViolation(err) {
		return ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("insert control: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AddEvidence inserts e for its control, which must belong to e.OrgID
// (ErrNotFound otherwise), and fills CreatedAt.
func (s *Store) AddEvidence(ctx context.Context, e *model.Evidence) error {
	err := s.Pool().QueryRow(ctx, `INSERT INTO evidence (id, org_id, control_id, title, description, url, submitted_by)
		SELECT $1, $2, c.id, $4, $5, $6, $7 FROM controls c WHERE c.id = $3 AND c.org_id = $2
		RETURNING created_at`,
		e.ID, e.OrgID, e.ControlID, e.Title, e.Description, e.URL, e.SubmittedByID).Scan(&e.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("insert evidence: %w", err)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
