package router_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/router"
)

func TestQueryPlansCanBeHidden(t *testing.T) {
	sdl, err := os.ReadFile("plan/testdata/basic/supergraph.graphql")
	require.NoError(t, err)
	for _, hide := range []bool{false, true} {
		r, err := router.New(context.Background(), router.Config{SupergraphSDL: string(sdl), HideQueryPlans: hide})
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ me { name } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Studio-Query-Plan", "true")
		rec := httptest.NewRecorder()
		r.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, !hide, strings.Contains(rec.Body.String(), `"queryPlan"`), rec.Body.String())
	}
}

func TestConfigIsValidated(t *testing.T) {
	_, err := router.New(context.Background(), router.Config{MaxBodyBytes: -1, MaxConcurrentExecutions: -1})
	require.Error(t, err)
	require.Contains(t, err.Error(), "supergraph file is required")
	require.Contains(t, err.Error(), "MaxBodyBytes")
	require.Contains(t, err.Error(), "MaxConcurrentExecutions")
}
