package compliance_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/compliance"
	"github.com/studio-platform/studio/subgraphs/compliance/graph"
	"github.com/studio-platform/studio/subgraphs/compliance/graph/generated"
	"github.com/studio-platform/studio/subgraphs/compliance/loaders"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/identity"
	"github.com/studio-platform/studio/subgraphs/internal/gqltest"
	"github.com/studio-platform/studio/subgraphs/kit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// countingLimits give loaders a long wait, so every key of a nested level
// joins one batch even on a loaded machine (-race, 2 shared cores): the SQL
// query counts these tests assert stay deterministic.
var countingLimits = kit.Limits{LoaderWait: 200 * time.Millisecond}

type env struct {
	identityURL string
	url         string // compliance /graphql
	svc         *compliance.Service
	signer      *auth.Signer // identity's: verifies the tokens
	counter     *pg.QueryCounter
	token       string // demo user (Acme Corp)
}

// start runs identity and compliance on one database (separate schemas), both
// seeded, with compliance verifying tokens with identity's signer. jwks makes
// compliance fetch identity's JWKS over HTTP instead.
func start(t *testing.T, jwks bool) *env {
	t.Helper()
	ctx := context.Background()
	db := testenv.Database(t)
	id, err := identity.New(ctx, identity.Config{DatabaseURL: db})
	require.NoError(t, err)
	t.Cleanup(id.Close)
	require.NoError(t, id.Seed(ctx))
	idSrv := httptest.NewServer(id.Handler())
	t.Cleanup(idSrv.Close)

	counter := &pg.QueryCounter{}
	opts := []compliance.Option{kit.WithQueryTracer(counter), kit.WithLimits(countingLimits)}
	cfg := compliance.Config{DatabaseURL: db}
	if jwks {
		cfg.JWKSURL = idSrv.URL + "/.well-known/jwks.json"
	} else {
		opts = append(opts, kit.WithVerifier(id.Signer()))
	}
	svc, err := compliance.New(ctx, cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(svc.Close)
	require.NoError(t, svc.Seed(ctx))
	require.NoError(t, svc.Seed(ctx)) // idempotent
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)

	e := &env{identityURL: idSrv.URL + "/graphql", url: srv.URL + "/graphql", svc: svc, signer: id.Signer(), counter: counter}
	e.token = login(t, e.identityURL, demo.DemoUser.Email, demo.Password)
	return e
}

func login(t *testing.T, url, email, pw string) string {
	t.Helper()
	var out struct {
		Login struct {
			AccessToken string `json:"accessToken"`
		} `json:"login"`
	}
	gqltest.Post(t, url, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": email, "p": pw}).Decode(t, &out)
	return out.Login.AccessToken
}

type evidence struct {
	ID          string  `json:"id"`
	Title       string  `json:"title"`
	URL         *string `json:"url"`
	SubmittedBy *struct {
		ID string `json:"id"`
	} `json:"submittedBy"`
	Control struct {
		Code string `json:"code"`
	} `json:"control"`
}

type control struct {
	ID        string     `json:"id"`
	Code      string     `json:"code"`
	Title     string     `json:"title"`
	Framework string     `json:"framework"`
	Status    string     `json:"status"`
	Evidence  []evidence `json:"evidence"`
}

type project struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Owner struct {
		ID string `json:"id"`
	} `json:"owner"`
	Controls []control `json:"controls"`
}

const projectFields = `id name owner { id } controls { id code title framework status evidence { id title url submittedBy { id } control { code } } }`

func TestCreateProjectAddControlAddEvidence(t *testing.T) {
	e := start(t, false)

	var cp struct{ CreateProject project }
	gqltest.Post(t, e.url, e.token, `mutation($in: CreateProjectInput!) { createProject(input: $in) { `+projectFields+` } }`,
		map[string]any{"in": map[string]any{"name": "ISO 27001 Certification", "description": "Annex A"}}).Decode(t, &cp)
	require.Equal(t, "ISO 27001 Certification", cp.CreateProject.Name)
	require.Equal(t, demo.DemoUser.ID, cp.CreateProject.Owner.ID)
	require.Empty(t, cp.CreateProject.Controls)

	const addControl = `mutation($in: AddControlInput!) { addControl(input: $in) { id code title framework status evidence { id } } }`
	var ac struct{ AddControl control }
	gqltest.Post(t, e.url, e.token, addControl, map[string]any{"in": map[string]any{
		"projectId": cp.CreateProject.ID, "code": "A.5.15", "title": "Access control", "framework": "ISO 27001",
	}}).Decode(t, &ac)
	require.Equal(t, "NOT_STARTED", ac.AddControl.Status)
	require.Equal(t, "ISO 27001", ac.AddControl.Framework)
	var ac2 struct{ AddControl control }
	gqltest.Post(t, e.url, e.token, addControl, map[string]any{"in": map[string]any{
		"projectId": cp.CreateProject.ID, "code": "A.8.16", "title": "Monitoring activities", "framework": "ISO 27001", "status": "IN_PROGRESS",
	}}).Decode(t, &ac2)
	dup := gqltest.Post(t, e.url, e.token, addControl, map[string]any{"in": map[string]any{
		"projectId": cp.CreateProject.ID, "code": "A.5.15", "title": "again", "framework": "ISO 27001",
	}})
	require.Equal(t, []string{"BAD_USER_INPUT"}, dup.Codes())
	missing := gqltest.Post(t, e.url, e.token, addControl, map[string]any{"in": map[string]any{
		"projectId": uuid.NewString(), "code": "X", "title": "x",
	}})
	require.Equal(t, []string{"NOT_FOUND"}, missing.Codes())

	var ae struct{ AddEvidence evidence }
	gqltest.Post(t, e.url, e.token, `mutation($in: AddEvidenceInput!) { addEvidence(input: $in) { id title url submittedBy { id } control { code } } }`,
		map[string]any{"in": map[string]any{"controlId": ac.AddControl.ID, "title": "Access policy v3", "url": "https://docs.example.com/access.pdf"}}).Decode(t, &ae)
	require.Equal(t, "A.5.15", ae.AddEvidence.Control.Code)
	require.Equal(t, demo.DemoUser.ID, ae.AddEvidence.SubmittedBy.ID)
	badURL := gqltest.Post(t, e.url, e.token, `mutation($in: AddEvidenceInput!) { addEvidence(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"controlId": ac.AddControl.ID, "title": "x", "url": "javascript:alert(1)"}})
	require.Equal(t, []string{"BAD_USER_INPUT"}, badURL.Codes())

	var got struct{ Project *project }
	gqltest.Post(t, e.url, e.token, `query($id: ID!) { project(id: $id) { `+projectFields+` } }`,
		map[string]any{"id": cp.CreateProject.ID}).Decode(t, &got)
	require.NotNil(t, got.Project)
	require.Len(t, got.Project.Controls, 2)
	require.Equal(t, "A.5.15", got.Project.Controls[0].Code)
	require.Len(t, got.Project.Controls[0].Evidence, 1)
	require.Equal(t, ae.AddEvidence.ID, got.Project.Controls[0].Evidence[0].ID)
	require.Equal(t, "IN_PROGRESS", got.Project.Controls[1].Status)

	// Another organization sees none of it.
	var su struct {
		SignUp struct {
			AccessToken string `json:"accessToken"`
		} `json:"signUp"`
	}
	gqltest.Post(t, e.identityURL, "", `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken } }`, map[string]any{
		"in": map[string]any{"email": "mallory@evil.test", "password": "password123", "name": "Mallory", "organizationName": "Evil Inc"},
	}).Decode(t, &su)
	other := su.SignUp.AccessToken
	gqltest.Post(t, e.url, other, `query($id: ID!) { project(id: $id) { id } }`, map[string]any{"id": cp.CreateProject.ID}).Decode(t, &got)
	require.Nil(t, got.Project)
	var list struct{ Projects []project }
	gqltest.Post(t, e.url, other, `{ projects { id } }`, nil).Decode(t, &list)
	require.Empty(t, list.Projects)
	foreign := gqltest.Post(t, e.url, other, addControl, map[string]any{"in": map[string]any{
		"projectId": cp.CreateProject.ID, "code": "EVIL", "title": "x",
	}})
	require.Equal(t, []string{"NOT_FOUND"}, foreign.Codes())

	// Anonymous requests are refused with UNAUTHENTICATED.
	anon := gqltest.Post(t, e.url, "", `{ projects { id } }`, nil)
	require.Equal(t, []string{"UNAUTHENTICATED"}, anon.Codes())
	anonMut := gqltest.Post(t, e.url, "", `mutation { createProject(input: {name: "x"}) { id } }`, nil)
	require.Equal(t, []string{"UNAUTHENTICATED"}, anonMut.Codes())
}

func TestSeededSOC2ProjectOverJWKS(t *testing.T) {
	e := start(t, true) // compliance verifies against identity's JWKS over HTTP
	var list struct{ Projects []project }
	gqltest.Post(t, e.url, e.token, `{ projects { `+projectFields+` } }`, nil).Decode(t, &list)
	require.Len(t, list.Projects, 1)
	p := list.Projects[0]
	require.Equal(t, demo.ProjectName, p.Name)
	require.Equal(t, demo.DemoUser.ID, p.Owner.ID)
	var codes []string
	for _, c := range p.Controls {
		codes = append(codes, c.Code)
		require.Equal(t, "SOC 2", c.Framework)
	}
	require.Equal(t, []string{"CC6.1", "CC6.2", "CC6.3", "CC7.2", "CC8.1"}, codes)
	require.Equal(t, "Logical and physical access controls", p.Controls[0].Title)
	require.Len(t, p.Controls[0].Evidence, 1)
	require.Equal(t, demo.DemoUser.ID, p.Controls[0].Evidence[0].SubmittedBy.ID)
	require.Equal(t, demo.Alice.ID, p.Controls[1].Evidence[0].SubmittedBy.ID)

	// Alice (same organization) sees the project too.
	alice := login(t, e.identityURL, demo.Alice.Email, demo.Password)
	gqltest.Post(t, e.url, alice, `{ projects { id } }`, nil).Decode(t, &list)
	require.Len(t, list.Projects, 1)
}

// addProjects inserts n projects of the demo organization owned by owners
// (round robin), each with two controls and one evidence item.
func addProjects(t *testing.T, e *env, n int, owners []string) []string {
	t.Helper()
	ctx := context.Background()
	pool := e.svc.Store().Pool()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
		_, err := pool.Exec(ctx, `INSERT INTO projects (id, org_id, name, owner_id) VALUES ($1, $2, $3, $4)`,
			ids[i], demo.OrgID, fmt.Sprintf("Project %02d", i), owners[i%len(owners)])
		require.NoError(t, err)
		for j, code := range []string{"CC1.1", "CC2.1"} {
			cid := uuid.NewString()
			_, err := pool.Exec(ctx, `INSERT INTO controls (id, org_id, project_id, code, title, framework, status)
				VALUES ($1, $2, $3, $4, $5, 'SOC 2', 'NOT_STARTED')`, cid, demo.OrgID, ids[i], code, fmt.Sprintf("Control %d", j))
			require.NoError(t, err)
			if j == 0 {
				_, err = pool.Exec(ctx, `INSERT INTO evidence (id, org_id, control_id, title) VALUES ($1, $2, $3, 'e')`,
					uuid.NewString(), demo.OrgID, cid)
				require.NoError(t, err)
			}
		}
	}
	return ids
}

func TestProjectControlsForManyProjectsIsOneQuery(t *testing.T) {
	e := start(t, false)
	addProjects(t, e, 40, []string{demo.DemoUser.ID})

	// Project.controls for 41 projects: the projects query plus ONE controls query.
	e.counter.Reset()
	var list struct{ Projects []project }
	gqltest.Post(t, e.url, e.token, `{ projects { id controls { code } } }`, nil).Decode(t, &list)
	require.Len(t, list.Projects, 41)
	require.Equal(t, int64(2), e.counter.Count(), "queries: %q", e.counter.Queries())

	e.counter.Reset()
	gqltest.Post(t, e.url, e.token, `{ projects { id controls { code evidence { id control { code } } } } }`, nil).Decode(t, &list)
	require.Len(t, list.Projects, 41)
	for _, p := range list.Projects {
		if p.ID == demo.ProjectID {
			continue
		}
		require.Len(t, p.Controls, 2)
		require.Len(t, p.Controls[0].Evidence, 1)
		require.Equal(t, p.Controls[0].Code, p.Controls[0].Evidence[0].Control.Code)
	}
	// projects, controls of all 41 projects, evidence of all 85 controls,
	// controls of all evidence: four queries, not 1 + 41 + 85 + ….
	require.Equal(t, int64(4), e.counter.Count(), "queries: %q", e.counter.Queries())
}

func TestEntitiesAreOneQueryInKeyOrder(t *testing.T) {
	e := start(t, false)
	ids := addProjects(t, e, 48, []string{demo.DemoUser.ID, demo.Alice.ID, demo.Bob.ID})

	// 50 Project representations: 48 in reverse order, one unknown, one malformed.
	var reps []map[string]any
	var want []string
	for i := len(ids) - 1; i >= 0; i-- {
		reps = append(reps, map[string]any{"__typename": "Project", "id": ids[i]})
		want = append(want, ids[i])
	}
	reps = append(reps, map[string]any{"__typename": "Project", "id": uuid.NewString()}, map[string]any{"__typename": "Project", "id": "nope"})
	want = append(want, "", "")
	e.counter.Reset()
	var out struct {
		Entities []*struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"_entities"`
	}
	gqltest.Post(t, e.url, e.token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id name } } }`,
		map[string]any{"r": reps}).Decode(t, &out)
	require.Equal(t, int64(1), e.counter.Count(), "queries: %q", e.counter.Queries())
	require.Len(t, out.Entities, 50)
	for i, w := range want {
		if w == "" {
			require.Nil(t, out.Entities[i], "index %d", i)
		} else {
			require.Equal(t, w, out.Entities[i].ID, "index %d", i)
		}
	}

	// 50 User representations with their projects: the users cost nothing
	// (compliance knows them by key), their projects one query.
	var userReps []map[string]any
	users := []string{demo.DemoUser.ID, demo.Alice.ID, demo.Bob.ID}
	for i := range 50 {
		id := uuid.NewString()
		if i%10 == 0 {
			id = users[(i/10)%3]
		}
		userReps = append(userReps, map[string]any{"__typename": "User", "id": id})
	}
	e.counter.Reset()
	var uout struct {
		Entities []struct {
			ID       string `json:"id"`
			Projects []struct {
				ID string `json:"id"`
			} `json:"projects"`
		} `json:"_entities"`
	}
	gqltest.Post(t, e.url, e.token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id projects { id } } } }`,
		map[string]any{"r": userReps}).Decode(t, &uout)
	require.Equal(t, int64(1), e.counter.Count(), "queries: %q", e.counter.Queries())
	require.Len(t, uout.Entities, 50)
	total := 0
	for i, u := range uout.Entities {
		require.Equal(t, userReps[i]["id"], u.ID)
		total += len(u.Projects)
	}
	// Demo user: 16 added + the seeded one; Alice and Bob 16 each; each owner appears twice or so.
	require.Positive(t, total)
	require.Len(t, uout.Entities[0].Projects, 17)  // demo user
	require.Len(t, uout.Entities[10].Projects, 16) // alice
	require.Empty(t, uout.Entities[1].Projects)
}

// TestMissingLoaderMiddlewareFailsLoudly serves the schema without the loader
// middleware: a relation field answers a logged INTERNAL_SERVER_ERROR instead
// of quietly running one query per parent.
func TestMissingLoaderMiddlewareFailsLoudly(t *testing.T) {
	e := start(t, false)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	st := e.svc.Store()
	res := &graph.Resolver{Store: st, Loaders: loaders.New(st)}
	gql := kit.NewHandler(generated.NewExecutableSchema(generated.Config{Resolvers: res}), log)
	srv := httptest.NewServer(auth.Middleware(e.signer)(gql)) // no loader middleware
	t.Cleanup(srv.Close)
	e.counter.Reset()
	resp := gqltest.Post(t, srv.URL, e.token, `{ projects { id controls { id } } }`, nil)
	require.NotEmpty(t, resp.Errors)
	require.Equal(t, "INTERNAL_SERVER_ERROR", resp.Errors[0].Code())
	require.Equal(t, "internal error", resp.Errors[0].Message, "no internals leak")
	require.Contains(t, logs.String(), "loader middleware did not run")
	require.Equal(t, int64(1), e.counter.Count(), "only the projects query ran: %q", e.counter.Queries())
}
