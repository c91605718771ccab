package platform_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/demo"
)

// TestPolicyThroughTheRouter: the seeded roles decide through the router —
// the demo user owns Acme, Bob audits it (reads, never writes) — and a CEL
// policy written through the router is enforced by authorize.
func TestPolicyThroughTheRouter(t *testing.T) {
	g := start(t, countingLimits)
	owner, bob := g.login(t, demo.DemoUser.Email), g.login(t, demo.Bob.Email)
	const q = `query($in: [AuthorizeInput!]!) { authorizeBatch(inputs: $in) { permission allowed reasons } }`
	inputs := []map[string]any{
		{"permission": "project:read", "resource": map[string]any{"projectId": demo.ProjectID}},
		{"permission": "project:write", "resource": map[string]any{"projectId": demo.ProjectID}},
	}
	type decision struct {
		Permission string
		Allowed    bool
		Reasons    []string
	}
	var ds []decision
	resp := g.post(t, bob, q, map[string]any{"in": inputs})
	require.Empty(t, resp.Errors)
	require.NoError(t, json.Unmarshal(resp.Data["authorizeBatch"], &ds))
	require.True(t, ds[0].Allowed, ds[0].Reasons)
	require.False(t, ds[1].Allowed, ds[1].Reasons)

	resp = g.post(t, bob, `mutation { createPolicy(input: {name: "x", condition: "true"}) { id } }`, nil)
	require.Len(t, resp.Errors, 1)
	require.Equal(t, "FORBIDDEN", resp.Errors[0].Extensions["code"])

	resp = g.post(t, owner, `mutation { createPolicy(input: {name: "four_eyes", permission: "evidence:review",
		condition: "resource.attributes.submittedBy != subject.id"}) { name } }`, nil)
	require.Empty(t, resp.Errors)
	ev := func(submitter string) map[string]any {
		return map[string]any{"permission": "evidence:review", "resource": map[string]any{"type": "evidence",
			"attributes": []map[string]any{{"key": "submittedBy", "value": submitter}}}}
	}
	resp = g.post(t, owner, q, map[string]any{"in": []map[string]any{ev(demo.DemoUser.ID), ev(demo.Alice.ID)}})
	require.Empty(t, resp.Errors)
	require.NoError(t, json.Unmarshal(resp.Data["authorizeBatch"], &ds))
	require.False(t, ds[0].Allowed, "the submitter approved their own evidence: %v", ds[0].Reasons)
	require.Contains(t, ds[0].Reasons, "policy four_eyes denied")
	require.True(t, ds[1].Allowed, ds[1].Reasons)

	resp = g.post(t, owner, `mutation { createPolicy(input: {name: "bad", condition: "subject.id +"}) { name } }`, nil)
	require.Len(t, resp.Errors, 1)
	require.Equal(t, "BAD_USER_INPUT", resp.Errors[0].Extensions["code"])
}

// TestSignUpMakesTheOwner: identity's user.created event binds a new
// organization's first user as its owner (policy-bootstrap consumer); until
// then the organization has no binding and its caller acts as owner, so a
// write right after sign-up is never refused.
func TestSignUpMakesTheOwner(t *testing.T) {
	g := start(t, countingLimits)
	resp := g.post(t, "", `mutation { signUp(input: {email: "founder@newco.test", password: "correct horse battery",
		name: "Founder", organizationName: "NewCo"}) { accessToken user { id } } }`, nil)
	require.Empty(t, resp.Errors)
	var su struct {
		AccessToken string
		User        struct{ ID string }
	}
	require.NoError(t, json.Unmarshal(resp.Data["signUp"], &su))

	// At once: allowed, by the bootstrap rule or by the binding if the event was quick.
	resp = g.post(t, su.AccessToken, `mutation { createPolicy(input: {name: "always", condition: "true"}) { name } }`, nil)
	require.Empty(t, resp.Errors)

	require.Eventually(t, func() bool {
		resp := g.post(t, su.AccessToken, `query($u: ID!) { roleBindings(userId: $u) { nodes { role { name } scope grantedBy { id } } } }`,
			map[string]any{"u": su.User.ID})
		var rb struct {
			Nodes []struct {
				Role      struct{ Name string }
				Scope     string
				GrantedBy *struct{ ID string }
			}
		}
		if len(resp.Errors) > 0 || json.Unmarshal(resp.Data["roleBindings"], &rb) != nil || len(rb.Nodes) != 1 {
			return false
		}
		n := rb.Nodes[0]
		return n.Role.Name == "owner" && n.Scope == "ORGANIZATION" && n.GrantedBy == nil
	}, 20*time.Second, 50*time.Millisecond, "identity's user.created event never bound the founder as owner")
}
