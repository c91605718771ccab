package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/policy/rbac"
)

// demoBindings are the demo users' roles: the demo user owns Acme, Alice
// contributes, Bob audits.
var demoBindings = []struct {
	bindingID, userID, role string
}{
	{"00000000-0000-4000-8000-000000000601", demo.DemoUser.ID, rbac.Owner},
	{"00000000-0000-4000-8000-000000000602", demo.Alice.ID, rbac.Contributor},
	{"00000000-0000-4000-8000-000000000603", demo.Bob.ID, rbac.Auditor},
}

// Seed binds the demo users (idempotent: ON CONFLICT DO NOTHING, audited
// and announced only when inserted). The seed decides the demo roles: other
// bindings of the demo users that the platform made (granted by nobody, e.g.
// by the new-user consumer from identity's seed events) are removed.
func (s *Store) Seed(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		// The new-user consumer's lock (BindNewUser): it runs wholly before or after.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ownerLock(demo.OrgID)); err != nil {
			return fmt.Errorf("seed: lock organization: %w", err)
		}
		for _, b := range demoBindings {
			role, _ := rbac.BuiltInByName(b.role)
			rows, err := tx.Query(ctx, `DELETE FROM role_bindings WHERE org_id = $1 AND subject_id = $2 AND granted_by IS NULL AND id <> $3
				RETURNING id::text, role_id::text, scope`, demo.OrgID, b.userID, b.bindingID)
			if err != nil {
				return fmt.Errorf("seed: replace role bindings: %w", err)
			}
			type gone struct{ id, roleID, scope string }
			removed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gone, error) {
				var g gone
				return g, r.Scan(&g.id, &g.roleID, &g.scope)
			})
			if err != nil {
				return fmt.Errorf("seed: replace role bindings: %w", err)
			}
			for _, g := range removed {
				doc := map[string]any{"id": g.id, "subjectId": b.userID, "roleId": g.roleID, "scope": g.scope}
				if err := record(ctx, tx, demo.OrgID, nil, "rolebinding.deleted", "RoleBinding", g.id, doc, nil); err != nil {
					return err
				}
			}
			tag, err := tx.Exec(ctx, `INSERT INTO role_bindings (id, org_id, subject_id, role_id, scope)
				VALUES ($1, $2, $3, $4, 'ORGANIZATION') ON CONFLICT DO NOTHING`, b.bindingID, demo.OrgID, b.userID, role.ID)
			if err != nil {
				return fmt.Errorf("seed role binding: %w", err)
			}
			if tag.RowsAffected() > 0 {
				doc := map[string]any{"id": b.bindingID, "subjectId": b.userID, "roleId": role.ID, "role": role.Name, "scope": "ORGANIZATION"}
				if err := record(ctx, tx, demo.OrgID, nil, "rolebinding.created", "RoleBinding", b.bindingID, nil, doc); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
