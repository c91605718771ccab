package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/identity"
	"github.com/studio-platform/studio/subgraphs/kit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type graph struct {
	p                *platform.Platform
	identityQueries  *pg.QueryCounter
	identityEntities atomic.Int64
}

func start(t *testing.T) *graph {
	t.Helper()
	g := &graph{identityQueries: &pg.QueryCounter{}}
	countEntities := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if bytes.Contains(body, []byte("_entities")) {
				g.identityEntities.Add(1)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
		})
	}
	p, err := platform.Start(context.Background(), platform.Config{
		DatabaseURL:    testenv.Database(t),
		SupergraphFile: "../../schema/supergraph.graphql",
		RouterAddr:     "127.0.0.1:0",
		IdentityAddr:   "127.0.0.1:0",
		ComplianceAddr: "127.0.0.1:0",
		Seed:           true,
	}, platform.WithIdentityOptions(kit.WithQueryTracer(g.identityQueries)),
		platform.WithMiddleware(identity.Name, countEntities))
	require.NoError(t, err)
	t.Cleanup(p.Close)
	g.p = p
	return g
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (g *graph) post(t *testing.T, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, g.p.RouterURL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var out gqlResponse
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return out
}

func (g *graph) login(t *testing.T, email string) string {
	t.Helper()
	resp := g.post(t, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": email, "p": demo.Password})
	require.Empty(t, resp.Errors)
	var login struct{ AccessToken string }
	require.NoError(t, json.Unmarshal(resp.Data["login"], &login))
	require.NotEmpty(t, login.AccessToken)
	return login.AccessToken
}

// TestDemoQueryJoinsBothSubgraphs is the walking skeleton's acceptance query.
func TestDemoQueryJoinsBothSubgraphs(t *testing.T) {
	g := start(t)
	token := g.login(t, demo.DemoUser.Email)
	resp := g.post(t, token, `{ me { email projects { name owner { email } controls { code title } } } }`, nil)
	require.Empty(t, resp.Errors)
	var me struct {
		Email    string
		Projects []struct {
			Name     string
			Owner    struct{ Email string }
			Controls []struct{ Code, Title string }
		}
	}
	require.NoError(t, json.Unmarshal(resp.Data["me"], &me))
	require.Equal(t, demo.DemoUser.Email, me.Email)
	require.Len(t, me.Projects, 1)
	require.Equal(t, demo.ProjectName, me.Projects[0].Name)
	require.Equal(t, demo.DemoUser.Email, me.Projects[0].Owner.Email)
	var codes []string
	for _, c := range me.Projects[0].Controls {
		codes = append(codes, c.Code)
	}
	require.Contains(t, codes, "CC6.1")
}

// TestFiftyProjectsCostOneEntityCallAndOneQuery lists 50 projects with their
// owners: identity must see exactly one _entities request and run one SQL query.
func TestFiftyProjectsCostOneEntityCallAndOneQuery(t *testing.T) {
	g := start(t)
	users := demo.Users()
	tokens := make([]string, len(users))
	for i, u := range users {
		tokens[i] = g.login(t, u.Email)
	}
	// The seed has one project; add 49 owned by the three demo users in turn.
	for i := 0; i < 49; i++ {
		resp := g.post(t, tokens[i%3], `mutation($in: CreateProjectInput!) { createProject(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"name": fmt.Sprintf("Project %02d", i)}})
		require.Empty(t, resp.Errors)
	}
	g.identityEntities.Store(0)
	g.identityQueries.Reset()
	resp := g.post(t, tokens[0], `{ projects { name owner { email } } }`, nil)
	require.Empty(t, resp.Errors)
	var projects []struct {
		Name  string
		Owner struct{ Email string }
	}
	require.NoError(t, json.Unmarshal(resp.Data["projects"], &projects))
	require.Len(t, projects, 50)
	owners := map[string]int{}
	for _, p := range projects {
		owners[p.Owner.Email]++
	}
	require.Len(t, owners, 3, "owners resolved from identity: %v", owners)
	require.Equal(t, int64(1), g.identityEntities.Load(), "one _entities request to identity")
	require.Equal(t, int64(1), g.identityQueries.Count(), "one SQL query in identity")
}

func TestUnauthenticatedAndBadToken(t *testing.T) {
	g := start(t)
	resp := g.post(t, "", `{ me { email } }`, nil)
	require.Equal(t, "null", string(resp.Data["me"]))
	req, _ := http.NewRequest(http.MethodPost, g.p.RouterURL+"/graphql", strings.NewReader(`{"query":"{ me { email } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer not-a-token")
	hr, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer hr.Body.Close()
	require.Equal(t, http.StatusUnauthorized, hr.StatusCode)
	var body gqlResponse
	require.NoError(t, json.NewDecoder(hr.Body).Decode(&body))
	require.Equal(t, "UNAUTHENTICATED", body.Errors[0].Extensions["code"])
}
