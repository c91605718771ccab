package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/demo"
)

// Seed inserts the demo organization and users when absent (ON CONFLICT DO
// NOTHING); existing rows, including changed passwords, are left alone. Each
// row inserted appends its created event, like a sign-up.
// passwordHash is the hash of demo.Password.
func (s *Store) Seed(ctx context.Context, passwordHash string) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, slug) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, demo.OrgID, demo.OrgName, demo.OrgSlug)
		if err != nil {
			return fmt.Errorf("seed organization: %w", err)
		}
		if tag.RowsAffected() == 1 {
			if err := appendEvent(ctx, tx, SubjectOrganizationCreated, demo.OrgID,
				OrganizationCreated{ID: demo.OrgID, Name: demo.OrgName, Slug: demo.OrgSlug}); err != nil {
				return err
			}
		}
		for _, u := range demo.Users() {
			tag, err := tx.Exec(ctx, `INSERT INTO users (id, org_id, email, name, role, password_hash)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
				u.ID, demo.OrgID, u.Email, u.Name, u.Role, passwordHash)
			if err != nil {
				return fmt.Errorf("seed user %s: %w", u.Email, err)
			}
			if tag.RowsAffected() == 1 {
				if err := appendEvent(ctx, tx, SubjectUserCreated, demo.OrgID, userCreated(u.ID, demo.OrgID, u.Email, u.Name, u.Role)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
