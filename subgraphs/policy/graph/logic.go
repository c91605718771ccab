package graph

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/kit"
	"github.com/studio-platform/studio/subgraphs/policy/decide"
	"github.com/studio-platform/studio/subgraphs/policy/expr"
	"github.com/studio-platform/studio/subgraphs/policy/graph/model"
	"github.com/studio-platform/studio/subgraphs/policy/rbac"
	"github.com/studio-platform/studio/subgraphs/policy/store"
)

// Limits of policy's inputs.
const (
	// MaxBatch is the most inputs authorizeBatch takes.
	MaxBatch = 100
	// MaxNamedPolicies and MaxPolicyNameBytes bound authorizeMany (the router's contract).
	MaxNamedPolicies   = 1024
	MaxPolicyNameBytes = 256
	// MaxKey bounds names of roles and policies, permissions, attribute keys and resource types.
	MaxKey = 64
	// MaxAttributes and MaxAttributeValue bound a resource's attributes.
	MaxAttributes     = 32
	MaxAttributeValue = 1024
	// MaxIP bounds environment.ip.
	MaxIP = 64
)

var (
	namePattern = regexp.MustCompile(`^[a-z0-9_.:-]{1,64}$`)
	attrPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// require answers FORBIDDEN unless the caller holds permission in the
// organization (decided uncached, so a revocation takes effect at once).
func (r *Resolver) require(ctx context.Context, c *auth.Claims, permission string) error {
	ds, err := r.Engine.Decide(ctx, c.OrgID, []decide.Request{{Subject: subjectOf(c), Permission: permission}}, false)
	if err != nil {
		return err
	}
	if !ds[0].Allowed {
		return kit.Errorf(kit.CodeForbidden, "%s is required", permission)
	}
	return nil
}

func subjectOf(c *auth.Claims) decide.Subject { return decide.Subject{ID: c.Subject, Email: c.Email} }

func actorOf(c *auth.Claims) *string {
	s := c.Subject
	return &s
}

// claimsAnd returns the caller's claims after checking permission.
func (r *Resolver) claimsAnd(ctx context.Context, permission string) (*auth.Claims, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	return c, r.require(ctx, c, permission)
}

func (r *Resolver) createRole(ctx context.Context, in model.CreateRoleInput) (*model.AccessRole, error) {
	c, err := r.claimsAnd(ctx, rbac.PolicyManage)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	role := &model.AccessRole{ID: uuid.NewString(), OrgID: c.OrgID,
		Name:        v.Text("name", in.Name, MaxKey),
		Description: v.Optional("description", in.Description, kit.MaxDescription)}
	if role.Name != "" && !namePattern.MatchString(role.Name) {
		v.Problemf("name must match [a-z0-9_.:-]{1,64}")
	}
	if _, ok := rbac.BuiltInByName(role.Name); ok {
		v.Problemf("%s is a built-in role", role.Name)
	}
	if len(in.Permissions) == 0 || len(in.Permissions) > len(rbac.Catalogue()) {
		v.Problemf("permissions must list 1 to %d permissions of the catalogue", len(rbac.Catalogue()))
	}
	for _, p := range in.Permissions {
		if v.MaxLen("permissions", p, MaxKey) && !rbac.Known(p) {
			v.Problemf("%s is not a permission of the catalogue", p)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	role.PermNames = rbac.Sorted(in.Permissions)
	if err := r.Store.CreateRole(ctx, role, actorOf(c)); errors.Is(err, store.ErrDuplicate) {
		return nil, kit.Errorf(kit.CodeBadUserInput, "a role named %s exists already", role.Name)
	} else if err != nil {
		return nil, err
	}
	return role, nil
}

func (r *Resolver) deleteRole(ctx context.Context, id string) (bool, error) {
	c, err := r.claimsAnd(ctx, rbac.PolicyManage)
	if err != nil {
		return false, err
	}
	if err := checkID("id", id); err != nil {
		return false, err
	}
	if _, ok := rbac.BuiltInByID(id); ok {
		return false, kit.Errorf(kit.CodeBadUserInput, "built-in roles cannot be deleted")
	}
	if !kit.IsUUID(id) {
		return false, nil
	}
	switch err := r.Store.DeleteRole(ctx, c.OrgID, id, actorOf(c)); {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func checkID(field, id string) error {
	var v kit.Input
	v.MaxLen(field, id, kit.MaxID)
	return v.Err()
}

func (r *Resolver) grantRole(ctx context.Context, in model.GrantRoleInput) (*model.RoleBinding, error) {
	c, err := r.claimsAnd(ctx, rbac.MemberManage)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	userID := v.Text("userId", in.UserID, kit.MaxID)
	roleName := v.Text("role", in.Role, MaxKey)
	project := v.Optional("projectId", in.ProjectID, kit.MaxID)
	if userID != "" && !kit.IsUUID(userID) {
		v.Problemf("userId must be a user id")
	}
	switch {
	case in.Scope == model.BindingScopeProject && !kit.IsUUID(project):
		v.Problemf("a PROJECT binding needs the projectId of a project")
	case in.Scope == model.BindingScopeOrganization && project != "":
		v.Problemf("an ORGANIZATION binding takes no projectId")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	role, err := r.Store.RoleByName(ctx, c.OrgID, roleName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, kit.NotFound("role", roleName)
	}
	if err != nil {
		return nil, err
	}
	b := &model.RoleBinding{ID: uuid.NewString(), OrgID: c.OrgID, SubjectID: userID, RoleID: role.ID, Scope: in.Scope,
		GrantedByID: actorOf(c), Role: role}
	if project != "" {
		b.ProjectID = &project
	}
	switch err := r.Store.Grant(ctx, b); {
	case errors.Is(err, store.ErrDuplicate):
		return nil, kit.Errorf(kit.CodeBadUserInput, "the user has role %s in that scope already", role.Name)
	case errors.Is(err, store.ErrNotFound):
		return nil, kit.NotFound("role", roleName)
	case err != nil:
		return nil, err
	}
	return b, nil
}

func (r *Resolver) revokeRole(ctx context.Context, id string) (bool, error) {
	c, err := r.claimsAnd(ctx, rbac.MemberManage)
	if err != nil {
		return false, err
	}
	if err := checkID("id", id); err != nil {
		return false, err
	}
	if !kit.IsUUID(id) {
		return false, nil
	}
	switch err := r.Store.Revoke(ctx, c.OrgID, id, actorOf(c)); {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// checkCondition type-checks a condition: BAD_USER_INPUT with CEL's message.
func (r *Resolver) checkCondition(v *kit.Input, cond string) {
	if !v.MaxLen("condition", cond, expr.MaxLength) {
		return
	}
	if _, err := r.Env.Compile(cond); err != nil {
		var ce *expr.CompileError
		if errors.As(err, &ce) {
			v.Problemf("condition: %s", ce.Msg)
		} else {
			v.Problemf("condition: %v", err)
		}
	}
}

func (r *Resolver) createPolicy(ctx context.Context, in model.CreatePolicyInput) (*model.Policy, error) {
	c, err := r.claimsAnd(ctx, rbac.PolicyManage)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	p := &model.Policy{ID: uuid.NewString(), OrgID: c.OrgID, Enabled: in.Enabled,
		Name:        v.Text("name", in.Name, MaxKey),
		Description: v.Optional("description", in.Description, kit.MaxDescription),
		Condition:   in.Condition}
	if p.Name != "" && !namePattern.MatchString(p.Name) {
		v.Problemf("name must match [a-z0-9_.:-]{1,64}")
	}
	if perm := v.Optional("permission", in.Permission, MaxKey); perm != "" {
		if !rbac.Known(perm) {
			v.Problemf("%s is not a permission of the catalogue", perm)
		}
		p.Permission = &perm
	}
	r.checkCondition(&v, in.Condition)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := r.Store.CreatePolicy(ctx, p, actorOf(c)); errors.Is(err, store.ErrDuplicate) {
		return nil, kit.Errorf(kit.CodeBadUserInput, "a policy named %s exists already", p.Name)
	} else if err != nil {
		return nil, err
	}
	return p, nil
}

func (r *Resolver) updatePolicy(ctx context.Context, in model.UpdatePolicyInput) (*model.Policy, error) {
	c, err := r.claimsAnd(ctx, rbac.PolicyManage)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	v.MaxLen("id", in.ID, kit.MaxID)
	desc := v.Optional("description", in.Description, kit.MaxDescription)
	if in.Condition != nil {
		r.checkCondition(&v, *in.Condition)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !kit.IsUUID(in.ID) {
		return nil, kit.NotFound("policy", in.ID)
	}
	p, err := r.Store.UpdatePolicy(ctx, c.OrgID, in.ID, actorOf(c), func(p *model.Policy) error {
		if in.Description != nil {
			p.Description = desc
		}
		if in.Condition != nil {
			p.Condition = *in.Condition
		}
		if in.Enabled != nil {
			p.Enabled = *in.Enabled
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, kit.NotFound("policy", in.ID)
	}
	return p, err
}

func (r *Resolver) deletePolicy(ctx context.Context, id string) (bool, error) {
	c, err := r.claimsAnd(ctx, rbac.PolicyManage)
	if err != nil {
		return false, err
	}
	if err := checkID("id", id); err != nil {
		return false, err
	}
	if !kit.IsUUID(id) {
		return false, nil
	}
	switch err := r.Store.DeletePolicy(ctx, c.OrgID, id, actorOf(c)); {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// requests validates authorize inputs (every problem of every input at once)
// and turns them into requests. Asking about another subject needs policy:read.
func (r *Resolver) requests(ctx context.Context, c *auth.Claims, ins []*model.AuthorizeInput) ([]decide.Request, error) {
	var v kit.Input
	if len(ins) > MaxBatch {
		v.Problemf("at most %d inputs", MaxBatch)
		return nil, v.Err()
	}
	clientIP := remoteIP(ctx)
	reqs := make([]decide.Request, len(ins))
	others := false
	for i, in := range ins {
		f := func(name string) string { return fmt.Sprintf("inputs[%d].%s", i, name) }
		if len(ins) == 1 {
			f = func(name string) string { return name }
		}
		req := decide.Request{Subject: subjectOf(c), IP: clientIP,
			Permission: v.Text(f("permission"), in.Permission, MaxKey)}
		if in.SubjectID != nil && *in.SubjectID != c.Subject {
			if v.MaxLen(f("subjectId"), *in.SubjectID, kit.MaxID) && !kit.IsUUID(*in.SubjectID) {
				v.Problemf("%s must be a user id", f("subjectId"))
			}
			req.Subject = decide.Subject{ID: *in.SubjectID}
			others = true
		}
		if in.IP != nil {
			req.IP = v.Optional(f("ip"), in.IP, MaxIP)
		}
		if res := in.Resource; res != nil {
			req.Resource = decide.Resource{
				Type:      v.Optional(f("resource.type"), res.Type, MaxKey),
				ID:        v.Optional(f("resource.id"), res.ID, kit.MaxID),
				ProjectID: v.Optional(f("resource.projectId"), res.ProjectID, kit.MaxID),
				OwnerID:   v.Optional(f("resource.ownerId"), res.OwnerID, kit.MaxID),
			}
			if len(res.Attributes) > MaxAttributes {
				v.Problemf("%s: at most %d", f("resource.attributes"), MaxAttributes)
			} else if len(res.Attributes) > 0 {
				req.Resource.Attributes = map[string]string{}
				for _, a := range res.Attributes {
					if !attrPattern.MatchString(a.Key) {
						v.Problemf("%s: key %.64q must match [A-Za-z_][A-Za-z0-9_]{0,63}", f("resource.attributes"), a.Key)
					}
					v.MaxLen(f("resource.attributes."+a.Key), a.Value, MaxAttributeValue)
					req.Resource.Attributes[a.Key] = a.Value
				}
			}
		}
		reqs[i] = req
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if others {
		if err := r.require(ctx, c, rbac.PolicyRead); err != nil {
			return nil, err
		}
	}
	return reqs, nil
}

func (r *Resolver) authorize(ctx context.Context, ins []*model.AuthorizeInput) ([]*model.Decision, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	reqs, err := r.requests(ctx, c, ins)
	if err != nil {
		return nil, err
	}
	return r.Engine.Decide(ctx, c.OrgID, reqs, true)
}

// authorizeMany is the router's @policy contract: without verified claims
// every policy is denied (the router never asks for anonymous requests).
func (r *Resolver) authorizeMany(ctx context.Context, names []string) ([]*model.PolicyDecision, error) {
	var v kit.Input
	if len(names) > MaxNamedPolicies {
		v.Problemf("at most %d policies", MaxNamedPolicies)
	}
	for _, n := range names {
		if len(n) > MaxPolicyNameBytes {
			v.Problemf("policy names must be at most %d bytes", MaxPolicyNameBytes)
			break
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := kit.Claims(ctx)
	if err != nil {
		out := make([]*model.PolicyDecision, 0, len(names))
		for _, n := range uniqSorted(names) {
			out = append(out, &model.PolicyDecision{Policy: n})
		}
		return out, nil
	}
	return r.Engine.Named(ctx, c.OrgID, subjectOf(c), names, remoteIP(ctx))
}

func uniqSorted(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// remoteIP is the client address of the request: the first X-Forwarded-For
// entry (set by the router or a proxy in front of it), else the peer.
func remoteIP(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	h := graphql.GetOperationContext(ctx).Headers
	if xff := h.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		return strings.TrimSpace(first)
	}
	return ""
}

// permissions returns the catalogue's entries, only those named when names are given.
func permissions(cat []rbac.Permission, names ...string) []*model.Permission {
	var out []*model.Permission
	for _, p := range cat {
		if names == nil || slices.Contains(names, p.Name) {
			out = append(out, &model.Permission{Name: p.Name, Description: p.Description})
		}
	}
	if out == nil {
		out = []*model.Permission{}
	}
	return out
}

// usersByIDs answers User representations: policy knows users by id only.
func usersByIDs(_ context.Context, _ string, ids []string) ([]*model.User, error) {
	users := make([]*model.User, len(ids))
	for i, id := range ids {
		users[i] = &model.User{ID: id}
	}
	return users, nil
}
