package router_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/router/config"
	"github.com/studio-platform/studio/router/limits"
)

// TestLimitsOverHTTP: a refused operation is HTTP 400 with its code whatever
// the client accepts, and the config file's limits section reaches the gateway.
func TestLimitsOverHTTP(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/router.yaml"
	require.NoError(t, os.WriteFile(file, []byte("supergraph: plan/testdata/basic/supergraph.graphql\nlimits:\n  max_depth: 2\n"), 0o600))
	c, err := config.Load(file, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	r, err := router.New(context.Background(), router.ConfigFrom(c))
	require.NoError(t, err)
	post := func(query, accept string) (int, string) {
		body, _ := json.Marshal(map[string]string{"query": query})
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		r.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, accept := range []string{"application/json", "application/graphql-response+json"} {
		code, body := post("{ me { projects { id } } }", accept)
		require.Equal(t, http.StatusBadRequest, code, body)
		require.Contains(t, body, `"code":"`+limits.CodeDepth+`"`)
		require.NotContains(t, body, `"data"`)

		code, body = post("{"+strings.Repeat(" __typename", 40_000)+" }", accept)
		require.Equal(t, http.StatusBadRequest, code)
		require.Contains(t, body, `"code":"`+limits.CodeTokens+`"`)
	}
	code, body := post("{ __typename }", "application/json")
	require.Equal(t, http.StatusOK, code, body)
}
