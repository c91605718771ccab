package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/gqlsub"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/router/execute"
	"github.com/studio-platform/studio/router/gateway"
	"github.com/studio-platform/studio/router/supergraph"
)

type fixture struct {
	gw       *gateway.Gateway
	accounts *gqlsub.Subgraph
	projects *gqlsub.Subgraph
}

func newFixture(t *testing.T, nProjects int) *fixture {
	t.Helper()
	users := map[string]map[string]any{}
	for i := 0; i < 5; i++ {
		id := fmt.Sprint("u", i)
		users[id] = map[string]any{"id": id, "email": id + "@example.test", "name": "User " + id}
	}
	var projects []any
	for i := 0; i < nProjects; i++ {
		projects = append(projects, map[string]any{"id": fmt.Sprint("p", i), "name": fmt.Sprint("Project ", i), "owner": map[string]any{"id": fmt.Sprint("u", i%5)}})
	}
	accounts, err := gqlsub.New(`
		type Query { me: User }
		type User @key(fields: "id") { id: ID! email: String! name: String }`,
		gqlsub.WithField("Query.me", func(map[string]any, map[string]any) (any, error) { return users["u1"], nil }),
		gqlsub.WithEntity("User", func(rep map[string]any) (any, error) {
			if u, ok := users[rep["id"].(string)]; ok {
				return u, nil
			}
			return nil, nil
		}))
	require.NoError(t, err)
	projectsSG, err := gqlsub.New(`
		type Query { projects(first: Int): [Project!]! }
		type Mutation { createProject(name: String!): Project! }
		type Project @key(fields: "id") { id: ID! name: String! owner: User! secret: String }
		type User @key(fields: "id") { id: ID! projects: [Project!]! }`,
		gqlsub.WithField("Query.projects", func(_ map[string]any, args map[string]any) (any, error) {
			if n, ok := args["first"].(int64); ok && int(n) < len(projects) {
				return projects[:n], nil
			}
			return projects, nil
		}),
		gqlsub.WithField("Mutation.createProject", func(_ map[string]any, args map[string]any) (any, error) {
			return map[string]any{"id": "new", "name": args["name"], "owner": map[string]any{"id": "u1"}}, nil
		}),
		gqlsub.WithEntity("User", func(rep map[string]any) (any, error) {
			var mine []any
			for _, p := range projects {
				if p.(map[string]any)["owner"].(map[string]any)["id"] == rep["id"] {
					mine = append(mine, p)
				}
			}
			return map[string]any{"id": rep["id"], "projects": mine}, nil
		}),
		gqlsub.WithEntity("Project", func(rep map[string]any) (any, error) { return nil, nil }))
	require.NoError(t, err)
	as := httptest.NewServer(accounts)
	t.Cleanup(as.Close)
	ps := httptest.NewServer(projectsSG)
	t.Cleanup(ps.Close)
	sg := basicSupergraph(t)
	gw := gateway.New(sg, gateway.WithExecutorOptions(
		execute.WithSubgraphURL("accounts", as.URL), execute.WithSubgraphURL("projects", ps.URL)))
	return &fixture{gw: gw, accounts: accounts, projects: projectsSG}
}

// basicSupergraph is the accounts/projects supergraph of the planner's tests.
func basicSupergraph(t *testing.T) *supergraph.Supergraph {
	t.Helper()
	sdl, err := os.ReadFile("../plan/testdata/basic/supergraph.graphql")
	require.NoError(t, err)
	sg, err := supergraph.Parse(string(sdl))
	require.NoError(t, err)
	return sg
}

func do(t *testing.T, gw *gateway.Gateway, query string, vars map[string]any) *gateway.Response {
	t.Helper()
	raw := map[string]json.RawMessage{}
	for k, v := range vars {
		b, _ := json.Marshal(v)
		raw[k] = b
	}
	return gw.Do(context.Background(), gateway.Request{Query: query, Variables: raw, IncludePlan: true})
}

func TestJoinAcrossSubgraphs(t *testing.T) {
	f := newFixture(t, 50)
	resp := do(t, f.gw, `{ projects { name owner { email } } }`, nil)
	require.Equal(t, gateway.KindOK, resp.Kind)
	require.Empty(t, resp.Errors)
	var data struct {
		Projects []struct {
			Name  string
			Owner struct{ Email string }
		}
	}
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	require.Len(t, data.Projects, 50)
	require.Equal(t, "u3@example.test", data.Projects[3].Owner.Email)
	reqs := f.accounts.Requests()
	require.Len(t, reqs, 1, "one _entities call to accounts")
	require.Len(t, reqs[0].Variables["representations"], 5, "representations deduplicated")
}

func TestNestedJumpsAndOrder(t *testing.T) {
	f := newFixture(t, 10)
	resp := do(t, f.gw, `query Me { me { n: name projects { name owner { email id } } __typename } }`, nil)
	require.Empty(t, resp.Errors)
	require.JSONEq(t, `{"me":{"n":"User u1","projects":[{"name":"Project 1","owner":{"email":"u1@example.test","id":"u1"}},{"name":"Project 6","owner":{"email":"u1@example.test","id":"u1"}}],"__typename":"User"}}`, string(resp.Data))
	require.True(t, strings.HasPrefix(string(resp.Data), `{"me":{"n":`), "response keeps the client's field order")
}

func TestMutationAndVariables(t *testing.T) {
	f := newFixture(t, 3)
	resp := do(t, f.gw, `mutation($n: String!) { createProject(name: $n) { name owner { email } } }`, map[string]any{"n": "X"})
	require.Empty(t, resp.Errors)
	require.JSONEq(t, `{"createProject":{"name":"X","owner":{"email":"u1@example.test"}}}`, string(resp.Data))
}

func TestRequestErrors(t *testing.T) {
	f := newFixture(t, 1)
	require.Equal(t, gateway.KindParse, do(t, f.gw, `{ projects {`, nil).Kind)
	require.Equal(t, gateway.KindValidation, do(t, f.gw, `{ nope }`, nil).Kind)
	require.Equal(t, gateway.KindValidation, do(t, f.gw, `{ projects { secret } }`, nil).Kind, "inaccessible field")
	resp := do(t, f.gw, `query($n: Int) { projects(first: $n) { name } }`, map[string]any{"n": "x"})
	require.Equal(t, gateway.KindBadRequest, resp.Kind)
	require.Equal(t, "BAD_USER_INPUT", resp.Errors[0].Extensions["code"])
}

func TestIntrospection(t *testing.T) {
	f := newFixture(t, 1)
	resp := do(t, f.gw, `{ __schema { queryType { name } types { name } } __type(name: "Project") { fields { name } } }`, nil)
	require.Empty(t, resp.Errors)
	require.Contains(t, string(resp.Data), `"queryType":{"name":"Query"}`)
	require.NotContains(t, string(resp.Data), "secret")
	require.NotContains(t, string(resp.Data), "join__")
}

func TestSubgraphDownGivesPartialData(t *testing.T) {
	f := newFixture(t, 3)
	broken := httptest.NewServer(nil)
	broken.Close() // nothing listens there any more
	sg := basicSupergraph(t)
	projects := httptest.NewServer(f.projects)
	t.Cleanup(projects.Close)
	gw := gateway.New(sg, gateway.WithExecutorOptions(
		execute.WithSubgraphURL("accounts", broken.URL), execute.WithSubgraphURL("projects", projects.URL)))
	resp := do(t, gw, `{ projects { name owner { name } } }`, nil)
	require.Equal(t, gateway.KindOK, resp.Kind)
	require.JSONEq(t, `{"projects":[{"name":"Project 0","owner":{"name":null}},{"name":"Project 1","owner":{"name":null}},{"name":"Project 2","owner":{"name":null}}]}`, string(resp.Data))
	require.Len(t, resp.Errors, 1)
	require.Equal(t, "accounts", resp.Errors[0].Extensions["serviceName"])
	require.Equal(t, "SUBREQUEST_HTTP_ERROR", resp.Errors[0].Extensions["code"])

	// A non-null field that cannot be fetched nulls its parent, up to the nearest nullable one.
	resp = do(t, gw, `{ projects { name owner { email } } }`, nil)
	require.Equal(t, "null", string(resp.Data), "email, owner, the items and projects itself are non-null: null reaches data")
	require.NotEmpty(t, resp.Errors)
}

func TestGarbageFromSubgraph(t *testing.T) {
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data": {"me": [1,2`))
	}))
	t.Cleanup(garbage.Close)
	sg := basicSupergraph(t)
	gw := gateway.New(sg, gateway.WithExecutorOptions(execute.WithSubgraphURL("accounts", garbage.URL)))
	resp := do(t, gw, `{ me { name } }`, nil)
	require.JSONEq(t, `{"me":null}`, string(resp.Data))
	require.Len(t, resp.Errors, 1)
	require.Contains(t, resp.Errors[0].Message, "invalid JSON")
}

func TestEntityErrorsKeepClientPaths(t *testing.T) {
	users := map[string]bool{"u0": true}
	accounts, err := gqlsub.New(`
		type Query { me: User }
		type User @key(fields: "id") { id: ID! email: String! name: String }`,
		gqlsub.WithField("User.name", func(parent map[string]any, _ map[string]any) (any, error) {
			if parent["id"] == "u1" {
				return nil, fmt.Errorf("name of u1 is secret")
			}
			return "ok", nil
		}),
		gqlsub.WithEntity("User", func(rep map[string]any) (any, error) {
			return map[string]any{"id": rep["id"], "email": "x"}, nil
		}))
	require.NoError(t, err)
	_ = users
	f := newFixture(t, 3)
	as := httptest.NewServer(accounts)
	t.Cleanup(as.Close)
	ps := httptest.NewServer(f.projects)
	t.Cleanup(ps.Close)
	sg := basicSupergraph(t)
	gw := gateway.New(sg, gateway.WithExecutorOptions(execute.WithSubgraphURL("accounts", as.URL), execute.WithSubgraphURL("projects", ps.URL)))
	resp := do(t, gw, `{ projects { owner { name } } }`, nil)
	require.JSONEq(t, `{"projects":[{"owner":{"name":"ok"}},{"owner":{"name":null}},{"owner":{"name":"ok"}}]}`, string(resp.Data))
	require.Len(t, resp.Errors, 1)
	require.Equal(t, "name of u1 is secret", resp.Errors[0].Message)
	require.Equal(t, []any{"projects", 1, "owner", "name"}, resp.Errors[0].Path)
	require.Equal(t, "accounts", resp.Errors[0].Extensions["serviceName"])
}

func TestSlowSubgraphTimesOut(t *testing.T) {
	f := newFixture(t, 2)
	slow := testenv.NewFault(f.accounts)
	slow.SetDelay(2 * time.Second)
	as := httptest.NewServer(slow)
	t.Cleanup(as.Close)
	ps := httptest.NewServer(f.projects)
	t.Cleanup(ps.Close)
	sg := basicSupergraph(t)
	gw := gateway.New(sg, gateway.WithExecutorOptions(execute.WithSubgraphURL("accounts", as.URL),
		execute.WithSubgraphURL("projects", ps.URL), execute.WithSubgraphTimeout(100*time.Millisecond)))
	resp := do(t, gw, `{ projects { name owner { name } } }`, nil)
	require.JSONEq(t, `{"projects":[{"name":"Project 0","owner":{"name":null}},{"name":"Project 1","owner":{"name":null}}]}`, string(resp.Data))
	require.Len(t, resp.Errors, 1)
	require.Equal(t, "accounts", resp.Errors[0].Extensions["serviceName"])
	require.Contains(t, resp.Errors[0].Message, "deadline")
}

func TestDeduplication(t *testing.T) {
	sg := basicSupergraph(t)
	concurrent := func(gw *gateway.Gateway, tokens []string) {
		var wg sync.WaitGroup
		for _, tok := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := gw.Do(context.Background(), gateway.Request{Query: `{ me { name } }`, Header: http.Header{"Authorization": {"Bearer " + tok}}})
				require.JSONEq(t, `{"me":{"name":"User u1"}}`, string(resp.Data))
			}()
		}
		wg.Wait()
	}
	for _, tc := range []struct {
		name   string
		opts   []gateway.Option
		exec   []execute.Option
		tokens []string
		want   int
	}{
		{name: "off", tokens: []string{"a", "a", "a", "a"}, want: 4},
		{name: "inbound", opts: []gateway.Option{gateway.WithRequestDeduplication(true)}, tokens: []string{"a", "a", "a", "a"}, want: 1},
		{name: "inbound, different tokens", opts: []gateway.Option{gateway.WithRequestDeduplication(true)}, tokens: []string{"a", "b", "c", "d"}, want: 4},
		{name: "subgraph", exec: []execute.Option{execute.WithDeduplication(true)}, tokens: []string{"a", "a", "a", "a"}, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 1)
			slow := testenv.NewFault(f.accounts)
			slow.SetDelay(time.Second) // keeps the first request in flight while the others arrive
			as := httptest.NewServer(slow)
			t.Cleanup(as.Close)
			gw := gateway.New(sg, append(tc.opts, gateway.WithExecutorOptions(append(tc.exec, execute.WithSubgraphURL("accounts", as.URL))...))...)
			concurrent(gw, tc.tokens)
			require.Len(t, f.accounts.Requests(), tc.want)
		})
	}
}

// TestRelease: a response's data goes back to the pool when the server is done
// with it, except when request deduplication may have shared it.
func TestRelease(t *testing.T) {
	f := newFixture(t, 3)
	resp := do(t, f.gw, `{ projects { name } }`, nil)
	require.JSONEq(t, `{"projects":[{"name":"Project 0"},{"name":"Project 1"},{"name":"Project 2"}]}`, string(resp.Data))
	resp.Release()
	require.Nil(t, resp.Data, "released")
	resp.Release() // twice is harmless
	next := do(t, f.gw, `{ me { name } }`, nil)
	require.JSONEq(t, `{"me":{"name":"User u1"}}`, string(next.Data))

	sg := basicSupergraph(t)
	as := httptest.NewServer(f.accounts)
	t.Cleanup(as.Close)
	shared := gateway.New(sg, gateway.WithRequestDeduplication(true), gateway.WithExecutorOptions(execute.WithSubgraphURL("accounts", as.URL)))
	resp = do(t, shared, `{ me { name } }`, nil)
	resp.Release()
	require.JSONEq(t, `{"me":{"name":"User u1"}}`, string(resp.Data), "a possibly shared result is kept")
}

// TestCleartextHTTP2: with the option the executor speaks HTTP/2 without TLS to
// an http:// subgraph that accepts it, without it HTTP/1.1.
func TestCleartextHTTP2(t *testing.T) {
	sg := basicSupergraph(t)
	f := newFixture(t, 1)
	for _, h2c := range []bool{false, true} {
		var protos sync.Map
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			protos.Store(r.Proto, true)
			f.accounts.ServeHTTP(w, r)
		}))
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetHTTP1(true)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
		t.Cleanup(srv.Close)
		gw := gateway.New(sg, gateway.WithExecutorOptions(execute.WithSubgraphURL("accounts", srv.URL), execute.WithCleartextHTTP2(h2c)))
		resp := do(t, gw, `{ me { name } }`, nil)
		require.JSONEq(t, `{"me":{"name":"User u1"}}`, string(resp.Data))
		want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2c]
		_, ok := protos.Load(want)
		require.True(t, ok, "subgraph spoken to with %s", want)
	}
}

// TestSubgraphStrings: strings come through with the meaning the subgraph gave
// them (escapes, non-ASCII, HTML characters) and invalid UTF-8 becomes U+FFFD,
// always as valid JSON.
func TestSubgraphStrings(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`"plain"`, "plain"},
		{`"quote \" backslash \\ slash \/ tab \t nl \n"`, "quote \" backslash \\ slash / tab \t nl \n"},
		{`"\u00e9\u4e2d\ud83d\ude00 \u2028"`, "é中😀 \u2028"},
		{`"Zoë 中文 🎉"`, "Zoë 中文 🎉"},
		{"\"bad \xff byte\"", "bad \ufffd byte"},
		{`"<script>&amp;"`, "<script>&amp;"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"data":{"me":{"name":` + tc.raw + `}}}`))
		}))
		t.Cleanup(srv.Close)
		sg := basicSupergraph(t)
		gw := gateway.New(sg, gateway.WithExecutorOptions(execute.WithSubgraphURL("accounts", srv.URL)))
		resp := do(t, gw, `{ me { name } }`, nil)
		require.Empty(t, resp.Errors)
		require.True(t, json.Valid(resp.Data), "%s", resp.Data)
		var got struct{ Me struct{ Name string } }
		require.NoError(t, json.Unmarshal(resp.Data, &got))
		require.Equal(t, tc.want, got.Me.Name, "from %s", tc.raw)
	}
}
