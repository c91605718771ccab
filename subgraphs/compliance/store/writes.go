package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// ErrUnknownReference is returned for a framework or requirement id that is
// not in the catalog.
var ErrUnknownReference = errors.New("unknown framework or requirement")

// Every write below runs in one transaction with the event it appends
// (internal/events): both commit or neither does. Each is scoped by the
// organization of the entity it writes.

// CreateProject inserts p (ID, OrgID, Name, Description, OwnerID set) with
// the frameworks frameworkIDs in scope, fills CreatedAt and Version, and
// appends project.created.
func (s *Store) CreateProject(ctx context.Context, p *model.Project, frameworkIDs []string) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO projects (id, org_id, name, description, owner_id)
			VALUES ($1, $2, $3, $4, $5) RETURNING created_at, version`, p.ID, p.OrgID, p.Name, p.Description, p.OwnerID).Scan(&p.CreatedAt, &p.Version)
		if err != nil {
			return fmt.Errorf("insert project: %w", err)
		}
		if err := adopt(ctx, tx, p.OrgID, p.ID, frameworkIDs); err != nil {
			return err
		}
		ids, err := projectFrameworkIDs(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		return appendEvent(ctx, tx, SubjectProjectCreated, p.OrgID, projectEvent(p, ids))
	})
}

// adopt puts frameworkIDs in project's scope (already there: ignored);
// ErrUnknownReference when one is not in the catalog.
func adopt(ctx context.Context, tx pgx.Tx, orgID, projectID string, frameworkIDs []string) error {
	if len(frameworkIDs) == 0 {
		return nil
	}
	ids := kit.UUIDs(frameworkIDs)
	var known int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM frameworks WHERE id = ANY($1::uuid[])`, ids).Scan(&known); err != nil {
		return fmt.Errorf("check frameworks: %w", err)
	}
	if known != len(ids) || len(ids) != len(dedup(frameworkIDs)) {
		return ErrUnknownReference
	}
	if _, err := tx.Exec(ctx, `INSERT INTO project_frameworks (org_id, project_id, framework_id)
		SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING`, orgID, projectID, ids); err != nil {
		return fmt.Errorf("adopt frameworks: %w", err)
	}
	return nil
}

// AdoptFramework brings frameworkID into the scope of project projectID of
// orgID and appends project.framework_adopted (nothing when it already was in
// scope). ErrNotFound for a project of another organization,
// ErrUnknownReference for a framework not in the catalog.
func (s *Store) AdoptFramework(ctx context.Context, orgID, projectID, frameworkID string) (*model.Project, error) {
	var p *model.Project
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT "+projectCols+" FROM projects WHERE id = $1 AND org_id = $2 FOR UPDATE", projectID, orgID)
		if err != nil {
			return fmt.Errorf("lock project: %w", err)
		}
		p, err = pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (*model.Project, error) {
			p := new(model.Project)
			return p, row.Scan(projectFields(p)...)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("lock project: %w", err)
		}
		before, err := projectFrameworkIDs(ctx, tx, projectID)
		if err != nil {
			return err
		}
		if err := adopt(ctx, tx, orgID, projectID, []string{frameworkID}); err != nil {
			return err
		}
		after, err := projectFrameworkIDs(ctx, tx, projectID)
		if err != nil || len(after) == len(before) {
			return err
		}
		if err := tx.QueryRow(ctx, `UPDATE projects SET version = version + 1 WHERE id = $1 RETURNING version`, projectID).Scan(&p.Version); err != nil {
			return fmt.Errorf("bump project version: %w", err)
		}
		return appendEvent(ctx, tx, SubjectProjectFrameworkAdopted, orgID, projectEvent(p, after))
	})
	return p, err
}

// AddControl inserts c into its project, which must belong to c.OrgID
// (ErrNotFound otherwise), maps it to requirementIDs (ErrUnknownReference
// for one not in the catalog), fills Version and appends control.added;
// ErrDuplicate when the project has the code already.
func (s *Store) AddControl(ctx context.Context, c *model.Control, requirementIDs []string) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO controls (id, org_id, project_id, code, title, description, framework, status)
			SELECT $1, $2, p.id, $4, $5, $6, $7, $8 FROM projects p WHERE p.id = $3 AND p.org_id = $2
			RETURNING version`,
			c.ID, c.OrgID, c.ProjectID, c.Code, c.Title, c.Description, c.Framework, string(c.Status)).Scan(&c.Version)
		switch {
		case isUniqueViolation(err):
			return ErrDuplicate
		case errors.Is(err, pgx.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return fmt.Errorf("insert control: %w", err)
		}
		ids, err := mapControl(ctx, tx, c.OrgID, c.ID, requirementIDs)
		if err != nil {
			return err
		}
		return appendEvent(ctx, tx, SubjectControlAdded, c.OrgID, controlEvent(c, ids))
	})
}

// mapControl replaces control's mappings with requirementIDs and returns
// them sorted; ErrUnknownReference for one not in the catalog.
func mapControl(ctx context.Context, tx pgx.Tx, orgID, controlID string, requirementIDs []string) ([]string, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM control_requirements WHERE control_id = $1 AND org_id = $2`, controlID, orgID); err != nil {
		return nil, fmt.Errorf("unmap control: %w", err)
	}
	if len(requirementIDs) > 0 {
		ids := kit.UUIDs(requirementIDs)
		if len(ids) != len(dedup(requirementIDs)) {
			return nil, ErrUnknownReference
		}
		tag, err := tx.Exec(ctx, `INSERT INTO control_requirements (org_id, control_id, requirement_id)
			SELECT $1, $2, r.id FROM requirements r WHERE r.id = ANY($3::uuid[])`, orgID, controlID, ids)
		if err != nil {
			return nil, fmt.Errorf("map control: %w", err)
		}
		if int(tag.RowsAffected()) != len(ids) {
			return nil, ErrUnknownReference
		}
	}
	return controlRequirementIDs(ctx, tx, controlID)
}

// UpdateControl sets the status of control id of orgID (nil: unchanged) and,
// when requirementIDs is not nil, replaces its mappings; it bumps Version and
// appends control.updated. ErrNotFound for a control of another organization.
func (s *Store) UpdateControl(ctx context.Context, orgID, id string, status *model.ControlStatus, requirementIDs []string) (*model.Control, error) {
	var c *model.Control
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		var st *string
		if status != nil {
			v := string(*status)
			st = &v
		}
		rows, err := tx.Query(ctx, `UPDATE controls SET status = coalesce($3, status), version = version + 1
			WHERE id = $1 AND org_id = $2 RETURNING `+controlCols, id, orgID, st)
		if err != nil {
			return fmt.Errorf("update control: %w", err)
		}
		c, err = pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (*model.Control, error) {
			c := new(model.Control)
			return c, row.Scan(controlFields(c)...)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("update control: %w", err)
		}
		var ids []string
		if requirementIDs != nil {
			ids, err = mapControl(ctx, tx, orgID, id, requirementIDs)
		} else {
			ids, err = controlRequirementIDs(ctx, tx, id)
		}
		if err != nil {
			return err
		}
		return appendEvent(ctx, tx, SubjectControlUpdated, orgID, controlEvent(c, ids))
	})
	return c, err
}

// AddEvidence inserts e (PENDING) for its control, which must belong to
// e.OrgID (ErrNotFound otherwise), fills CreatedAt, Status and Version, and
// appends evidence.submitted.
func (s *Store) AddEvidence(ctx context.Context, e *model.Evidence) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO evidence (id, org_id, control_id, title, description, url, submitted_by, owner_id, expires_at)
			SELECT $1, $2, c.id, $4, $5, $6, $7, $8, $9 FROM controls c WHERE c.id = $3 AND c.org_id = $2
			RETURNING created_at, status, version`,
			e.ID, e.OrgID, e.ControlID, e.Title, e.Description, e.URL, e.SubmittedByID, e.OwnerID, e.ExpiresAt).Scan(&e.CreatedAt, &e.Status, &e.Version)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("insert evidence: %w", err)
		}
		return appendEvent(ctx, tx, SubjectEvidenceSubmitted, e.OrgID, evidenceEvent(e))
	})
}

// ReviewEvidence records reviewer's decision (ACCEPTED or REJECTED) on
// evidence id of orgID, sets its expiry when expiresAt is not nil, bumps
// Version and appends evidence.reviewed. ErrNotFound for evidence of another
// organization.
func (s *Store) ReviewEvidence(ctx context.Context, orgID, id string, status model.EvidenceStatus, reviewer string, expiresAt *time.Time) (*model.Evidence, error) {
	var e *model.Evidence
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE evidence SET status = $3, reviewed_by = $4, reviewed_at = now(),
			expires_at = coalesce($5, expires_at), version = version + 1
			WHERE id = $1 AND org_id = $2 RETURNING `+evidenceCols, id, orgID, string(status), reviewer, expiresAt)
		if err != nil {
			return fmt.Errorf("review evidence: %w", err)
		}
		e, err = pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (*model.Evidence, error) {
			e := new(model.Evidence)
			return e, row.Scan(evidenceFields(e)...)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("review evidence: %w", err)
		}
		return appendEvent(ctx, tx, SubjectEvidenceReviewed, orgID, evidenceEvent(e))
	})
	return e, err
}

func projectFrameworkIDs(ctx context.Context, tx pgx.Tx, projectID string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT framework_id::text FROM project_frameworks WHERE project_id = $1 ORDER BY 1`, projectID)
	if err != nil {
		return nil, fmt.Errorf("project frameworks: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("project frameworks: %w", err)
	}
	return ids, nil
}

func controlRequirementIDs(ctx context.Context, tx pgx.Tx, controlID string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT requirement_id::text FROM control_requirements WHERE control_id = $1 ORDER BY 1`, controlID)
	if err != nil {
		return nil, fmt.Errorf("control requirements: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("control requirements: %w", err)
	}
	return ids, nil
}

func dedup(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
