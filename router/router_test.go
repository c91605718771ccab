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
	"github.com/studio-platform/studio/router/config"
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

func TestProfiles(t *testing.T) {
	sdl, err := os.ReadFile("plan/testdata/basic/supergraph.graphql")
	require.NoError(t, err)
	do := func(h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, profile := range []string{config.ProfilePublic, config.ProfileDev} {
		t.Run(profile, func(t *testing.T) {
			cfg := router.ConfigFrom(config.Default(profile))
			cfg.SupergraphFile, cfg.SupergraphSDL = "", string(sdl)
			r, err := router.New(context.Background(), cfg)
			require.NoError(t, err)
			dev := profile == config.ProfileDev

			rec := do(r.Handler(), http.MethodPost, "/graphql", `{"query":"{ __schema { queryType { name } } }"}`)
			if dev {
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				require.Contains(t, rec.Body.String(), `"queryType":{"name":"Query"}`)
			} else {
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String()) // application/json: request errors are 200
				require.Contains(t, rec.Body.String(), `"code":"INTROSPECTION_DISABLED"`)
				rec = do(r.Handler(), http.MethodPost, "/graphql", `{"query":"{ ... on Query { __type(name: \"Query\") { name } } }"}`,
					"Accept", "application/graphql-response+json")
				require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
				require.Contains(t, rec.Body.String(), `"code":"INTROSPECTION_DISABLED"`)
			}
			rec = do(r.Handler(), http.MethodPost, "/graphql", `{"query":"{ __typename }"}`)
			require.Equal(t, http.StatusOK, rec.Code)
			require.JSONEq(t, `{"data":{"__typename":"Query"}}`, rec.Body.String())

			rec = do(r.Handler(), http.MethodGet, "/", "", "Accept", "text/html")
			require.Equal(t, dev, rec.Code == http.StatusOK, rec.Code)
			require.Equal(t, dev, strings.Contains(rec.Body.String(), "graphiql"), rec.Body.String())

			rec = do(r.Handler(), http.MethodPost, "/graphql", `{"query":"{ me { name } }"}`, "X-Studio-Query-Plan", "true")
			require.Equal(t, dev, strings.Contains(rec.Body.String(), `"queryPlan"`), rec.Body.String())
		})
	}
}
