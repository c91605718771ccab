// Package store is policy's PostgreSQL storage (schema "policy"): custom
// roles, role bindings, policies and the append-only audit log. Every
// statement is scoped by an organization id. Every change writes, in its
// transaction, an audit row and an outbox event (internal/events) that the
// decision cache's invalidation consumer reads.
package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/subgraphs/kit"
	"github.com/studio-platform/studio/subgraphs/policy/graph/model"
	"github.com/studio-platform/studio/subgraphs/policy/rbac"
)

// Schema is the Postgres schema policy owns.
const Schema = "policy"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migrations (the *.sql files at its root);
// kit.Open adds the events outbox's.
func Migrations() fs.FS { return pg.Dir(migrationFiles, "migrations") }

// Errors.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
)

// ChangeSubjectPrefix is the subject prefix of every policy-change event:
// studio.policy.<role|rolebinding|policy>.<created|updated|deleted>.
const ChangeSubjectPrefix = "studio.policy."

// Change is the payload of a policy-change event.
type Change struct {
	OrganizationID string  `json:"organizationId"`
	Action         string  `json:"action"`
	TargetType     string  `json:"targetType"`
	TargetID       string  `json:"targetId"`
	ActorID        *string `json:"actorId,omitempty"`
}

// Store reads and writes policy's tables.
type Store struct {
	*pg.DB
}

// New returns the store on db (opened on Schema with Migrations, e.g. by kit.Open).
func New(db *pg.DB) *Store { return &Store{DB: db} }

const (
	roleCols    = "id::text, org_id::text, name, description, permissions, created_at"
	bindingCols = `b.id::text, b.org_id::text, b.subject_id::text, b.role_id::text, b.scope, b.project_id::text,
	b.granted_by::text, b.created_at, r.name, r.description, r.permissions, r.created_at`
	bindingFrom = "role_bindings b LEFT JOIN roles r ON r.id = b.role_id AND r.org_id = b.org_id"
	policyCols  = "id::text, org_id::text, name, description, permission, condition, enabled, created_at, updated_at"
	auditCols   = "id::text, org_id::text, actor_id::text, action, target_type, target_id::text, before::text, after::text, occurred_at"
)

func roleFields(r *model.AccessRole) []any {
	return []any{&r.ID, &r.OrgID, &r.Name, &r.Description, &r.PermNames, &r.CreatedAt}
}

func policyFields(p *model.Policy) []any {
	return []any{&p.ID, &p.OrgID, &p.Name, &p.Description, &p.Permission, &p.Condition, &p.Enabled, &p.CreatedAt, &p.UpdatedAt}
}

func auditFields(a *model.PolicyAuditEntry) []any {
	return []any{&a.ID, &a.OrgID, &a.ActorID, &a.Action, &a.TargetType, &a.TargetID, &a.Before, &a.After, &a.OccurredAt}
}

// bindingRow scans a binding with its (custom) role's columns.
type bindingRow struct {
	b                  model.RoleBinding
	roleName, roleDesc *string
	rolePerms          []string
	roleCreated        *time.Time
}

func bindingFields(r *bindingRow) []any {
	return []any{&r.b.ID, &r.b.OrgID, &r.b.SubjectID, &r.b.RoleID, &r.b.Scope, &r.b.ProjectID,
		&r.b.GrantedByID, &r.b.CreatedAt, &r.roleName, &r.roleDesc, &r.rolePerms, &r.roleCreated}
}

// binding returns the row's binding with its role (built-in or custom).
func (r *bindingRow) binding() *model.RoleBinding {
	b := r.b
	if br, ok := rbac.BuiltInByID(b.RoleID); ok {
		b.Role = BuiltInRole(br)
	} else if r.roleName != nil {
		b.Role = &model.AccessRole{ID: b.RoleID, OrgID: b.OrgID, Name: *r.roleName, Description: deref(r.roleDesc),
			PermNames: r.rolePerms, CreatedAt: r.roleCreated}
	} else {
		b.Role = &model.AccessRole{ID: b.RoleID, OrgID: b.OrgID, Name: "(deleted role)"}
	}
	return &b
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// BuiltInRole returns the model of a built-in role.
func BuiltInRole(r rbac.Role) *model.AccessRole {
	return &model.AccessRole{ID: r.ID, Name: r.Name, Description: r.Description, BuiltIn: true, PermNames: r.Permissions}
}

// ---- roles

var customRoles = kit.PageQuery{Select: roleCols, From: "roles", Key: "org_id", Where: "org_id = $2::uuid", Order: "name, id"}

// RolesInOrg returns page p of the roles of orgID: the built-in ones, then
// the custom ones by name. At most one query.
func (s *Store) RolesInOrg(ctx context.Context, orgID string, p kit.Page) (*model.AccessRoleConnection, error) {
	builtIn := rbac.BuiltIn()
	var nodes []*model.AccessRole
	for i := p.Offset; i < len(builtIn) && len(nodes) < p.Limit; i++ {
		nodes = append(nodes, BuiltInRole(builtIn[i]))
	}
	custom := kit.Page{Offset: max(0, p.Offset-len(builtIn)), Limit: p.Limit - len(nodes)}
	cs, err := kit.Pages(ctx, s.Pool(), customRoles, []kit.PageKey{{ID: orgID, Page: custom}}, roleFields, orgID)
	if err != nil {
		return nil, err
	}
	nodes = append(nodes, cs[0].Nodes...)
	return kit.NewConnection(p, nodes, len(builtIn)+cs[0].TotalCount), nil
}

// RolesByIDs returns the roles with ids (built-in, or custom roles of orgID)
// in key order, nil where there is none. At most one query.
func (s *Store) RolesByIDs(ctx context.Context, orgID string, ids []string) ([]*model.AccessRole, error) {
	var out []*model.AccessRole
	var custom []string
	for _, id := range ids {
		if r, ok := rbac.BuiltInByID(id); ok {
			out = append(out, BuiltInRole(r))
		} else {
			custom = append(custom, id)
		}
	}
	if len(custom) > 0 {
		rows, err := s.Pool().Query(ctx, "SELECT "+roleCols+" FROM roles WHERE id = ANY($1::uuid[]) AND org_id = $2::uuid", kit.UUIDs(custom), orgID)
		if err != nil {
			return nil, fmt.Errorf("query roles: %w", err)
		}
		rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*model.AccessRole, error) {
			r := new(model.AccessRole)
			return r, row.Scan(roleFields(r)...)
		})
		if err != nil {
			return nil, fmt.Errorf("query roles: %w", err)
		}
		out = append(out, rs...)
	}
	return kit.Order(ids, out, func(r *model.AccessRole) string { return r.ID }), nil
}

// RoleByName returns the built-in role or orgID's custom role named name;
// ErrNotFound when there is none.
func (s *Store) RoleByName(ctx context.Context, orgID, name string) (*model.AccessRole, error) {
	if r, ok := rbac.BuiltInByName(name); ok {
		return BuiltInRole(r), nil
	}
	r := new(model.AccessRole)
	err := s.Pool().QueryRow(ctx, "SELECT "+roleCols+" FROM roles WHERE org_id = $1::uuid AND name = $2", orgID, name).Scan(roleFields(r)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("query role: %w", err)
	}
	return r, nil
}

// CreateRole inserts the custom role r (ID, OrgID, Name, Description,
// PermNames set), audited as actor. ErrDuplicate when the name is taken.
func (s *Store) CreateRole(ctx context.Context, r *model.AccessRole, actor *string) error {
	return s.change(ctx, r.OrgID, actor, "role.created", "Role", r.ID, func(tx pgx.Tx) (before, after any, err error) {
		err = tx.QueryRow(ctx, `INSERT INTO roles (id, org_id, name, description, permissions) VALUES ($1, $2, $3, $4, $5)
			RETURNING created_at`, r.ID, r.OrgID, r.Name, r.Description, r.PermNames).Scan(&r.CreatedAt)
		if isUniqueViolation(err) {
			return nil, nil, ErrDuplicate
		}
		return nil, roleDoc(r), err
	})
}

// DeleteRole deletes orgID's custom role id and its bindings, audited as
// actor. ErrNotFound when there is no such custom role.
func (s *Store) DeleteRole(ctx context.Context, orgID, id string, actor *string) error {
	return s.change(ctx, orgID, actor, "role.deleted", "Role", id, func(tx pgx.Tx) (before, after any, err error) {
		r := new(model.AccessRole)
		err = tx.QueryRow(ctx, "DELETE FROM roles WHERE id = $1::uuid AND org_id = $2::uuid RETURNING "+roleCols, id, orgID).Scan(roleFields(r)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, ErrNotFound
		}
		if err != nil {
			return nil, nil, err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM role_bindings WHERE role_id = $1::uuid AND org_id = $2::uuid", id, orgID); err != nil {
			return nil, nil, err
		}
		return roleDoc(r), nil, nil
	})
}

func roleDoc(r *model.AccessRole) map[string]any {
	return map[string]any{"id": r.ID, "name": r.Name, "description": r.Description, "permissions": r.PermNames}
}

// ---- role bindings

var bindingsOfOrg = kit.PageQuery{Select: bindingCols, From: bindingFrom, Key: "b.org_id",
	Where: "b.org_id = $2::uuid AND ($3::uuid IS NULL OR b.subject_id = $3::uuid)", Order: "b.created_at, b.id"}

// BindingsInOrg returns page p of orgID's role bindings, oldest first, only
// those of subject when it is not nil. One query.
func (s *Store) BindingsInOrg(ctx context.Context, orgID string, subject *string, p kit.Page) (*model.RoleBindingConnection, error) {
	cs, err := kit.Pages(ctx, s.Pool(), bindingsOfOrg, []kit.PageKey{{ID: orgID, Page: p}}, bindingFields, orgID, subject)
	if err != nil {
		return nil, err
	}
	c := cs[0]
	out := make([]*model.RoleBinding, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.binding()
	}
	return kit.NewConnection(p, out, c.TotalCount), nil
}

// BindingsByIDs returns orgID's role bindings with ids in key order, nil where there is none. One query.
func (s *Store) BindingsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.RoleBinding, error) {
	bs, err := s.queryBindings(ctx, "b.id = ANY($1::uuid[]) AND b.org_id = $2::uuid", kit.UUIDs(ids), orgID)
	if err != nil {
		return nil, err
	}
	return kit.Order(ids, bs, func(b *model.RoleBinding) string { return b.ID }), nil
}

func (s *Store) queryBindings(ctx context.Context, where string, args ...any) ([]*model.RoleBinding, error) {
	rows, err := s.Pool().Query(ctx, "SELECT "+bindingCols+" FROM "+bindingFrom+" WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query role bindings: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*model.RoleBinding, error) {
		r := new(bindingRow)
		if err := row.Scan(bindingFields(r)...); err != nil {
			return nil, fmt.Errorf("scan role binding: %w", err)
		}
		return r.binding(), nil
	})
}

// Grant inserts the binding b (ID, OrgID, SubjectID, RoleID, Scope,
// ProjectID, GrantedByID set; Role the role it names, which must be built-in
// or orgID's), audited as its granter. ErrDuplicate when the subject has it already;
// ErrNotFound when the custom role is gone.
func (s *Store) Grant(ctx context.Context, b *model.RoleBinding) error {
	return s.change(ctx, b.OrgID, b.GrantedByID, "rolebinding.created", "RoleBinding", b.ID, func(tx pgx.Tx) (before, after any, err error) {
		return nil, bindingDoc(b), insertBinding(ctx, tx, b)
	})
}

func insertBinding(ctx context.Context, tx pgx.Tx, b *model.RoleBinding) error {
	_, builtIn := rbac.BuiltInByID(b.RoleID)
	err := tx.QueryRow(ctx, `INSERT INTO role_bindings (id, org_id, subject_id, role_id, scope, project_id, granted_by)
		SELECT $1, $2, $3, $4, $5, $6, $7
		WHERE $8 OR EXISTS (SELECT 1 FROM roles WHERE id = $4::uuid AND org_id = $2::uuid)
		RETURNING created_at`,
		b.ID, b.OrgID, b.SubjectID, b.RoleID, string(b.Scope), b.ProjectID, b.GrantedByID, builtIn).Scan(&b.CreatedAt)
	switch {
	case isUniqueViolation(err):
		return ErrDuplicate
	case errors.Is(err, pgx.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("insert role binding: %w", err)
	}
	return nil
}

// Revoke deletes orgID's binding id, audited as actor. ErrNotFound when there is none.
func (s *Store) Revoke(ctx context.Context, orgID, id string, actor *string) error {
	return s.change(ctx, orgID, actor, "rolebinding.deleted", "RoleBinding", id, func(tx pgx.Tx) (before, after any, err error) {
		var b model.RoleBinding
		err = tx.QueryRow(ctx, `DELETE FROM role_bindings WHERE id = $1::uuid AND org_id = $2::uuid
			RETURNING id::text, subject_id::text, role_id::text, scope, project_id::text`, id, orgID).
			Scan(&b.ID, &b.SubjectID, &b.RoleID, &b.Scope, &b.ProjectID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, ErrNotFound
		}
		return bindingDoc(&b), nil, err
	})
}

func bindingDoc(b *model.RoleBinding) map[string]any {
	d := map[string]any{"id": b.ID, "subjectId": b.SubjectID, "roleId": b.RoleID, "scope": b.Scope, "projectId": b.ProjectID}
	if b.Role != nil {
		d["role"] = b.Role.Name
	}
	return d
}

// ownerLock is the advisory lock key serializing the bindings the platform
// makes in an organization (BindNewUser, Seed).
func ownerLock(orgID string) string { return "policy.bindings:" + orgID }

// BindNewUser binds a user that identity just created, in tx (the events
// consumer's, which records the event as processed): the role their identity
// role maps to (rbac.FromIdentityRole; an organization's first ADMIN becomes
// its owner). A user who has a binding already is left alone. Audited with
// no actor. Events may come in any order; concurrent ADMINs of one new
// organization are serialized by a transaction-level advisory lock.
func BindNewUser(ctx context.Context, tx pgx.Tx, orgID, userID, identityRole string) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ownerLock(orgID)); err != nil {
		return fmt.Errorf("lock organization: %w", err)
	}
	owner, _ := rbac.BuiltInByName(rbac.Owner)
	var hasOwn, hasOwner bool
	err := tx.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM role_bindings WHERE org_id = $1::uuid AND subject_id = $2::uuid),
		EXISTS (SELECT 1 FROM role_bindings WHERE org_id = $1::uuid AND role_id = $3::uuid)`, orgID, userID, owner.ID).Scan(&hasOwn, &hasOwner)
	if err != nil || hasOwn {
		return err
	}
	role, _ := rbac.BuiltInByName(rbac.FromIdentityRole(identityRole, !hasOwner))
	b := &model.RoleBinding{ID: uuid.NewString(), OrgID: orgID, SubjectID: userID, RoleID: role.ID,
		Scope: model.BindingScopeOrganization, Role: BuiltInRole(role)}
	if err := insertBinding(ctx, tx, b); err != nil && !errors.Is(err, ErrDuplicate) {
		return err
	}
	return record(ctx, tx, orgID, nil, "rolebinding.created", "RoleBinding", b.ID, nil, bindingDoc(b))
}

// ---- policies

var policiesOfOrg = kit.PageQuery{Select: policyCols, From: "policies", Key: "org_id", Where: "org_id = $2::uuid", Order: "name, id"}

// PoliciesInOrg returns page p of orgID's policies by name. One query.
func (s *Store) PoliciesInOrg(ctx context.Context, orgID string, p kit.Page) (*model.PolicyConnection, error) {
	cs, err := kit.Pages(ctx, s.Pool(), policiesOfOrg, []kit.PageKey{{ID: orgID, Page: p}}, policyFields, orgID)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// PoliciesByIDs returns orgID's policies with ids in key order, nil where there is none. One query.
func (s *Store) PoliciesByIDs(ctx context.Context, orgID string, ids []string) ([]*model.Policy, error) {
	ps, err := s.queryPolicies(ctx, "id = ANY($1::uuid[]) AND org_id = $2::uuid", kit.UUIDs(ids), orgID)
	if err != nil {
		return nil, err
	}
	return kit.Order(ids, ps, func(p *model.Policy) string { return p.ID }), nil
}

func (s *Store) queryPolicies(ctx context.Context, where string, args ...any) ([]*model.Policy, error) {
	rows, err := s.Pool().Query(ctx, "SELECT "+policyCols+" FROM policies WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query policies: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*model.Policy, error) {
		p := new(model.Policy)
		if err := row.Scan(policyFields(p)...); err != nil {
			return nil, fmt.Errorf("scan policy: %w", err)
		}
		return p, nil
	})
}

// CreatePolicy inserts p (ID, OrgID, Name, Description, Permission,
// Condition, Enabled set), audited as actor. ErrDuplicate when the name is taken.
func (s *Store) CreatePolicy(ctx context.Context, p *model.Policy, actor *string) error {
	return s.change(ctx, p.OrgID, actor, "policy.created", "Policy", p.ID, func(tx pgx.Tx) (before, after any, err error) {
		err = tx.QueryRow(ctx, `INSERT INTO policies (id, org_id, name, description, permission, condition, enabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at, updated_at`,
			p.ID, p.OrgID, p.Name, p.Description, p.Permission, p.Condition, p.Enabled).Scan(&p.CreatedAt, &p.UpdatedAt)
		if isUniqueViolation(err) {
			return nil, nil, ErrDuplicate
		}
		return nil, policyDoc(p), err
	})
}

// UpdatePolicy applies update to orgID's policy id (read FOR UPDATE in the
// transaction) and stores it, audited as actor with its before and after.
// ErrNotFound when there is none; update's error is returned as is.
func (s *Store) UpdatePolicy(ctx context.Context, orgID, id string, actor *string, update func(*model.Policy) error) (*model.Policy, error) {
	var out *model.Policy
	err := s.change(ctx, orgID, actor, "policy.updated", "Policy", id, func(tx pgx.Tx) (before, after any, err error) {
		p := new(model.Policy)
		err = tx.QueryRow(ctx, "SELECT "+policyCols+" FROM policies WHERE id = $1::uuid AND org_id = $2::uuid FOR UPDATE", id, orgID).Scan(policyFields(p)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, ErrNotFound
		}
		if err != nil {
			return nil, nil, err
		}
		before = policyDoc(p)
		if err := update(p); err != nil {
			return nil, nil, err
		}
		err = tx.QueryRow(ctx, `UPDATE policies SET description = $3, condition = $4, enabled = $5, updated_at = now()
			WHERE id = $1::uuid AND org_id = $2::uuid RETURNING updated_at`, id, orgID, p.Description, p.Condition, p.Enabled).Scan(&p.UpdatedAt)
		out = p
		return before, policyDoc(p), err
	})
	return out, err
}

// DeletePolicy deletes orgID's policy id, audited as actor. ErrNotFound when there is none.
func (s *Store) DeletePolicy(ctx context.Context, orgID, id string, actor *string) error {
	return s.change(ctx, orgID, actor, "policy.deleted", "Policy", id, func(tx pgx.Tx) (before, after any, err error) {
		p := new(model.Policy)
		err = tx.QueryRow(ctx, "DELETE FROM policies WHERE id = $1::uuid AND org_id = $2::uuid RETURNING "+policyCols, id, orgID).Scan(policyFields(p)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, ErrNotFound
		}
		return policyDoc(p), nil, err
	})
}

func policyDoc(p *model.Policy) map[string]any {
	return map[string]any{"id": p.ID, "name": p.Name, "description": p.Description, "permission": p.Permission,
		"condition": p.Condition, "enabled": p.Enabled}
}

// ---- decisions

// Grants are what a decision needs to know about its subjects: their
// bindings (with roles), whether the organization has any binding at all, and
// the enabled policies on the permissions or with the names asked for.
type Grants struct {
	// Bindings per subject id.
	Bindings map[string][]*model.RoleBinding
	// OrgHasBindings is false for an organization nobody was bound in yet.
	OrgHasBindings bool
	Policies       []*model.Policy
}

// GrantsFor reads, in two queries whatever the number of subjects,
// permissions and names, what deciding for subjects needs in orgID.
func (s *Store) GrantsFor(ctx context.Context, orgID string, subjects, permissions, names []string) (*Grants, error) {
	g := &Grants{Bindings: map[string][]*model.RoleBinding{}}
	// One row per binding of the subjects, or one row of NULLs (b.id NULL)
	// when they have none, each with whether the organization has any.
	rows, err := s.Pool().Query(ctx, `SELECT b.id::text, COALESCE(b.org_id::text, ''), COALESCE(b.subject_id::text, ''),
		COALESCE(b.role_id::text, ''), COALESCE(b.scope, ''), b.project_id::text, b.granted_by::text,
		COALESCE(b.created_at, now()), r.name, r.description, r.permissions, r.created_at,
		EXISTS (SELECT 1 FROM role_bindings WHERE org_id = $2::uuid)
		FROM (SELECT 1) AS one LEFT JOIN (`+bindingFrom+`) ON b.subject_id = ANY($1::uuid[]) AND b.org_id = $2::uuid`,
		kit.UUIDs(subjects), orgID)
	if err != nil {
		return nil, fmt.Errorf("query grants: %w", err)
	}
	for rows.Next() {
		r := new(bindingRow)
		var id *string
		fields := bindingFields(r)
		fields[0] = &id
		if err := rows.Scan(append(fields, &g.OrgHasBindings)...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan grants: %w", err)
		}
		if id == nil {
			continue
		}
		r.b.ID = *id
		b := r.binding()
		g.Bindings[b.SubjectID] = append(g.Bindings[b.SubjectID], b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query grants: %w", err)
	}
	if len(permissions) == 0 && len(names) == 0 {
		return g, nil
	}
	g.Policies, err = s.queryPolicies(ctx, "org_id = $1::uuid AND enabled AND (permission = ANY($2) OR name = ANY($3)) ORDER BY name",
		orgID, permissions, names)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// ---- audit

var auditOfOrg = kit.PageQuery{Select: auditCols, From: "audit_log", Key: "org_id", Where: "org_id = $2::uuid", Order: "seq DESC"}

// AuditInOrg returns page p of orgID's audit log, newest first. One query.
func (s *Store) AuditInOrg(ctx context.Context, orgID string, p kit.Page) (*model.PolicyAuditEntryConnection, error) {
	cs, err := kit.Pages(ctx, s.Pool(), auditOfOrg, []kit.PageKey{{ID: orgID, Page: p}}, auditFields, orgID)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// change runs fn in a transaction and records what it did: an audit row
// (before and after as JSON) and a policy-change event in the outbox.
func (s *Store) change(ctx context.Context, orgID string, actor *string, action, targetType, targetID string,
	fn func(pgx.Tx) (before, after any, err error)) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		before, after, err := fn(tx)
		if err != nil {
			return err
		}
		return record(ctx, tx, orgID, actor, action, targetType, targetID, before, after)
	})
}

func record(ctx context.Context, tx pgx.Tx, orgID string, actor *string, action, targetType, targetID string, before, after any) error {
	doc := func(v any) (*string, error) {
		if v == nil {
			return nil, nil
		}
		b, err := json.Marshal(v)
		s := string(b)
		return &s, err
	}
	b, err := doc(before)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	a, err := doc(after)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (id, org_id, actor_id, action, target_type, target_id, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)`, uuid.NewString(), orgID, actor, action, targetType, targetID, b, a); err != nil {
		return fmt.Errorf("insert audit entry: %w", err)
	}
	org, err := uuid.Parse(orgID)
	if err != nil {
		return fmt.Errorf("event: organization id: %w", err)
	}
	ev, err := events.New(ChangeSubjectPrefix+action, org, Change{OrganizationID: orgID, Action: action,
		TargetType: targetType, TargetID: targetID, ActorID: actor})
	if err != nil {
		return err
	}
	return events.Append(ctx, tx, ev)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
