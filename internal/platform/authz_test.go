package platform_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/demo"
)

// TestAnonymousCallersAreRefusedAtTheRouter: the fields that need a token carry
// @authenticated, so the router answers an anonymous caller itself — null and
// UNAUTHORIZED_FIELD_OR_TYPE at each path — and no subgraph runs a query.
func TestAnonymousCallersAreRefusedAtTheRouter(t *testing.T) {
	g := start(t, countingLimits)
	g.identity.reset()
	g.compliance.reset()
	for _, field := range []string{"projects", "users"} {
		resp := g.post(t, "", `{ `+field+` { totalCount } }`, nil)
		require.Nil(t, resp.Data, "a non-null field: data is null")
		require.Len(t, resp.Errors, 1)
		require.Equal(t, "UNAUTHORIZED_FIELD_OR_TYPE", resp.Errors[0].Extensions["code"])
		require.Equal(t, []any{field}, resp.Errors[0].Path)
	}
	resp := g.post(t, "", `{ me { id } user(id: "x") { id } }`, nil)
	require.Equal(t, "null", string(resp.Data["me"]), "me stays open: null for an anonymous caller")
	require.Equal(t, "null", string(resp.Data["user"]))
	require.Len(t, resp.Errors, 1)
	require.Equal(t, []any{"user"}, resp.Errors[0].Path)
	require.Zero(t, g.compliance.queries.Count(), "compliance ran no SQL: %q", g.compliance.queries.Queries())
	require.Zero(t, g.identity.queries.Count(), "identity ran no SQL: %q", g.identity.queries.Queries())

	resp = g.post(t, "", `mutation { createProject(input: {name: "x"}) { id } }`, nil)
	require.Len(t, resp.Errors, 1)
	require.Equal(t, "UNAUTHORIZED_FIELD_OR_TYPE", resp.Errors[0].Extensions["code"])
	require.Equal(t, []any{"createProject"}, resp.Errors[0].Path)
	require.Zero(t, g.compliance.queries.Count())

	token := g.login(t, demo.DemoUser.Email)
	resp = g.post(t, token, `{ projects { totalCount } users { totalCount } }`, nil)
	require.Empty(t, resp.Errors)
}
