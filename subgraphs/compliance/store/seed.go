package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/demo"
)

// Seed inserts the demo project (SOC 2 and ISO/IEC 27001 in scope), its
// controls mapped onto both, and their evidence when absent (ON CONFLICT DO
// NOTHING: a row seeded once is left alone, so evidence dates stay relative
// to the first seed). Owners, submitters and the reviewer are demo users by
// fixed id. Each row inserted appends its events, as the mutations do, so
// consumers see the demo data like any other.
func (s *Store) Seed(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if err := seedProject(ctx, tx); err != nil {
			return fmt.Errorf("seed project: %w", err)
		}
		for _, dc := range demo.Controls() {
			if err := seedControl(ctx, tx, dc); err != nil {
				return fmt.Errorf("seed control %s: %w", dc.Code, err)
			}
		}
		now := time.Now().UTC().Truncate(time.Second)
		for _, de := range demo.EvidenceItems() {
			if err := seedEvidence(ctx, tx, de, now); err != nil {
				return fmt.Errorf("seed evidence %s: %w", de.Title, err)
			}
		}
		return nil
	})
}

func seedProject(ctx context.Context, tx pgx.Tx) error {
	p := &model.Project{ID: demo.ProjectID, OrgID: demo.OrgID, Name: demo.ProjectName, Description: demo.ProjectDescription,
		OwnerID: demo.DemoUser.ID, Version: 1}
	tag, err := tx.Exec(ctx, `INSERT INTO projects (id, org_id, name, description, owner_id)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, p.ID, p.OrgID, p.Name, p.Description, p.OwnerID)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	var fws []string
	for _, key := range demo.Frameworks() {
		fws = append(fws, FrameworkID(key))
	}
	if err := adopt(ctx, tx, p.OrgID, p.ID, fws); err != nil {
		return err
	}
	ids, err := projectFrameworkIDs(ctx, tx, p.ID)
	if err != nil {
		return err
	}
	return appendEvent(ctx, tx, SubjectProjectCreated, demo.OrgID, projectEvent(p, ids))
}

func seedControl(ctx context.Context, tx pgx.Tx, dc demo.Control) error {
	c := &model.Control{ID: dc.ID, OrgID: demo.OrgID, ProjectID: demo.ProjectID, Code: dc.Code, Title: dc.Title,
		Description: dc.Description, Status: model.ControlStatus(dc.Status), Version: 1}
	tag, err := tx.Exec(ctx, `INSERT INTO controls (id, org_id, project_id, code, title, description, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		c.ID, c.OrgID, c.ProjectID, c.Code, c.Title, c.Description, string(c.Status))
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	reqs := make([]string, len(dc.Requirements))
	for i, r := range dc.Requirements {
		reqs[i] = RequirementID(r.Framework, r.Code)
	}
	ids, err := mapControl(ctx, tx, c.OrgID, c.ID, reqs)
	if err != nil {
		return err
	}
	return appendEvent(ctx, tx, SubjectControlAdded, demo.OrgID, controlEvent(c, ids))
}

func seedEvidence(ctx context.Context, tx pgx.Tx, de demo.Evidence, now time.Time) error {
	e := &model.Evidence{ID: de.ID, OrgID: demo.OrgID, ControlID: de.ControlID, Title: de.Title, Description: de.Description,
		URL: &de.URL, SubmittedByID: &de.SubmittedBy, OwnerID: &de.Owner, Status: model.EvidenceStatusPending, Version: 1}
	if de.ExpiresInDays != nil {
		exp := now.AddDate(0, 0, *de.ExpiresInDays)
		e.ExpiresAt = &exp
	}
	err := tx.QueryRow(ctx, `INSERT INTO evidence (id, org_id, control_id, title, description, url, submitted_by, owner_id, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING created_at`,
		e.ID, e.OrgID, e.ControlID, e.Title, e.Description, e.URL, e.SubmittedByID, e.OwnerID, e.ExpiresAt).Scan(&e.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // seeded before
	}
	if err != nil {
		return err
	}
	if err := appendEvent(ctx, tx, SubjectEvidenceSubmitted, demo.OrgID, evidenceEvent(e)); err != nil {
		return err
	}
	if de.Status == string(model.EvidenceStatusPending) {
		return nil
	}
	reviewer := demo.DemoUser.ID
	e.Status, e.ReviewedByID, e.ReviewedAt, e.Version = model.EvidenceStatus(de.Status), &reviewer, &now, 2
	if _, err := tx.Exec(ctx, `UPDATE evidence SET status = $2, reviewed_by = $3, reviewed_at = $4, version = $5 WHERE id = $1`,
		e.ID, string(e.Status), reviewer, now, e.Version); err != nil {
		return err
	}
	return appendEvent(ctx, tx, SubjectEvidenceReviewed, demo.OrgID, evidenceEvent(e))
}
