// Package decide answers authorization questions: RBAC over the subject's
// role bindings in the resource's scope, then the CEL policies attached to
// the permission (ABAC), or named policies alone (the router's @policy).
// A batch of questions costs at most two SQL queries (store.GrantsFor)
// whatever its size, and none when every answer is in the Redis cache.
package decide

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/studio-platform/studio/subgraphs/policy/expr"
	"github.com/studio-platform/studio/subgraphs/policy/graph/model"
	"github.com/studio-platform/studio/subgraphs/policy/rbac"
	"github.com/studio-platform/studio/subgraphs/policy/store"
)

// Subject is who a decision is for.
type Subject struct {
	ID    string
	Email string
}

// Resource is what a decision is about; every field may be empty.
type Resource struct {
	Type, ID, ProjectID, OwnerID string
	Attributes                   map[string]string
}

// Request is one question: may Subject do Permission on Resource?
type Request struct {
	Subject    Subject
	Permission string
	Resource   Resource
	IP         string
}

// Engine answers requests. It is safe for concurrent use.
type Engine struct {
	store    *store.Store
	env      *expr.Env
	programs *lru.Cache[string, *expr.Program]
	cache    *Cache
	log      *slog.Logger
	now      func() time.Time
}

// Option configures an Engine.
type Option func(*Engine)

// WithCache caches decisions in c (default: none).
func WithCache(c *Cache) Option { return func(e *Engine) { e.cache = c } }

// WithLogger sets the logger (cache failures are logged and decided without it).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// New returns an engine reading from st and compiling with env.
func New(st *store.Store, env *expr.Env, opts ...Option) *Engine {
	programs, _ := lru.New[string, *expr.Program](1024)
	e := &Engine{store: st, env: env, programs: programs, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Cache returns the engine's decision cache (nil without one).
func (e *Engine) Cache() *Cache { return e.cache }

// program compiles cond once (conditions were type-checked when written).
func (e *Engine) program(cond string) (*expr.Program, error) {
	if p, ok := e.programs.Get(cond); ok {
		return p, nil
	}
	p, err := e.env.Compile(cond)
	if err != nil {
		return nil, err
	}
	e.programs.Add(cond, p)
	return p, nil
}

// Decide answers reqs in orgID, in order. cached says whether the cache may
// be used (management checks do not).
func (e *Engine) Decide(ctx context.Context, orgID string, reqs []Request, cached bool) ([]*model.Decision, error) {
	out := make([]*model.Decision, len(reqs))
	c := e.cache
	if !cached {
		c = nil
	}
	var keys []string
	var version int64
	if c != nil {
		var err error
		if version, err = c.Version(ctx, orgID); err != nil {
			e.log.Warn("policy: decision cache unavailable", "error", err)
			c = nil
		}
	}
	if c != nil {
		keys = make([]string, len(reqs))
		for i, r := range reqs {
			keys[i] = key("decision", orgID, version, r.Subject.ID, r.question())
		}
		vals, err := c.get(ctx, keys)
		if err != nil {
			e.log.Warn("policy: decision cache unavailable", "error", err)
			c = nil
		} else {
			for i, v := range vals {
				if v == nil {
					continue
				}
				var d cachedDecision
				if json.Unmarshal(v, &d) == nil {
					out[i] = d.decision()
				}
			}
		}
	}
	var subjects, perms []string
	for i, r := range reqs {
		if out[i] == nil {
			subjects = append(subjects, r.Subject.ID)
			perms = append(perms, r.Permission)
		}
	}
	if len(subjects) == 0 {
		return out, nil
	}
	g, err := e.store.GrantsFor(ctx, orgID, uniq(subjects), uniq(perms), nil)
	if err != nil {
		return nil, err
	}
	fresh := map[string][]byte{}
	for i, r := range reqs {
		if out[i] != nil {
			continue
		}
		d, cacheable := e.decide(ctx, orgID, g, r)
		out[i] = d
		if c != nil && cacheable {
			if b, err := json.Marshal(newCachedDecision(d)); err == nil {
				fresh[keys[i]] = b
			}
		}
	}
	if c != nil {
		if err := c.set(ctx, fresh); err != nil {
			e.log.Warn("policy: decision cache unavailable", "error", err)
		}
	}
	return out, nil
}

// question is what the cache key hashes: the permission and the resource.
func (r Request) question() string {
	attrs := make([]string, 0, len(r.Resource.Attributes))
	for k, v := range r.Resource.Attributes {
		attrs = append(attrs, k+"\x00"+v)
	}
	sort.Strings(attrs)
	b, _ := json.Marshal([]any{r.Permission, r.Subject.Email, r.Resource.Type, r.Resource.ID, r.Resource.ProjectID, r.Resource.OwnerID, attrs})
	return string(b)
}

// decide answers one request from g; cacheable is false when a policy read
// the environment (time, ip) or failed to evaluate.
func (e *Engine) decide(ctx context.Context, orgID string, g *store.Grants, r Request) (_ *model.Decision, cacheable bool) {
	d := &model.Decision{Permission: r.Permission, Reasons: []string{}, GrantingBindings: []*model.RoleBinding{}, EvaluatedPolicies: []*model.PolicyEvaluation{}}
	cacheable = true
	if !rbac.Known(r.Permission) {
		d.Reasons = append(d.Reasons, fmt.Sprintf("%s is not a permission of the catalogue", r.Permission))
		return d, cacheable
	}
	bindings := g.Bindings[r.Subject.ID]
	if !g.OrgHasBindings {
		bindings = []*model.RoleBinding{bootstrapBinding(orgID, r.Subject.ID)}
		d.Reasons = append(d.Reasons, "the organization has no role bindings yet: its members act as owner until the first one exists")
	}
	vars := subjectVars(orgID, r.Subject, bindings, r.Resource.ProjectID)
	for _, b := range applicable(bindings, r.Resource.ProjectID) {
		if slices.Contains(b.Role.PermNames, r.Permission) {
			d.GrantingBindings = append(d.GrantingBindings, b)
			d.Reasons = append(d.Reasons, fmt.Sprintf("granted by role %s (%s)", b.Role.Name, scopeText(b)))
		}
	}
	if len(d.GrantingBindings) == 0 {
		d.Reasons = append(d.Reasons, fmt.Sprintf("no role of the subject grants %s in this scope", r.Permission))
		return d, cacheable
	}
	d.Allowed = true
	in := expr.Vars{Subject: vars, Resource: resourceVars(orgID, r.Resource), Environment: expr.Environment(e.now(), r.IP)}
	for _, p := range g.Policies {
		if p.Permission == nil || *p.Permission != r.Permission {
			continue
		}
		ev, usesEnv := e.eval(ctx, p, in)
		if usesEnv || ev.Error != nil {
			cacheable = false
		}
		d.EvaluatedPolicies = append(d.EvaluatedPolicies, ev)
		switch {
		case ev.Error != nil:
			d.Allowed = false
			d.Reasons = append(d.Reasons, fmt.Sprintf("policy %s failed: %s", p.Name, *ev.Error))
		case ev.Allowed:
			d.Reasons = append(d.Reasons, fmt.Sprintf("policy %s allowed", p.Name))
		default:
			d.Allowed = false
			d.Reasons = append(d.Reasons, fmt.Sprintf("policy %s denied", p.Name))
		}
	}
	return d, cacheable
}

func (e *Engine) eval(ctx context.Context, p *model.Policy, in expr.Vars) (*model.PolicyEvaluation, bool) {
	ev := &model.PolicyEvaluation{Policy: p}
	prg, err := e.program(p.Condition)
	if err != nil {
		msg := err.Error()
		ev.Error = &msg
		return ev, false
	}
	ok, err := prg.Eval(ctx, in)
	if err != nil {
		msg := err.Error()
		ev.Error = &msg
		return ev, prg.UsesEnvironment
	}
	ev.Allowed = ok
	return ev, prg.UsesEnvironment
}

// Named evaluates the policies named in names for subject (no resource):
// allowed when the policy exists, is enabled and its condition holds. One
// answer per distinct name, in sorted order.
func (e *Engine) Named(ctx context.Context, orgID string, subject Subject, names []string, ip string) ([]*model.PolicyDecision, error) {
	names = uniq(names)
	out := make([]*model.PolicyDecision, len(names))
	c := e.cache
	var keys []string
	if c != nil {
		version, err := c.Version(ctx, orgID)
		if err == nil {
			keys = make([]string, len(names))
			for i, n := range names {
				keys[i] = key("named", orgID, version, subject.ID, subject.Email+"\x00"+n)
			}
			vals, err := c.get(ctx, keys)
			if err == nil {
				for i, v := range vals {
					if v != nil {
						out[i] = &model.PolicyDecision{Policy: names[i], Allowed: string(v) == "1"}
					}
				}
			}
		}
		if err != nil {
			e.log.Warn("policy: decision cache unavailable", "error", err)
			c = nil
		}
	}
	var missing []string
	for i, n := range names {
		if out[i] == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	g, err := e.store.GrantsFor(ctx, orgID, []string{subject.ID}, nil, missing)
	if err != nil {
		return nil, err
	}
	bindings := g.Bindings[subject.ID]
	if !g.OrgHasBindings {
		bindings = []*model.RoleBinding{bootstrapBinding(orgID, subject.ID)}
	}
	in := expr.Vars{Subject: subjectVars(orgID, subject, bindings, ""), Resource: resourceVars(orgID, Resource{}),
		Environment: expr.Environment(e.now(), ip)}
	fresh := map[string][]byte{}
	for i, n := range names {
		if out[i] != nil {
			continue
		}
		d := &model.PolicyDecision{Policy: n}
		cacheable := true
		if j := slices.IndexFunc(g.Policies, func(p *model.Policy) bool { return p.Name == n }); j >= 0 {
			ev, usesEnv := e.eval(ctx, g.Policies[j], in)
			d.Allowed = ev.Allowed && ev.Error == nil
			cacheable = !usesEnv && ev.Error == nil
		}
		out[i] = d
		if c != nil && cacheable {
			fresh[keys[i]] = []byte(map[bool]string{true: "1", false: "0"}[d.Allowed])
		}
	}
	if c != nil {
		if err := c.set(ctx, fresh); err != nil {
			e.log.Warn("policy: decision cache unavailable", "error", err)
		}
	}
	return out, nil
}

// bootstrapBinding is the owner binding a member of an organization without
// any binding acts with (see Engine.decide).
func bootstrapBinding(orgID, subjectID string) *model.RoleBinding {
	owner, _ := rbac.BuiltInByName(rbac.Owner)
	return &model.RoleBinding{ID: owner.ID, OrgID: orgID, SubjectID: subjectID, RoleID: owner.ID,
		Scope: model.BindingScopeOrganization, Role: store.BuiltInRole(owner)}
}

// applicable returns the bindings in force for a resource of projectID:
// ORGANIZATION ones, and PROJECT ones of that project.
func applicable(bs []*model.RoleBinding, projectID string) []*model.RoleBinding {
	var out []*model.RoleBinding
	for _, b := range bs {
		if b.Scope == model.BindingScopeOrganization || (projectID != "" && b.ProjectID != nil && *b.ProjectID == projectID) {
			out = append(out, b)
		}
	}
	return out
}

func scopeText(b *model.RoleBinding) string {
	if b.ProjectID != nil {
		return "PROJECT " + *b.ProjectID
	}
	return string(b.Scope)
}

// subjectVars are CEL's subject: roles and permissions in force for a
// resource of projectID, and every project the subject is bound in.
func subjectVars(orgID string, s Subject, bs []*model.RoleBinding, projectID string) map[string]any {
	roles, perms, projects := []string{}, []string{}, []string{}
	for _, b := range applicable(bs, projectID) {
		roles = append(roles, b.Role.Name)
		perms = append(perms, b.Role.PermNames...)
	}
	for _, b := range bs {
		if b.ProjectID != nil {
			projects = append(projects, *b.ProjectID)
		}
	}
	return map[string]any{"id": s.ID, "organizationId": orgID, "email": s.Email,
		"roles": uniq(roles), "permissions": rbac.Sorted(perms), "projects": uniq(projects)}
}

func resourceVars(orgID string, r Resource) map[string]any {
	attrs := map[string]string{}
	for k, v := range r.Attributes {
		attrs[k] = v
	}
	return map[string]any{"type": r.Type, "id": r.ID, "projectId": r.ProjectID, "ownerId": r.OwnerID,
		"organizationId": orgID, "attributes": attrs}
}

// uniq returns the distinct values of s, sorted.
func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// cachedDecision is a decision as the cache stores it.
type cachedDecision struct {
	Allowed    bool            `json:"a"`
	Permission string          `json:"p"`
	Reasons    []string        `json:"r"`
	Bindings   []cachedBinding `json:"b"`
	Policies   []cachedEval    `json:"e"`
}

type cachedBinding struct {
	ID, OrgID, SubjectID, RoleID string
	Scope                        model.BindingScope
	ProjectID, GrantedByID       *string
	CreatedAt                    time.Time
	Role                         model.AccessRole
	RoleOrgID                    string
	RolePerms                    []string
}

type cachedEval struct {
	Policy    model.Policy
	PolicyOrg string
	Allowed   bool
	Error     *string
}

func newCachedDecision(d *model.Decision) cachedDecision {
	c := cachedDecision{Allowed: d.Allowed, Permission: d.Permission, Reasons: d.Reasons}
	for _, b := range d.GrantingBindings {
		c.Bindings = append(c.Bindings, cachedBinding{ID: b.ID, OrgID: b.OrgID, SubjectID: b.SubjectID, RoleID: b.RoleID,
			Scope: b.Scope, ProjectID: b.ProjectID, GrantedByID: b.GrantedByID, CreatedAt: b.CreatedAt,
			Role: *b.Role, RoleOrgID: b.Role.OrgID, RolePerms: b.Role.PermNames})
	}
	for _, e := range d.EvaluatedPolicies {
		c.Policies = append(c.Policies, cachedEval{Policy: *e.Policy, PolicyOrg: e.Policy.OrgID, Allowed: e.Allowed, Error: e.Error})
	}
	return c
}

func (c cachedDecision) decision() *model.Decision {
	d := &model.Decision{Allowed: c.Allowed, Permission: c.Permission, Reasons: c.Reasons, Cached: true,
		GrantingBindings: []*model.RoleBinding{}, EvaluatedPolicies: []*model.PolicyEvaluation{}}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	for _, b := range c.Bindings {
		role := b.Role
		role.OrgID, role.PermNames = b.RoleOrgID, b.RolePerms
		d.GrantingBindings = append(d.GrantingBindings, &model.RoleBinding{ID: b.ID, OrgID: b.OrgID, SubjectID: b.SubjectID,
			RoleID: b.RoleID, Scope: b.Scope, ProjectID: b.ProjectID, GrantedByID: b.GrantedByID, CreatedAt: b.CreatedAt, Role: &role})
	}
	for _, e := range c.Policies {
		p := e.Policy
		p.OrgID = e.PolicyOrg
		d.EvaluatedPolicies = append(d.EvaluatedPolicies, &model.PolicyEvaluation{Policy: &p, Allowed: e.Allowed, Error: e.Error})
	}
	return d
}

// IsCompileError reports whether err is a condition's compile error, and its message.
func IsCompileError(err error) (string, bool) {
	ce, ok := err.(*expr.CompileError)
	if !ok {
		return "", false
	}
	return strings.TrimSpace(ce.Msg), true
}
