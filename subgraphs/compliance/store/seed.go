package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/demo"
)

// Seed inserts the demo project, its SOC 2 controls and evidence when absent
// (ON CONFLICT DO NOTHING). Owners and submitters are demo users by fixed id.
// Each row inserted appends its event, as the mutations do, so consumers see
// the demo data like any other.
func (s *Store) Seed(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		p := &model.Project{ID: demo.ProjectID, OrgID: demo.OrgID, Name: demo.ProjectName, Description: demo.ProjectDescription, OwnerID: demo.DemoUser.ID}
		if err := seedRow(ctx, tx, `INSERT INTO projects (id, org_id, name, description, owner_id)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			[]any{p.ID, p.OrgID, p.Name, p.Description, p.OwnerID}, SubjectProjectCreated, projectEvent(p)); err != nil {
			return fmt.Errorf("seed project: %w", err)
		}
		for _, dc := range demo.Controls() {
			c := &model.Control{ID: dc.ID, OrgID: demo.OrgID, ProjectID: demo.ProjectID, Code: dc.Code, Title: dc.Title,
				Description: dc.Description, Framework: demo.Framework, Status: model.ControlStatus(dc.Status)}
			if err := seedRow(ctx, tx, `INSERT INTO controls (id, org_id, project_id, code, title, description, framework, status)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
				[]any{c.ID, c.OrgID, c.ProjectID, c.Code, c.Title, c.Description, c.Framework, string(c.Status)},
				SubjectControlAdded, controlEvent(c)); err != nil {
				return fmt.Errorf("seed control %s: %w", c.Code, err)
			}
		}
		for _, de := range demo.EvidenceItems() {
			e := &model.Evidence{ID: de.ID, OrgID: demo.OrgID, ControlID: de.ControlID, Title: de.Title,
				Description: de.Description, URL: &de.URL, SubmittedByID: &de.SubmittedBy}
			if err := seedRow(ctx, tx, `INSERT INTO evidence (id, org_id, control_id, title, description, url, submitted_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
				[]any{e.ID, e.OrgID, e.ControlID, e.Title, e.Description, e.URL, e.SubmittedByID},
				SubjectEvidenceSubmitted, evidenceEvent(e)); err != nil {
				return fmt.Errorf("seed evidence %s: %w", e.Title, err)
			}
		}
		return nil
	})
}

// seedRow runs an INSERT … ON CONFLICT DO NOTHING and, when it inserted the
// row, appends its event (of the demo organization).
func seedRow(ctx context.Context, tx pgx.Tx, sql string, args []any, subject string, payload any) error {
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	return appendEvent(ctx, tx, subject, demo.OrgID, payload)
}
