package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/compliance"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/identity"
	"github.com/studio-platform/studio/subgraphs/kit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// counted is one subgraph's traffic: SQL queries and _entities requests.
type counted struct {
	queries  *pg.QueryCounter
	entities atomic.Int64
}

func (c *counted) reset() {
	c.queries.Reset()
	c.entities.Store(0)
}

// countEntities counts the requests to a subgraph that carry an _entities call.
func (c *counted) countEntities(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte("_entities")) {
			c.entities.Add(1)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

type graph struct {
	p          *platform.Platform
	identity   counted
	compliance counted
}

// countingLimits give the loaders a long wait, so every key of a nested level
// joins one batch even on a loaded machine: the counts the tests assert stay
// deterministic (200 ms was seen to split a level of the domain query
// in two under -race on the shared 2-core machine).
var countingLimits = kit.Limits{LoaderWait: 500 * time.Millisecond}

func start(t testing.TB, limits kit.Limits, opts ...platform.Option) *graph {
	t.Helper()
	g := &graph{identity: counted{queries: &pg.QueryCounter{}}, compliance: counted{queries: &pg.QueryCounter{}}}
	p, err := platform.Start(context.Background(), testConfig(t), append([]platform.Option{
		platform.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		platform.WithIdentityOptions(kit.WithQueryTracer(g.identity.queries), kit.WithLimits(limits)),
		platform.WithComplianceOptions(kit.WithQueryTracer(g.compliance.queries), kit.WithLimits(limits)),
		platform.WithMiddleware(identity.Name, g.identity.countEntities),
		platform.WithMiddleware(compliance.Name, g.compliance.countEntities)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	g.p = p
	return g
}

// testConfig is the platform on the test stack, every piece on a free
// port, seeded.
func testConfig(t testing.TB) platform.Config {
	t.Helper()
	return platform.Config{
		DatabaseURL:    testenv.Database(t),
		RedisURL:       testenv.Stack(t).RedisURL,
		NatsURL:        testenv.Stack(t).NatsURL,
		SupergraphFile: "../../schema/supergraph.graphql",
		RouterAddr:     "127.0.0.1:0",
		IdentityAddr:   "127.0.0.1:0",
		ComplianceAddr: "127.0.0.1:0",
		DocumentsAddr:  "127.0.0.1:0",
		S3:             testS3(t),
		PolicyAddr:     "127.0.0.1:0",
		Seed:           true,
	}
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (g *graph) post(t testing.TB, token, query string, vars map[string]any) gqlResponse {
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

func (g *graph) login(t testing.TB, email string) string {
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
	g := start(t, countingLimits)
	token := g.login(t, demo.DemoUser.Email)
	resp := g.post(t, token, `{ me { email projects { nodes { name owner { email } controls { nodes { code title } } } } } }`, nil)
	require.Empty(t, resp.Errors)
	var me struct {
		Email    string
		Projects struct {
			Nodes []struct {
				Name     string
				Owner    struct{ Email string }
				Controls struct {
					Nodes []struct{ Code, Title string }
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(resp.Data["me"], &me))
	require.Equal(t, demo.DemoUser.Email, me.Email)
	require.Len(t, me.Projects.Nodes, 1)
	require.Equal(t, demo.ProjectName, me.Projects.Nodes[0].Name)
	require.Equal(t, demo.DemoUser.Email, me.Projects.Nodes[0].Owner.Email)
	var codes []string
	for _, c := range me.Projects.Nodes[0].Controls.Nodes {
		codes = append(codes, c.Code)
	}
	require.Contains(t, codes, "AC-01")
}

// addProjects adds n projects to the demo organization, owned by the demo
// users in turn, with SOC 2 and ISO 27001 in scope, each with two controls
// mapped to one requirement of each framework, whose first has two evidence
// items submitted and owned by the demo users in turn, accepted by the demo
// user. It writes through compliance's pool.
func addProjects(t testing.TB, g *graph, n int) {
	t.Helper()
	ctx := context.Background()
	pool := g.p.Compliance.Store().Pool()
	users := demo.Users()
	for i := range n {
		pid := uuid.NewString()
		_, err := pool.Exec(ctx, `INSERT INTO projects (id, org_id, name, owner_id) VALUES ($1, $2, $3, $4)`,
			pid, demo.OrgID, fmt.Sprintf("Project %02d", i), users[i%len(users)].ID)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO project_frameworks (org_id, project_id, framework_id) VALUES ($1, $2, $3), ($1, $2, $4)`,
			demo.OrgID, pid, store.FrameworkID(store.FrameworkSOC2), store.FrameworkID(store.FrameworkISO27001))
		require.NoError(t, err)
		for j, code := range []string{"CC1.1", "CC2.1"} {
			cid := uuid.NewString()
			_, err := pool.Exec(ctx, `INSERT INTO controls (id, org_id, project_id, code, title, framework, status)
				VALUES ($1, $2, $3, $4, $5, 'SOC 2', 'IMPLEMENTED')`, cid, demo.OrgID, pid, code, fmt.Sprintf("Control %d", j))
			require.NoError(t, err)
			_, err = pool.Exec(ctx, `INSERT INTO control_requirements (org_id, control_id, requirement_id) VALUES ($1, $2, $3), ($1, $2, $4)`,
				demo.OrgID, cid, store.RequirementID(store.FrameworkSOC2, code), store.RequirementID(store.FrameworkISO27001, "A.5.1"))
			require.NoError(t, err)
			for k := range 2 * (1 - j) {
				u := users[(i+k+1)%len(users)].ID
				_, err = pool.Exec(ctx, `INSERT INTO evidence (id, org_id, control_id, title, submitted_by, owner_id, status, reviewed_by, reviewed_at)
					VALUES ($1, $2, $3, $4, $5, $5, 'ACCEPTED', $6, now())`,
					uuid.NewString(), demo.OrgID, cid, fmt.Sprintf("Evidence %d", k), u, demo.DemoUser.ID)
				require.NoError(t, err)
			}
		}
	}
}

// TestFiftyProjectsCostOneEntityCallAndOneQuery lists 50 projects with their
// owners, controls, evidence and the evidence's submitters through the
// router: every level costs one SQL query in its subgraph and every jump to
// identity one _entities request, whatever the number of parents.
func TestFiftyProjectsCostOneEntityCallAndOneQuery(t *testing.T) {
	g := start(t, countingLimits)
	token := g.login(t, demo.DemoUser.Email)
	// The seed has one project (eleven controls); add 49.
	addProjects(t, g, 49)

	type counts struct{ identitySQL, identityEntities, complianceSQL, complianceEntities int64 }
	run := func(query string) (gqlResponse, counts) {
		g.identity.reset()
		g.compliance.reset()
		resp := g.post(t, token, query, nil)
		require.Empty(t, resp.Errors)
		// Every statement is scoped by organization in SQL, but those that
		// read only the shared framework catalog.
		for _, q := range append(g.identity.queries.Queries(), g.compliance.queries.Queries()...) {
			catalog := strings.Contains(q, "FROM requirements r WHERE r.framework_id = ANY") || strings.Contains(q, "FROM frameworks f WHERE f.id = ANY")
			require.True(t, catalog || strings.Contains(q, "org_id = $2::uuid") || strings.Contains(q, "AND id = $2::uuid"), "unscoped: %s", q)
		}
		return resp, counts{g.identity.queries.Count(), g.identity.entities.Load(), g.compliance.queries.Count(), g.compliance.entities.Load()}
	}

	// One level: projects, then their owners in identity.
	resp, got := run(`{ projects(first: 50) { totalCount nodes { name owner { email } } } }`)
	var projects struct {
		TotalCount int
		Nodes      []struct {
			Name  string
			Owner struct{ Email string }
		}
	}
	require.NoError(t, json.Unmarshal(resp.Data["projects"], &projects))
	require.Len(t, projects.Nodes, 50)
	require.Equal(t, 50, projects.TotalCount)
	owners := map[string]int{}
	for _, p := range projects.Nodes {
		owners[p.Owner.Email]++
	}
	require.Len(t, owners, 3, "owners resolved from identity: %v", owners)
	require.Equal(t, counts{identitySQL: 1, identityEntities: 1, complianceSQL: 1}, got,
		"identity: %q\ncompliance: %q", g.identity.queries.Queries(), g.compliance.queries.Queries())

	// Every level: 50 projects → 103 controls → 100 evidence → their submitters.
	resp, got = run(`{ projects(first: 50) { nodes { name owner { email } controls { totalCount nodes { code
		evidence { totalCount nodes { title submittedBy { email } } } } } } } }`)
	var deep struct {
		Nodes []struct {
			Owner    struct{ Email string }
			Controls struct {
				TotalCount int
				Nodes      []struct {
					Evidence struct {
						TotalCount int
						Nodes      []struct{ SubmittedBy struct{ Email string } }
					}
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(resp.Data["projects"], &deep))
	require.Len(t, deep.Nodes, 50)
	evidence := 0
	for _, p := range deep.Nodes {
		require.NotEmpty(t, p.Owner.Email)
		require.Equal(t, len(p.Controls.Nodes), p.Controls.TotalCount)
		for _, c := range p.Controls.Nodes {
			for _, e := range c.Evidence.Nodes {
				require.NotEmpty(t, e.SubmittedBy.Email)
				evidence++
			}
		}
	}
	require.Equal(t, 49*2+len(demo.EvidenceItems()), evidence)
	// compliance: projects, controls, evidence; identity: owners and submitters.
	require.Equal(t, counts{identitySQL: 2, identityEntities: 2, complianceSQL: 3}, got,
		"identity: %q\ncompliance: %q", g.identity.queries.Queries(), g.compliance.queries.Queries())

	// The compliance domain at every level: frameworks in scope and their
	// requirements, scores, controls' mappings and their frameworks, evidence
	// owners and reviewers (one _entities call each, whatever the number of parents).
	resp, got = run(`{ projects(first: 50) { nodes { name
		frameworks { nodes { key requirements(first: 3) { totalCount nodes { code } } } }
		scores { framework { key } requirements covered percent }
		controls { nodes { code requirements { nodes { code framework { key } } }
			evidence { nodes { status current owner { email } reviewedBy { email } } } } } } } }`)
	var domain struct {
		Nodes []struct {
			Name       string
			Frameworks struct {
				Nodes []struct {
					Key          string
					Requirements struct{ TotalCount int }
				}
			}
			Scores []struct {
				Framework struct{ Key string }
				Covered   int
				Percent   float64
			}
			Controls struct {
				Nodes []struct {
					Requirements struct {
						Nodes []struct {
							Code      string
							Framework struct{ Key string }
						}
					}
					Evidence struct {
						Nodes []struct {
							Status     string
							Owner      struct{ Email string }
							ReviewedBy *struct{ Email string }
						}
					}
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(resp.Data["projects"], &domain))
	require.Len(t, domain.Nodes, 50)
	for _, p := range domain.Nodes {
		require.Len(t, p.Frameworks.Nodes, 2, p.Name)
		require.Equal(t, "ISO27001", p.Frameworks.Nodes[0].Key)
		require.Equal(t, 28, p.Frameworks.Nodes[0].Requirements.TotalCount)
		require.Len(t, p.Scores, 2)
		for _, c := range p.Controls.Nodes {
			require.NotEmpty(t, c.Requirements.Nodes)
			require.NotEmpty(t, c.Requirements.Nodes[0].Framework.Key)
			for _, e := range c.Evidence.Nodes {
				require.NotEmpty(t, e.Owner.Email)
			}
		}
		if p.Name != demo.ProjectName {
			require.Equal(t, 1, p.Scores[0].Covered, "ISO27001: A.5.1")
			require.Equal(t, 1, p.Scores[1].Covered, "SOC2: CC1.1 (CC2.1's control has no evidence)")
			require.Equal(t, "demo@studio.local", p.Controls.Nodes[0].Evidence.Nodes[0].ReviewedBy.Email)
		}
	}
	// compliance: projects, frameworks, their requirements, scores, controls,
	// their requirements, those requirements' frameworks, evidence;
	// identity: owners, reviewers (the router fetches each field's users at its path).
	require.Equal(t, counts{identitySQL: 2, identityEntities: 2, complianceSQL: 8}, got,
		"identity: %q\ncompliance: %q", g.identity.queries.Queries(), g.compliance.queries.Queries())

	// The dashboard (README): identity first, then compliance, then identity again.
	resp, got = run(platform.DashboardQuery)
	var dash struct {
		Name         string
		Organization struct{ Members struct{ TotalCount int } }
		Projects     struct {
			TotalCount int
			Nodes      []struct{ Controls struct{ TotalCount int } }
		}
	}
	require.NoError(t, json.Unmarshal(resp.Data["me"], &dash))
	require.Equal(t, demo.DemoUser.Name, dash.Name)
	require.Equal(t, 3, dash.Organization.Members.TotalCount)
	require.Equal(t, 18, dash.Projects.TotalCount, "the seeded project and 17 of the 49")
	require.Len(t, dash.Projects.Nodes, 18)
	// identity: me, organization, members, then owners and submitters;
	// compliance: the users' projects, controls, evidence.
	require.Equal(t, counts{identitySQL: 5, identityEntities: 2, complianceSQL: 3, complianceEntities: 1}, got,
		"identity: %q\ncompliance: %q", g.identity.queries.Queries(), g.compliance.queries.Queries())
}

func TestUnauthenticatedAndBadToken(t *testing.T) {
	g := start(t, countingLimits)
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

// testS3 is a fresh bucket of the stack's MinIO for the documents subgraph.
func testS3(t testing.TB) objects.Config {
	t.Helper()
	b := testenv.Bucket(t)
	return objects.Config{URL: b.URL, AccessKey: b.AccessKey, SecretKey: b.SecretKey, Bucket: b.Bucket}
}
