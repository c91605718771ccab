package policy_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/internal/gqltest"
	"github.com/studio-platform/studio/subgraphs/kit"
	"github.com/studio-platform/studio/subgraphs/policy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type env struct {
	url     string
	svc     *policy.Service
	signer  *auth.Signer
	counter *pg.QueryCounter
}

// start runs the policy subgraph on a fresh database, with the stack's Redis
// and NATS, verifying tokens signed by a test signer.
func start(t *testing.T) *env {
	t.Helper()
	st := testenv.Stack(t)
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	signer := auth.NewSigner("test", key, "studio-test")
	counter := &pg.QueryCounter{}
	svc, err := policy.New(context.Background(), policy.Config{DatabaseURL: testenv.Database(t), RedisURL: st.RedisURL},
		kit.WithVerifier(signer), kit.WithQueryTracer(counter), kit.WithEvents(kit.Events{NatsURL: st.NatsURL}))
	require.NoError(t, err)
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return &env{url: srv.URL + "/graphql", svc: svc, signer: signer, counter: counter}
}

func (e *env) token(t *testing.T, org, user string) string {
	t.Helper()
	tok, err := e.signer.Sign(auth.Claims{OrgID: org, Email: user + "@test",
		RegisteredClaims: jwt.RegisteredClaims{Subject: user, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}})
	require.NoError(t, err)
	return tok
}

func (e *env) do(t *testing.T, tok, query string, vars map[string]any, out any) {
	t.Helper()
	gqltest.Post(t, e.url, tok, query, vars).Decode(t, out)
}

const grantQ = `mutation($u: ID!, $r: String!, $s: BindingScope!, $p: ID) {
  grantRole(input: {userId: $u, role: $r, scope: $s, projectId: $p}) { id role { name } scope projectId } }`

func (e *env) grant(t *testing.T, tok, user, role, project string) {
	t.Helper()
	vars := map[string]any{"u": user, "r": role, "s": "ORGANIZATION"}
	if project != "" {
		vars["s"], vars["p"] = "PROJECT", project
	}
	var out struct{ GrantRole struct{ ID string } }
	e.do(t, tok, grantQ, vars, &out)
	require.NotEmpty(t, out.GrantRole.ID)
}

type decision struct {
	Allowed           bool
	Reasons           []string
	Cached            bool
	GrantingBindings  []struct{ Role struct{ Name string } }
	EvaluatedPolicies []struct {
		Policy  struct{ Name string }
		Allowed bool
		Error   *string
	}
}

const authorizeQ = `query($in: AuthorizeInput!) { authorize(input: $in) {
  allowed reasons cached grantingBindings { role { name } } evaluatedPolicies { policy { name } allowed error } } }`

func (e *env) authorize(t *testing.T, tok string, in map[string]any) decision {
	t.Helper()
	var out struct{ Authorize decision }
	e.do(t, tok, authorizeQ, map[string]any{"in": in}, &out)
	return out.Authorize
}

// org is an organization with an owner (bound while the organization had no
// bindings: the bootstrap rule), an auditor, a contributor of one project
// and a reviewer (custom role).
type org struct {
	id, owner, auditor, contributor, reviewer, project string
}

func newOrg(t *testing.T, e *env) org {
	o := org{id: uuid.NewString(), owner: uuid.NewString(), auditor: uuid.NewString(), contributor: uuid.NewString(),
		reviewer: uuid.NewString(), project: uuid.NewString()}
	tok := e.token(t, o.id, o.owner)
	e.grant(t, tok, o.owner, "owner", "")
	e.grant(t, tok, o.auditor, "auditor", "")
	e.grant(t, tok, o.contributor, "contributor", o.project)
	var role struct{ CreateRole struct{ Name string } }
	e.do(t, tok, `mutation { createRole(input: {name: "reviewer", description: "Reviews evidence", permissions: ["evidence:review", "project:read"]}) { name } }`, nil, &role)
	e.grant(t, tok, o.reviewer, "reviewer", "")
	return o
}

func TestRolesAndPolicies(t *testing.T) {
	e := start(t)
	o := newOrg(t, e)
	owner, auditor, contributor, reviewer := e.token(t, o.id, o.owner), e.token(t, o.id, o.auditor), e.token(t, o.id, o.contributor), e.token(t, o.id, o.reviewer)

	// An auditor reads and does not write.
	d := e.authorize(t, auditor, map[string]any{"permission": "project:read", "resource": map[string]any{"projectId": o.project}})
	require.True(t, d.Allowed, d.Reasons)
	require.Equal(t, "auditor", d.GrantingBindings[0].Role.Name)
	d = e.authorize(t, auditor, map[string]any{"permission": "project:write", "resource": map[string]any{"projectId": o.project}})
	require.False(t, d.Allowed)
	require.Contains(t, d.Reasons, "no role of the subject grants project:write in this scope")
	r := gqltest.Post(t, e.url, auditor, `mutation { createPolicy(input: {name: "x", condition: "true"}) { id } }`, nil)
	require.Equal(t, []string{kit.CodeForbidden}, r.Codes())

	// A contributor submits evidence in their project only.
	d = e.authorize(t, contributor, map[string]any{"permission": "evidence:submit", "resource": map[string]any{"projectId": o.project}})
	require.True(t, d.Allowed, d.Reasons)
	d = e.authorize(t, contributor, map[string]any{"permission": "evidence:submit", "resource": map[string]any{"projectId": uuid.NewString()}})
	require.False(t, d.Allowed)

	// CEL is checked when written: a syntax error and a non-bool are refused with CEL's message.
	r = gqltest.Post(t, e.url, owner, `mutation { createPolicy(input: {name: "bad", condition: "resource.attributes.submittedBy !="}) { id } }`, nil)
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
	require.Contains(t, r.Errors[0].Message, "condition: ERROR")
	r = gqltest.Post(t, e.url, owner, `mutation { createPolicy(input: {name: "bad", condition: "subject.id"}) { id } }`, nil)
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
	require.Contains(t, r.Errors[0].Message, "must evaluate to a bool")
	r = gqltest.Post(t, e.url, owner, `mutation { createPolicy(input: {name: "bad", condition: "nosuchvar == 1"}) { id } }`, nil)
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
	require.Contains(t, r.Errors[0].Message, "undeclared reference")

	// Four eyes: evidence is approved by someone other than its submitter.
	var created struct{ CreatePolicy struct{ ID string } }
	e.do(t, owner, `mutation { createPolicy(input: {name: "four_eyes", permission: "evidence:review",
		condition: "resource.attributes.submittedBy != subject.id"}) { id } }`, nil, &created)
	ev := func(submitter string) map[string]any {
		return map[string]any{"permission": "evidence:review", "resource": map[string]any{"type": "evidence", "id": uuid.NewString(),
			"projectId": o.project, "attributes": []map[string]any{{"key": "submittedBy", "value": submitter}}}}
	}
	d = e.authorize(t, reviewer, ev(o.reviewer))
	require.False(t, d.Allowed)
	require.Len(t, d.EvaluatedPolicies, 1)
	require.Equal(t, "four_eyes", d.EvaluatedPolicies[0].Policy.Name)
	require.Contains(t, d.Reasons, "policy four_eyes denied")
	d = e.authorize(t, reviewer, ev(o.contributor))
	require.True(t, d.Allowed, d.Reasons)
	require.Equal(t, "reviewer", d.GrantingBindings[0].Role.Name)
	d = e.authorize(t, contributor, ev(o.owner)) // RBAC first: no review permission
	require.False(t, d.Allowed)

	// The router's contract: named policies evaluated for the caller.
	e.do(t, owner, `mutation { createPolicy(input: {name: "auditors_only", condition: "'auditor' in subject.roles"}) { id } }`, nil, &created)
	var named struct {
		AuthorizeMany []struct {
			Policy  string
			Allowed bool
		}
	}
	e.do(t, auditor, `query($p: [String!]!) { authorizeMany(policies: $p) { policy allowed } }`,
		map[string]any{"p": []string{"nope", "auditors_only", "auditors_only"}}, &named)
	require.Equal(t, `[{auditors_only true} {nope false}]`, fmt.Sprint(named.AuthorizeMany))
	e.do(t, contributor, `query($p: [String!]!) { authorizeMany(policies: $p) { policy allowed } }`,
		map[string]any{"p": []string{"auditors_only"}}, &named)
	require.Equal(t, `[{auditors_only false}]`, fmt.Sprint(named.AuthorizeMany))

	// Every change is audited: who, what, before and after, newest first.
	var log struct {
		PolicyAuditLog struct {
			TotalCount int
			Nodes      []struct {
				Action, TargetType string
				Actor              *struct{ ID string }
				Before, After      *string
			}
		}
	}
	e.do(t, auditor, `{ policyAuditLog(first: 2) { totalCount nodes { action targetType actor { id } before after } } }`, nil, &log)
	require.Equal(t, 7, log.PolicyAuditLog.TotalCount) // 4 grants, 1 role, 2 policies
	require.Equal(t, "policy.created", log.PolicyAuditLog.Nodes[0].Action)
	require.Equal(t, o.owner, log.PolicyAuditLog.Nodes[0].Actor.ID)
	require.Nil(t, log.PolicyAuditLog.Nodes[0].Before)
	require.Contains(t, *log.PolicyAuditLog.Nodes[1].After, "four_eyes")
	var upd struct{ UpdatePolicy struct{ Enabled bool } }
	e.do(t, owner, `mutation($id: ID!) { updatePolicy(input: {id: $id, enabled: false}) { enabled } }`, map[string]any{"id": created.CreatePolicy.ID}, &upd)
	e.do(t, auditor, `{ policyAuditLog(first: 1) { totalCount nodes { action targetType actor { id } before after } } }`, nil, &log)
	require.Equal(t, "policy.updated", log.PolicyAuditLog.Nodes[0].Action)
	require.Contains(t, *log.PolicyAuditLog.Nodes[0].Before, `"enabled": true`)
	require.Contains(t, *log.PolicyAuditLog.Nodes[0].After, `"enabled": false`)
	// The log is append-only in the database too.
	_, err := e.svc.Store().Pool().Exec(context.Background(), "DELETE FROM audit_log")
	require.ErrorContains(t, err, "append-only")
	// A contributor may not read it.
	r = gqltest.Post(t, e.url, contributor, `{ policyAuditLog { totalCount } }`, nil)
	require.Equal(t, []string{kit.CodeForbidden}, r.Codes())
}

func TestOrganizationIsolation(t *testing.T) {
	e := start(t)
	a, b := newOrg(t, e), newOrg(t, e)
	tokA, tokB := e.token(t, a.id, a.owner), e.token(t, b.id, b.owner)
	var p struct{ CreatePolicy struct{ ID string } }
	e.do(t, tokA, `mutation { createPolicy(input: {name: "a_only", condition: "true"}) { id } }`, nil, &p)

	var lists struct {
		Policies     struct{ TotalCount int }
		RoleBindings struct{ TotalCount int }
		Roles        struct{ TotalCount int }
		Policy       *struct{ ID string }
	}
	e.do(t, tokB, `query($id: ID!) { policies { totalCount } roleBindings { totalCount } roles { totalCount } policy(id: $id) { id } }`,
		map[string]any{"id": p.CreatePolicy.ID}, &lists)
	require.Equal(t, 0, lists.Policies.TotalCount)
	require.Equal(t, 4, lists.RoleBindings.TotalCount) // b's own
	require.Equal(t, 6, lists.Roles.TotalCount)        // 5 built-in + b's reviewer
	require.Nil(t, lists.Policy)

	// Another organization's policy is neither found by id nor by name, nor changed.
	var ent struct {
		Entities []*struct{ ID string } `json:"_entities"`
	}
	e.do(t, tokB, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Policy { id } } }`,
		map[string]any{"r": []map[string]any{{"__typename": "Policy", "id": p.CreatePolicy.ID}}}, &ent)
	require.Nil(t, ent.Entities[0])
	r := gqltest.Post(t, e.url, tokB, `mutation($id: ID!) { updatePolicy(input: {id: $id, enabled: false}) { id } }`, map[string]any{"id": p.CreatePolicy.ID})
	require.Equal(t, []string{kit.CodeNotFound}, r.Codes())
	var del struct{ DeletePolicy bool }
	e.do(t, tokB, `mutation($id: ID!) { deletePolicy(id: $id) }`, map[string]any{"id": p.CreatePolicy.ID}, &del)
	require.False(t, del.DeletePolicy)

	// A's auditor is nobody in B.
	d := e.authorize(t, e.token(t, b.id, a.auditor), map[string]any{"permission": "project:read"})
	require.False(t, d.Allowed)
	// Inputs are bounded.
	r = gqltest.Post(t, e.url, tokA, `mutation { createPolicy(input: {name: "Not A Name", condition: "true"}) { id } }`, nil)
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'a'
	}
	r = gqltest.Post(t, e.url, tokA, `mutation($c: String!) { createPolicy(input: {name: "long", condition: $c}) { id } }`, map[string]any{"c": string(long)})
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
}

// TestDecisionCache: a decision is read from Redis the second time (no SQL),
// and a policy change reaches the cache through its event (outbox, relay,
// JetStream, the invalidation consumer), after which the new policy decides.
func TestDecisionCache(t *testing.T) {
	e := start(t)
	o := newOrg(t, e)
	owner, reviewer := e.token(t, o.id, o.owner), e.token(t, o.id, o.reviewer)
	var p struct{ CreatePolicy struct{ ID string } }
	e.do(t, owner, `mutation { createPolicy(input: {name: "gate", permission: "evidence:review", condition: "true"}) { id } }`, nil, &p)
	in := map[string]any{"permission": "evidence:review", "resource": map[string]any{"id": "e1"}}

	// The events of the set-up's changes may still be on their way (each
	// bumps the version): poll until an answer comes from Redis without SQL.
	require.Eventually(t, func() bool {
		e.counter.Reset()
		d := e.authorize(t, reviewer, in)
		return d.Allowed && d.Cached && e.counter.Count() == 0
	}, 20*time.Second, 50*time.Millisecond, "no decision was ever answered from the cache")

	var upd struct{ UpdatePolicy struct{ Condition string } }
	e.do(t, owner, `mutation($id: ID!) { updatePolicy(input: {id: $id, condition: "false"}) { condition } }`, map[string]any{"id": p.CreatePolicy.ID}, &upd)
	require.Eventually(t, func() bool {
		d := e.authorize(t, reviewer, in)
		return !d.Allowed
	}, 20*time.Second, 50*time.Millisecond, "the policy change's event never invalidated the cached decision")
	d := e.authorize(t, reviewer, in)
	require.False(t, d.Allowed)
	require.Contains(t, d.Reasons, "policy gate denied")
}

// TestAuthorizeBatch: 100 decisions for different subjects, permissions and
// resources in one call cost two SQL queries (bindings, policies).
func TestAuthorizeBatch(t *testing.T) {
	e := start(t)
	o := newOrg(t, e)
	owner := e.token(t, o.id, o.owner)
	var p struct{ CreatePolicy struct{ ID string } }
	e.do(t, owner, `mutation { createPolicy(input: {name: "four_eyes", permission: "evidence:review", condition: "resource.attributes.submittedBy != subject.id"}) { id } }`, nil, &p)
	subjects := []string{o.owner, o.auditor, o.contributor, o.reviewer}
	perms := []string{"project:read", "project:write", "evidence:submit", "evidence:review", "policy:manage"}
	var inputs []map[string]any
	for i := range 100 {
		inputs = append(inputs, map[string]any{"subjectId": subjects[i%4], "permission": perms[i%5],
			"resource": map[string]any{"id": fmt.Sprint("r", i), "projectId": o.project,
				"attributes": []map[string]any{{"key": "submittedBy", "value": subjects[(i+1)%4]}}}})
	}
	e.counter.Reset()
	var out struct{ AuthorizeBatch []decision }
	e.do(t, owner, `query($in: [AuthorizeInput!]!) { authorizeBatch(inputs: $in) { allowed reasons cached } }`, map[string]any{"in": inputs}, &out)
	require.Len(t, out.AuthorizeBatch, 100)
	// policy:read check of the caller (subjects other than the caller): 2 queries; the batch: 2 more.
	require.LessOrEqual(t, e.counter.Count(), int64(4), e.counter.Queries())
	for i, d := range out.AuthorizeBatch {
		if d.Cached {
			continue
		}
		sub, perm := subjects[i%4], perms[i%5]
		want := map[string]bool{o.owner: true, o.auditor: perm == "project:read",
			o.contributor: perm == "project:read" || perm == "project:write" || perm == "evidence:submit",
			o.reviewer:    perm == "project:read" || perm == "evidence:review"}[sub]
		require.Equal(t, want, d.Allowed, "input %d: %s %s %v", i, sub, perm, d.Reasons)
	}

	r := gqltest.Post(t, e.url, owner, `query($in: [AuthorizeInput!]!) { authorizeBatch(inputs: $in) { allowed } }`,
		map[string]any{"in": append(inputs, inputs[0])})
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
	// Another subject needs policy:read.
	r = gqltest.Post(t, e.url, e.token(t, o.id, o.contributor), `query($in: [AuthorizeInput!]!) { authorizeBatch(inputs: $in) { allowed } }`,
		map[string]any{"in": inputs[:1]})
	require.Equal(t, []string{kit.CodeForbidden}, r.Codes())
}
