package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/demo"
)

// Seed inserts the demo organization and users when absent (ON CONFLICT DO
// NOTHING); existing rows, including changed passwords, are left alone.
// passwordHash is the hash of demo.Password.
func (s *Store) Seed(ctx context.Context, passwordHash string) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, slug) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, demo.OrgID, demo.OrgName, demo.OrgSlug); err != nil {
			return fmt.Errorf("seed organization: %w", err)
		}
		for _, u := range demo.Users() {
			if _, err := tx.Exec(ctx, `INSERT INTO users (id, org_id, email, name, role, password_hash)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
				u.ID, demo.OrgID, u.Email, u.Name, u.Role, passwordHash); err != nil {
				return fmt.Errorf("seed user %s: %w", u.Email, err)
			}
		}
		return nil
	})
}
