package compliance_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
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
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/identity"
	"github.com/studio-platform/studio/subgraphs/internal/eventtest"
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
	natsURL     string
}

// start runs identity and compliance on one database (separate schemas), both
// seeded, with compliance verifying tokens with identity's signer. jwks makes
// compliance fetch identity's JWKS over HTTP instead.
func start(t *testing.T, jwks bool) *env {
	t.Helper()
	ctx := context.Background()
	db := testenv.Database(t)
	evs := kit.WithEvents(kit.Events{NatsURL: testenv.Stack(t).NatsURL})
	id, err := identity.New(ctx, identity.Config{DatabaseURL: db}, evs)
	require.NoError(t, err)
	t.Cleanup(id.Close)
	require.NoError(t, id.Seed(ctx))
	idSrv := httptest.NewServer(id.Handler())
	t.Cleanup(idSrv.Close)

	counter := &pg.QueryCounter{}
	opts := []compliance.Option{kit.WithQueryTracer(counter), kit.WithLimits(countingLimits), evs}
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

	e := &env{identityURL: idSrv.URL + "/graphql", url: srv.URL + "/graphql", svc: svc, signer: id.Signer(), counter: counter, natsURL: testenv.Stack(t).NatsURL}
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
	ID        string         `json:"id"`
	Code      string         `json:"code"`
	Title     string         `json:"title"`
	Framework string         `json:"framework"`
	Status    string         `json:"status"`
	Evidence  conn[evidence] `json:"evidence"`
}

type project struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Owner struct {
		ID string `json:"id"`
	} `json:"owner"`
	Controls conn[control] `json:"controls"`
}

// conn is a Relay connection as the tests read it.
type conn[T any] struct {
	Nodes      []T `json:"nodes"`
	TotalCount int `json:"totalCount"`
	PageInfo   struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
}

const projectFields = `id name owner { id } controls { totalCount nodes { id code title framework status evidence { nodes { id title url submittedBy { id } control { code } } } } }`

func TestCreateProjectAddControlAddEvidence(t *testing.T) {
	e := start(t, false)

	var cp struct{ CreateProject project }
	gqltest.Post(t, e.url, e.token, `mutation($in: CreateProjectInput!) { createProject(input: $in) { `+projectFields+` } }`,
		map[string]any{"in": map[string]any{"name": "ISO 27001 Certification", "description": "Annex A"}}).Decode(t, &cp)
	require.Equal(t, "ISO 27001 Certification", cp.CreateProject.Name)
	require.Equal(t, demo.DemoUser.ID, cp.CreateProject.Owner.ID)
	require.Empty(t, cp.CreateProject.Controls.Nodes)
	require.Zero(t, cp.CreateProject.Controls.TotalCount)

	const addControl = `mutation($in: AddControlInput!) { addControl(input: $in) { id code title framework status evidence { nodes { id } } } }`
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
	// Every input is bounded; all problems come back at once.
	tooLong := gqltest.Post(t, e.url, e.token, `mutation($in: AddControlInput!) { addControl(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"projectId": cp.CreateProject.ID, "code": strings.Repeat("C", kit.MaxName+1),
			"title": " ", "description": strings.Repeat("d", kit.MaxDescription+1)}})
	require.Equal(t, []string{"BAD_USER_INPUT"}, tooLong.Codes())
	require.Equal(t, "code must be at most 200 characters; title is required; description must be at most 10000 characters", tooLong.Errors[0].Message)
	longID := gqltest.Post(t, e.url, e.token, `query($id: ID!) { project(id: $id) { id } }`, map[string]any{"id": strings.Repeat("x", kit.MaxID+1)})
	require.Equal(t, []string{"BAD_USER_INPUT"}, longID.Codes())

	// Each write published its event (outbox → relay → JetStream), with the organization.
	wait := 30 * time.Second
	pe, org := eventtest.Wait(t, e.natsURL, store.SubjectProjectCreated, wait, func(p store.ProjectEvent) bool { return p.ID == cp.CreateProject.ID })
	require.Equal(t, demo.OrgID, org)
	require.Equal(t, store.ProjectEvent{ID: cp.CreateProject.ID, Name: "ISO 27001 Certification", Description: "Annex A", OwnerID: demo.DemoUser.ID, FrameworkIDs: []string{}, Version: 1}, pe)
	ce, _ := eventtest.Wait(t, e.natsURL, store.SubjectControlAdded, wait, func(c store.ControlEvent) bool { return c.ID == ac2.AddControl.ID })
	require.Equal(t, "IN_PROGRESS", ce.Status)
	require.Equal(t, cp.CreateProject.ID, ce.ProjectID)
	ee, _ := eventtest.Wait(t, e.natsURL, store.SubjectEvidenceSubmitted, wait, func(v store.EvidenceEvent) bool { return v.ID == ae.AddEvidence.ID })
	require.Equal(t, ac.AddControl.ID, ee.ControlID)
	// The demo seed's rows were published like any other (once: the second Seed inserted nothing).
	eventtest.Wait(t, e.natsURL, store.SubjectProjectCreated, wait, func(p store.ProjectEvent) bool { return p.ID == demo.ProjectID })

	var got struct{ Project *project }
	gqltest.Post(t, e.url, e.token, `query($id: ID!) { project(id: $id) { `+projectFields+` } }`,
		map[string]any{"id": cp.CreateProject.ID}).Decode(t, &got)
	require.NotNil(t, got.Project)
	require.Len(t, got.Project.Controls.Nodes, 2)
	require.Equal(t, "A.5.15", got.Project.Controls.Nodes[0].Code)
	require.Len(t, got.Project.Controls.Nodes[0].Evidence.Nodes, 1)
	require.Equal(t, ae.AddEvidence.ID, got.Project.Controls.Nodes[0].Evidence.Nodes[0].ID)
	require.Equal(t, "IN_PROGRESS", got.Project.Controls.Nodes[1].Status)

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
	var list struct{ Projects conn[project] }
	gqltest.Post(t, e.url, other, `{ projects { nodes { id } } }`, nil).Decode(t, &list)
	require.Empty(t, list.Projects.Nodes)
	foreign := gqltest.Post(t, e.url, other, addControl, map[string]any{"in": map[string]any{
		"projectId": cp.CreateProject.ID, "code": "EVIL", "title": "x",
	}})
	require.Equal(t, []string{"NOT_FOUND"}, foreign.Codes())

	// Anonymous requests are refused with UNAUTHENTICATED.
	anon := gqltest.Post(t, e.url, "", `{ projects { nodes { id } } }`, nil)
	require.Equal(t, []string{"UNAUTHENTICATED"}, anon.Codes())
	anonMut := gqltest.Post(t, e.url, "", `mutation { createProject(input: {name: "x"}) { id } }`, nil)
	require.Equal(t, []string{"UNAUTHENTICATED"}, anonMut.Codes())
}

func TestSeededProjectOverJWKS(t *testing.T) {
	e := start(t, true) // compliance verifies against identity's JWKS over HTTP
	var list struct{ Projects conn[project] }
	gqltest.Post(t, e.url, e.token, `{ projects { nodes { `+projectFields+` } } }`, nil).Decode(t, &list)
	require.Len(t, list.Projects.Nodes, 1)
	p := list.Projects.Nodes[0]
	require.Equal(t, demo.ProjectName, p.Name)
	require.Equal(t, demo.DemoUser.ID, p.Owner.ID)
	var codes []string
	for _, c := range p.Controls.Nodes {
		codes = append(codes, c.Code)
	}
	require.Equal(t, []string{"AC-01", "AC-02", "BC-01", "CM-01", "CR-01", "GV-01", "HR-01", "IR-01", "OP-01", "OP-02", "VM-01"}, codes)
	require.Equal(t, "Access provisioning and removal", p.Controls.Nodes[0].Title)
	require.Len(t, p.Controls.Nodes[0].Evidence.Nodes, 1)
	require.Equal(t, demo.Alice.ID, p.Controls.Nodes[0].Evidence.Nodes[0].SubmittedBy.ID)

	// Alice (same organization) sees the project too.
	alice := login(t, e.identityURL, demo.Alice.Email, demo.Password)
	gqltest.Post(t, e.url, alice, `{ projects { nodes { id } } }`, nil).Decode(t, &list)
	require.Len(t, list.Projects.Nodes, 1)
}

type score struct {
	Framework    struct{ Key string } `json:"framework"`
	Requirements int                  `json:"requirements"`
	Covered      int                  `json:"covered"`
	Percent      float64              `json:"percent"`
}

func scores(t *testing.T, e *env, token, projectID string) map[string]score {
	t.Helper()
	var out struct {
		Project *struct{ Scores []score } `json:"project"`
	}
	gqltest.Post(t, e.url, token, `query($id: ID!) { project(id: $id) { scores { framework { key } requirements covered percent } } }`,
		map[string]any{"id": projectID}).Decode(t, &out)
	if out.Project == nil {
		return nil
	}
	m := map[string]score{}
	for _, s := range out.Project.Scores {
		m[s.Framework.Key] = s
	}
	return m
}

// The demo data's scores: 10 of the 33 SOC 2 common criteria and 10 of the
// 28 ISO/IEC 27001 Annex A controls of the catalog are covered (see package demo).
func TestSeededScores(t *testing.T) {
	e := start(t, false)
	got := scores(t, e, e.token, demo.ProjectID)
	require.Equal(t, score{Framework: struct{ Key string }{"SOC2"}, Requirements: 33, Covered: 10, Percent: 30.3}, got["SOC2"])
	require.Equal(t, score{Framework: struct{ Key string }{"ISO27001"}, Requirements: 28, Covered: 10, Percent: 35.7}, got["ISO27001"])
}

func TestFrameworksMappingsReviewAndScore(t *testing.T) {
	e := start(t, false)
	soc2, iso := store.FrameworkID(store.FrameworkSOC2), store.FrameworkID(store.FrameworkISO27001)
	cc61, a515 := store.RequirementID(store.FrameworkSOC2, "CC6.1"), store.RequirementID(store.FrameworkISO27001, "A.5.15")
	a824 := store.RequirementID(store.FrameworkISO27001, "A.8.24")

	// The catalog: SOC 2 (all 33 common criteria) and ISO/IEC 27001:2022 (28 Annex A controls).
	var cat struct {
		Frameworks conn[struct {
			ID           string
			Key          string
			Name         string
			Version      string
			Requirements conn[struct {
				ID, Code, Title string
				Framework       struct{ Key string }
			}]
		}]
	}
	gqltest.Post(t, e.url, e.token, `{ frameworks { totalCount nodes { id key name version
		requirements(first: 3) { totalCount nodes { id code title framework { key } } } } } }`, nil).Decode(t, &cat)
	require.Equal(t, 2, cat.Frameworks.TotalCount)
	iso27001, soc := cat.Frameworks.Nodes[0], cat.Frameworks.Nodes[1]
	require.Equal(t, []string{"ISO27001", "2022", iso}, []string{iso27001.Key, iso27001.Version, iso27001.ID})
	require.Equal(t, []string{"SOC2", "2017", soc2}, []string{soc.Key, soc.Version, soc.ID})
	require.Equal(t, 33, soc.Requirements.TotalCount)
	require.Equal(t, 28, iso27001.Requirements.TotalCount)
	require.Equal(t, "A.5.1", iso27001.Requirements.Nodes[0].Code)
	require.Equal(t, "Policies for information security", iso27001.Requirements.Nodes[0].Title)
	require.Equal(t, "CC1.1", soc.Requirements.Nodes[0].Code)
	require.Equal(t, "ISO27001", iso27001.Requirements.Nodes[2].Framework.Key)

	// A project with SOC 2 in scope, then ISO 27001 adopted.
	var cp struct{ CreateProject struct{ ID string } }
	gqltest.Post(t, e.url, e.token, `mutation($in: CreateProjectInput!) { createProject(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": "Both", "frameworkIds": []string{soc2}}}).Decode(t, &cp)
	pid := cp.CreateProject.ID
	var ad struct {
		AdoptFramework struct{ Frameworks conn[struct{ Key string }] }
	}
	gqltest.Post(t, e.url, e.token, `mutation($in: AdoptFrameworkInput!) { adoptFramework(input: $in) { frameworks { nodes { key } } } }`,
		map[string]any{"in": map[string]any{"projectId": pid, "frameworkId": iso}}).Decode(t, &ad)
	require.Len(t, ad.AdoptFramework.Frameworks.Nodes, 2)
	require.Equal(t, 0.0, scores(t, e, e.token, pid)["SOC2"].Percent)

	// A control mapped to both frameworks, with evidence that is accepted: covered once IMPLEMENTED.
	var ac struct{ AddControl control }
	gqltest.Post(t, e.url, e.token, `mutation($in: AddControlInput!) { addControl(input: $in) { id code status } }`,
		map[string]any{"in": map[string]any{"projectId": pid, "code": "AC-01", "title": "Access", "requirementIds": []string{cc61, a515}}}).Decode(t, &ac)
	cid := ac.AddControl.ID
	var reqs struct {
		Control struct {
			Requirements conn[struct{ Code string }]
		} `json:"updateControl"`
	}
	gqltest.Post(t, e.url, e.token, `mutation($in: UpdateControlInput!) { updateControl(input: $in) { requirements { nodes { code } } } }`,
		map[string]any{"in": map[string]any{"controlId": cid, "requirementIds": []string{cc61, a515, a824}}}).Decode(t, &reqs)
	require.Len(t, reqs.Control.Requirements.Nodes, 3)
	require.Equal(t, "A.5.15", reqs.Control.Requirements.Nodes[0].Code, "by framework key, then the framework's order")

	var ae struct {
		AddEvidence struct {
			ID, Status string
			Current    bool
			Owner      struct{ ID string }
		}
	}
	gqltest.Post(t, e.url, e.token, `mutation($in: AddEvidenceInput!) { addEvidence(input: $in) { id status current owner { id } } }`,
		map[string]any{"in": map[string]any{"controlId": cid, "title": "Access review", "ownerId": demo.Alice.ID}}).Decode(t, &ae)
	require.Equal(t, "PENDING", ae.AddEvidence.Status)
	require.False(t, ae.AddEvidence.Current)
	require.Equal(t, demo.Alice.ID, ae.AddEvidence.Owner.ID)

	review := func(status string, expires *time.Time) {
		in := map[string]any{"evidenceId": ae.AddEvidence.ID, "status": status}
		if expires != nil {
			in["expiresAt"] = expires.Format(time.RFC3339)
		}
		var rv struct {
			ReviewEvidence struct {
				Status     string
				Current    bool
				ReviewedBy struct{ ID string }
			}
		}
		gqltest.Post(t, e.url, e.token, `mutation($in: ReviewEvidenceInput!) { reviewEvidence(input: $in) { status current reviewedBy { id } } }`,
			map[string]any{"in": in}).Decode(t, &rv)
		require.Equal(t, status, rv.ReviewEvidence.Status)
		require.Equal(t, demo.DemoUser.ID, rv.ReviewEvidence.ReviewedBy.ID)
	}
	future := time.Now().Add(30 * 24 * time.Hour)
	review("ACCEPTED", &future)
	require.Equal(t, 0, scores(t, e, e.token, pid)["SOC2"].Covered, "the control is not IMPLEMENTED yet")
	gqltest.Post(t, e.url, e.token, `mutation { updateControl(input: {controlId: "`+cid+`", status: IMPLEMENTED}) { id } }`, nil).Decode(t, &struct{}{})
	got := scores(t, e, e.token, pid)
	require.Equal(t, score{Framework: struct{ Key string }{"SOC2"}, Requirements: 33, Covered: 1, Percent: 3}, got["SOC2"])
	require.Equal(t, score{Framework: struct{ Key string }{"ISO27001"}, Requirements: 28, Covered: 2, Percent: 7.1}, got["ISO27001"])

	// Expired evidence no longer counts.
	past := time.Now().Add(-time.Hour)
	review("ACCEPTED", &past)
	require.Equal(t, 0, scores(t, e, e.token, pid)["ISO27001"].Covered)

	// Events: control.updated carries the mappings, evidence.reviewed the decision.
	cu, _ := eventtest.Wait(t, e.natsURL, store.SubjectControlUpdated, 30*time.Second, func(c store.ControlEvent) bool {
		return c.ID == cid && c.Status == "IMPLEMENTED"
	})
	require.ElementsMatch(t, []string{cc61, a515, a824}, cu.RequirementIDs)
	require.Equal(t, int64(3), cu.Version)
	er, _ := eventtest.Wait(t, e.natsURL, store.SubjectEvidenceReviewed, 30*time.Second, func(v store.EvidenceEvent) bool {
		return v.ID == ae.AddEvidence.ID && v.Version == 3
	})
	require.Equal(t, "ACCEPTED", er.Status)
	require.WithinDuration(t, past, *er.ExpiresAt, time.Second)
	pa, _ := eventtest.Wait(t, e.natsURL, store.SubjectProjectFrameworkAdopted, 30*time.Second, func(p store.ProjectEvent) bool { return p.ID == pid })
	require.ElementsMatch(t, []string{soc2, iso}, pa.FrameworkIDs)

	// Bad input, all at once; unknown references; PENDING is no review.
	bad := gqltest.Post(t, e.url, e.token, `mutation($in: AddControlInput!) { addControl(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"projectId": pid, "code": strings.Repeat("x", 201), "title": "", "requirementIds": make([]string, 101)}})
	require.Equal(t, []string{"BAD_USER_INPUT"}, bad.Codes())
	unknown := gqltest.Post(t, e.url, e.token, `mutation($in: AddControlInput!) { addControl(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"projectId": pid, "code": "X-1", "title": "x", "requirementIds": []string{uuid.NewString()}}})
	require.Equal(t, []string{"BAD_USER_INPUT"}, unknown.Codes())
	pending := gqltest.Post(t, e.url, e.token, `mutation { reviewEvidence(input: {evidenceId: "`+ae.AddEvidence.ID+`", status: PENDING}) { id } }`, nil)
	require.Equal(t, []string{"BAD_USER_INPUT"}, pending.Codes())

	// Another organization: no project, no score, no writes.
	var su struct {
		SignUp struct{ AccessToken string } `json:"signUp"`
	}
	gqltest.Post(t, e.identityURL, "", `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken } }`, map[string]any{
		"in": map[string]any{"email": "eve@other.test", "password": "password123", "name": "Eve", "organizationName": "Other"},
	}).Decode(t, &su)
	other := su.SignUp.AccessToken
	require.Nil(t, scores(t, e, other, pid))
	for _, q := range []string{
		`mutation { reviewEvidence(input: {evidenceId: "` + ae.AddEvidence.ID + `", status: REJECTED}) { id } }`,
		`mutation { updateControl(input: {controlId: "` + cid + `", status: NOT_STARTED}) { id } }`,
		`mutation { adoptFramework(input: {projectId: "` + pid + `", frameworkId: "` + soc2 + `"}) { id } }`,
	} {
		require.Equal(t, []string{"NOT_FOUND"}, gqltest.Post(t, e.url, other, q, nil).Codes(), q)
	}
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
	var list struct{ Projects conn[project] }
	gqltest.Post(t, e.url, e.token, `{ projects(first: 100) { nodes { id controls { nodes { code } } } } }`, nil).Decode(t, &list)
	require.Len(t, list.Projects.Nodes, 41)
	require.Equal(t, int64(2), e.counter.Count(), "queries: %q", e.counter.Queries())

	e.counter.Reset()
	gqltest.Post(t, e.url, e.token, `{ projects(first: 100) { nodes { id controls { nodes { code evidence { nodes { id control { code } } } } } } } }`, nil).Decode(t, &list)
	require.Len(t, list.Projects.Nodes, 41)
	for _, p := range list.Projects.Nodes {
		if p.ID == demo.ProjectID {
			continue
		}
		require.Len(t, p.Controls.Nodes, 2)
		require.Len(t, p.Controls.Nodes[0].Evidence.Nodes, 1)
		require.Equal(t, p.Controls.Nodes[0].Code, p.Controls.Nodes[0].Evidence.Nodes[0].Control.Code)
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
			Projects conn[struct {
				ID string `json:"id"`
			}] `json:"projects"`
		} `json:"_entities"`
	}
	gqltest.Post(t, e.url, e.token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id projects(first: 100) { totalCount nodes { id } } } } }`,
		map[string]any{"r": userReps}).Decode(t, &uout)
	require.Equal(t, int64(1), e.counter.Count(), "queries: %q", e.counter.Queries())
	require.Len(t, uout.Entities, 50)
	total := 0
	for i, u := range uout.Entities {
		require.Equal(t, userReps[i]["id"], u.ID)
		total += len(u.Projects.Nodes)
		require.Equal(t, len(u.Projects.Nodes), u.Projects.TotalCount)
	}
	// Demo user: 16 added + the seeded one; Alice and Bob 16 each; each owner appears twice or so.
	require.Positive(t, total)
	require.Len(t, uout.Entities[0].Projects.Nodes, 17)  // demo user
	require.Len(t, uout.Entities[10].Projects.Nodes, 16) // alice
	require.Empty(t, uout.Entities[1].Projects.Nodes)
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
	resp := gqltest.Post(t, srv.URL, e.token, `{ projects { nodes { id controls { nodes { id } } } } }`, nil)
	require.NotEmpty(t, resp.Errors)
	require.Equal(t, "INTERNAL_SERVER_ERROR", resp.Errors[0].Code())
	require.Equal(t, "internal error", resp.Errors[0].Message, "no internals leak")
	require.Contains(t, logs.String(), "loader middleware did not run")
	require.Equal(t, int64(1), e.counter.Count(), "only the projects query ran: %q", e.counter.Queries())
}

// TestConnectionsPageThroughEveryParentInOneQuery pages through the controls
// of many projects at once: every page of every project is one SQL query, the
// cursors walk the whole list, and bad arguments are BAD_USER_INPUT.
func TestConnectionsPageThroughEveryParentInOneQuery(t *testing.T) {
	e := start(t, false)
	addProjects(t, e, 30, []string{demo.DemoUser.ID})
	type page struct {
		Projects conn[struct {
			ID       string        `json:"id"`
			Controls conn[control] `json:"controls"`
		}] `json:"projects"`
	}
	const q = `query($after: String) { projects(first: 100) { totalCount nodes { id controls(first: 4, after: $after) {
		totalCount pageInfo { hasNextPage endCursor } nodes { code } } } } }`

	// The seeded project has eleven controls: pages of 4, 4 and 3.
	var codes []string
	var after any
	for range 3 {
		e.counter.Reset()
		var out page
		gqltest.Post(t, e.url, e.token, q, map[string]any{"after": after}).Decode(t, &out)
		require.Equal(t, int64(2), e.counter.Count(), "projects, then the controls of all 31 projects: %q", e.counter.Queries())
		require.Equal(t, 31, out.Projects.TotalCount)
		require.Len(t, out.Projects.Nodes, 31)
		for _, p := range out.Projects.Nodes {
			if p.ID != demo.ProjectID {
				require.Equal(t, 2, p.Controls.TotalCount)
				continue
			}
			require.Equal(t, 11, p.Controls.TotalCount)
			for _, c := range p.Controls.Nodes {
				codes = append(codes, c.Code)
			}
			require.Equal(t, len(codes) < 11, p.Controls.PageInfo.HasNextPage)
			require.NotNil(t, p.Controls.PageInfo.EndCursor)
			after = *p.Controls.PageInfo.EndCursor
		}
	}
	require.Equal(t, []string{"AC-01", "AC-02", "BC-01", "CM-01", "CR-01", "GV-01", "HR-01", "IR-01", "OP-01", "OP-02", "VM-01"}, codes)

	// Past the end: an empty page that still knows the total.
	var out page
	gqltest.Post(t, e.url, e.token, q, map[string]any{"after": after}).Decode(t, &out)
	for _, p := range out.Projects.Nodes {
		if p.ID == demo.ProjectID {
			require.Empty(t, p.Controls.Nodes)
			require.Equal(t, 11, p.Controls.TotalCount)
			require.False(t, p.Controls.PageInfo.HasNextPage)
			require.Nil(t, p.Controls.PageInfo.EndCursor)
		}
	}

	// Default and maximum page sizes; bad cursors.
	var def struct{ Projects conn[project] }
	gqltest.Post(t, e.url, e.token, `{ projects { totalCount pageInfo { hasNextPage } nodes { id } } }`, nil).Decode(t, &def)
	require.Len(t, def.Projects.Nodes, kit.DefaultFirst)
	require.True(t, def.Projects.PageInfo.HasNextPage)
	for _, bad := range []string{`{ projects(first: 101) { totalCount } }`, `{ projects(first: -1) { totalCount } }`,
		`{ projects(after: "bm9wZQ") { totalCount } }`, `{ projects(after: "` + strings.Repeat("x", 100) + `") { totalCount } }`} {
		r := gqltest.Post(t, e.url, e.token, bad, nil)
		require.Equal(t, []string{"BAD_USER_INPUT"}, r.Codes(), bad)
	}
}
