package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/demo"
)

// Seed inserts the demo project, its SOC 2 controls and evidence when absent
// (ON CONFLICT DO NOTHING). Owners and submitters are demo users by fixed id.
func (s *Store) Seed(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO projects (id, org_id, name, description, owner_id)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			demo.ProjectID, demo.OrgID, demo.ProjectName, demo.ProjectDescription, demo.DemoUser.ID); err != nil {
			return fmt.Errorf("seed project: %w", err)
		}
		for _, c := range demo.Controls() {
			if _, err := tx.Exec(ctx, `INSERT INTO controls (id, org_id, project_id, code, title, description, framework, status)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
				c.ID, demo.OrgID, demo.ProjectID, c.Code, c.Title, c.Description, demo.Framework, c.Status); err != nil {
				return fmt.Errorf("seed control %s: %w", c.Code, err)
			}
		}
		for _, e := range demo.EvidenceItems() {
			if _, err := tx.Exec(ctx, `INSERT INTO evidence (id, org_id, control_id, title, description, url, submitted_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
				e.ID, demo.OrgID, e.ControlID, e.Title, e.Description, e.URL, e.SubmittedBy); err != nil {
				return fmt.Errorf("seed evidence %s: %w", e.Title, err)
			}
		}
		return nil
	})
}
