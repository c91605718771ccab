package identity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/identity"
	"github.com/studio-platform/studio/subgraphs/identity/password"
	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/internal/eventtest"
	"github.com/studio-platform/studio/subgraphs/internal/gqltest"
	"github.com/studio-platform/studio/subgraphs/kit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type env struct {
	svc     *identity.Service
	srv     *httptest.Server
	url     string // /graphql
	counter *pg.QueryCounter
}

// start runs identity on dbURL. Its loaders wait 200 ms, so every key of a
// nested level joins one batch even on a loaded machine: the SQL query counts
// the tests assert stay deterministic.
func start(t *testing.T, dbURL string) *env {
	t.Helper()
	counter := &pg.QueryCounter{}
	svc, err := identity.New(context.Background(), identity.Config{DatabaseURL: dbURL},
		kit.WithQueryTracer(counter), kit.WithLimits(kit.Limits{LoaderWait: 200 * time.Millisecond}),
		kit.WithEvents(kit.Events{NatsURL: testenv.Stack(t).NatsURL}))
	require.NoError(t, err)
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return &env{svc: svc, srv: srv, url: srv.URL + "/graphql", counter: counter}
}

const authFields = `accessToken refreshToken expiresAt user { id email name role organization { name slug } }`

type authPayload struct {
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
	User         struct {
		ID           string `json:"id"`
		Email        string `json:"email"`
		Name         string `json:"name"`
		Role         string `json:"role"`
		Organization struct {
			Name string `json:"name"`
			Slug string `json:"slug"`
		} `json:"organization"`
	} `json:"user"`
}

func TestSignUpLoginRefreshLogout(t *testing.T) {
	e := start(t, testenv.Database(t))

	// signUp creates an organization with the new user as its admin.
	var su struct{ SignUp authPayload }
	gqltest.Post(t, e.url, "", `mutation($in: SignUpInput!) { signUp(input: $in) { `+authFields+` } }`, map[string]any{
		"in": map[string]any{"email": "Grace@Example.com", "password": "correct horse", "name": "Grace Hopper", "organizationName": "Hopper & Co."},
	}).Decode(t, &su)
	require.Equal(t, "grace@example.com", su.SignUp.User.Email)
	require.Equal(t, "ADMIN", su.SignUp.User.Role)
	require.Equal(t, "hopper-co", su.SignUp.User.Organization.Slug)
	require.NotEmpty(t, su.SignUp.AccessToken)
	require.NotEmpty(t, su.SignUp.RefreshToken)
	require.WithinDuration(t, time.Now().Add(identity.DefaultAccessTTL), su.SignUp.ExpiresAt, time.Minute)

	claims, err := e.svc.Signer().Verify(context.Background(), su.SignUp.AccessToken)
	require.NoError(t, err)
	require.Equal(t, su.SignUp.User.ID, claims.Subject)
	require.NotEmpty(t, claims.OrgID)

	// The sign-up published organization.created and user.created (outbox → relay → JetStream).
	nats := testenv.Stack(t).NatsURL
	oc, org := eventtest.Wait(t, nats, store.SubjectOrganizationCreated, 30*time.Second, func(o store.OrganizationCreated) bool { return o.ID == claims.OrgID })
	require.Equal(t, claims.OrgID, org)
	require.Equal(t, store.OrganizationCreated{ID: claims.OrgID, Name: "Hopper & Co.", Slug: "hopper-co"}, oc)
	uc, _ := eventtest.Wait(t, nats, store.SubjectUserCreated, 30*time.Second, func(u store.UserCreated) bool { return u.ID == claims.Subject })
	require.Equal(t, store.UserCreated{ID: claims.Subject, OrganizationID: claims.OrgID, Email: "grace@example.com", Name: "Grace Hopper", Role: "ADMIN"}, uc)

	// Same email again: BAD_USER_INPUT.
	dup := gqltest.Post(t, e.url, "", `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken } }`, map[string]any{
		"in": map[string]any{"email": "grace@example.com", "password": "another one", "name": "G", "organizationName": "Other"},
	})
	require.Equal(t, []string{"BAD_USER_INPUT"}, dup.Codes())

	// me with and without a token.
	var me struct {
		Me *struct {
			Email string `json:"email"`
		} `json:"me"`
	}
	gqltest.Post(t, e.url, su.SignUp.AccessToken, `{ me { email } }`, nil).Decode(t, &me)
	require.NotNil(t, me.Me)
	require.Equal(t, "grace@example.com", me.Me.Email)
	gqltest.Post(t, e.url, "", `{ me { email } }`, nil).Decode(t, &me)
	require.Nil(t, me.Me)

	// A garbage token is rejected before GraphQL runs.
	bad := gqltest.Post(t, e.url, "not-a-jwt", `{ me { email } }`, nil)
	require.Equal(t, http.StatusUnauthorized, bad.Status)
	require.Equal(t, []string{"UNAUTHENTICATED"}, bad.Codes())

	// Wrong password and unknown email: UNAUTHENTICATED, same message.
	const login = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { ` + authFields + ` } }`
	wrong := gqltest.Post(t, e.url, "", login, map[string]any{"e": "grace@example.com", "p": "wrong password"})
	require.Equal(t, []string{"UNAUTHENTICATED"}, wrong.Codes())
	require.JSONEq(t, `null`, string(wrong.Data))
	unknown := gqltest.Post(t, e.url, "", login, map[string]any{"e": "nobody@example.com", "p": "wrong password"})
	require.Equal(t, []string{"UNAUTHENTICATED"}, unknown.Codes())
	require.Equal(t, wrong.Errors[0].Message, unknown.Errors[0].Message)

	var li struct{ Login authPayload }
	gqltest.Post(t, e.url, "", login, map[string]any{"e": "GRACE@example.com", "p": "correct horse"}).Decode(t, &li)
	require.Equal(t, su.SignUp.User.ID, li.Login.User.ID)

	// refreshToken rotates: the new pair works, the old refresh token is revoked.
	const refresh = `mutation($t: String!) { refreshToken(refreshToken: $t) { ` + authFields + ` } }`
	var rf struct{ RefreshToken authPayload }
	gqltest.Post(t, e.url, "", refresh, map[string]any{"t": li.Login.RefreshToken}).Decode(t, &rf)
	require.NotEqual(t, li.Login.RefreshToken, rf.RefreshToken.RefreshToken)
	require.Equal(t, su.SignUp.User.ID, rf.RefreshToken.User.ID)
	gqltest.Post(t, e.url, rf.RefreshToken.AccessToken, `{ me { email } }`, nil).Decode(t, &me)
	require.Equal(t, "grace@example.com", me.Me.Email)
	reuse := gqltest.Post(t, e.url, "", refresh, map[string]any{"t": li.Login.RefreshToken})
	require.Equal(t, []string{"UNAUTHENTICATED"}, reuse.Codes())

	// logout revokes the refresh token.
	var lo struct{ Logout bool }
	gqltest.Post(t, e.url, "", `mutation($t: String!) { logout(refreshToken: $t) }`, map[string]any{"t": rf.RefreshToken.RefreshToken}).Decode(t, &lo)
	require.True(t, lo.Logout)
	after := gqltest.Post(t, e.url, "", refresh, map[string]any{"t": rf.RefreshToken.RefreshToken})
	require.Equal(t, []string{"UNAUTHENTICATED"}, after.Codes())

	// The other organization's data stays invisible: users is scoped.
	var us struct {
		Users struct {
			Nodes []struct {
				Email string `json:"email"`
			} `json:"nodes"`
		} `json:"users"`
	}
	gqltest.Post(t, e.url, su.SignUp.AccessToken, `{ users { nodes { email } } }`, nil).Decode(t, &us)
	require.Len(t, us.Users.Nodes, 1)
	require.Equal(t, []string{"UNAUTHENTICATED"}, gqltest.Post(t, e.url, "", `{ users { nodes { email } } }`, nil).Codes())
}

func TestSignUpValidation(t *testing.T) {
	e := start(t, testenv.Database(t))
	r := gqltest.Post(t, e.url, "", `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken } }`, map[string]any{
		"in": map[string]any{"email": "not-an-email", "password": "short", "name": " ", "organizationName": "X"},
	})
	require.Equal(t, []string{"BAD_USER_INPUT"}, r.Codes())
	require.Contains(t, r.Errors[0].Message, "email")
	require.Contains(t, r.Errors[0].Message, "password")
	require.Contains(t, r.Errors[0].Message, "name")

	// Every input is bounded (characters, not bytes).
	long := gqltest.Post(t, e.url, "", `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken } }`, map[string]any{
		"in": map[string]any{"email": "a@b.test", "password": strings.Repeat("p", 1025), "name": strings.Repeat("é", 201), "organizationName": "X"},
	})
	require.Equal(t, []string{"BAD_USER_INPUT"}, long.Codes())
	require.Equal(t, "name must be at most 200 characters; password must be at most 1024 characters", long.Errors[0].Message)
	login := gqltest.Post(t, e.url, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": "a@b.test", "p": strings.Repeat("p", 1025)})
	require.Equal(t, []string{"BAD_USER_INPUT"}, login.Codes())
}

func TestJWKSAndKeySurvivesRestart(t *testing.T) {
	db := testenv.Database(t)
	e := start(t, db)

	resp, err := http.Get(e.srv.URL + "/.well-known/jwks.json")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Crv string `json:"crv"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(body, &set))
	require.Len(t, set.Keys, 1)
	require.Equal(t, e.svc.Signer().KeyID(), set.Keys[0].Kid)
	require.Equal(t, "EC", set.Keys[0].Kty)
	require.Equal(t, "P-256", set.Keys[0].Crv)

	// A token issued by identity verifies against its JWKS.
	require.NoError(t, e.svc.Seed(context.Background()))
	var li struct{ Login authPayload }
	gqltest.Post(t, e.url, "", `mutation { login(email: "demo@studio.local", password: "studio-demo") { `+authFields+` } }`, nil).Decode(t, &li)
	claims, err := auth.NewJWKSVerifier(e.srv.URL+"/.well-known/jwks.json").Verify(context.Background(), li.Login.AccessToken)
	require.NoError(t, err)
	require.Equal(t, demo.DemoUser.ID, claims.Subject)
	require.Equal(t, demo.OrgID, claims.OrgID)

	// A second instance on the same database uses the same key: tokens survive restarts.
	again := start(t, db)
	require.Equal(t, e.svc.Signer().KeyID(), again.svc.Signer().KeyID())
	var me struct {
		Me struct {
			Email string `json:"email"`
		} `json:"me"`
	}
	gqltest.Post(t, again.url, li.Login.AccessToken, `{ me { email } }`, nil).Decode(t, &me)
	require.Equal(t, demo.DemoUser.Email, me.Me.Email)
}

func TestSeedIsIdempotent(t *testing.T) {
	e := start(t, testenv.Database(t))
	ctx := context.Background()
	require.NoError(t, e.svc.Seed(ctx))
	require.NoError(t, e.svc.Seed(ctx))
	var li struct{ Login authPayload }
	gqltest.Post(t, e.url, "", `mutation { login(email: "alice@acme.test", password: "studio-demo") { `+authFields+` } }`, nil).Decode(t, &li)
	require.Equal(t, demo.Alice.ID, li.Login.User.ID)
	require.Equal(t, "Acme Corp", li.Login.User.Organization.Name)
	require.Equal(t, "acme", li.Login.User.Organization.Slug)
	var us struct {
		Users struct {
			Nodes []struct {
				Email string `json:"email"`
			} `json:"nodes"`
		} `json:"users"`
	}
	gqltest.Post(t, e.url, li.Login.AccessToken, `{ users { nodes { email } } }`, nil).Decode(t, &us)
	require.Len(t, us.Users.Nodes, 3)
}

// addUsers inserts n users into organization orgID and returns their ids.
func addUsers(t *testing.T, svc *identity.Service, orgID string, n int) []string {
	t.Helper()
	hash, err := password.Hash("irrelevant")
	require.NoError(t, err)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
		_, err := svc.Store().Pool().Exec(context.Background(),
			`INSERT INTO users (id, org_id, email, name, role, password_hash) VALUES ($1, $2, $3, $4, 'MEMBER', $5)`,
			ids[i], orgID, fmt.Sprintf("user%02d@acme.test", i), fmt.Sprintf("User %02d", i), hash)
		require.NoError(t, err)
	}
	return ids
}

func demoToken(t *testing.T, e *env) string {
	t.Helper()
	var li struct{ Login authPayload }
	gqltest.Post(t, e.url, "", `mutation { login(email: "demo@studio.local", password: "studio-demo") { accessToken refreshToken expiresAt user { id } } }`, nil).Decode(t, &li)
	return li.Login.AccessToken
}

func TestEntitiesAreOneQueryInKeyOrder(t *testing.T) {
	e := start(t, testenv.Database(t))
	require.NoError(t, e.svc.Seed(context.Background()))
	token := demoToken(t, e)
	ids := addUsers(t, e.svc, demo.OrgID, 48)
	// 48 users of the org, reversed, plus one unknown id and one malformed id: 50 representations.
	var reps []map[string]any
	var want []string
	for i := len(ids) - 1; i >= 0; i-- {
		reps = append(reps, map[string]any{"__typename": "User", "id": ids[i]})
		want = append(want, ids[i])
	}
	reps = append(reps[:10], append([]map[string]any{{"__typename": "User", "id": uuid.NewString()}}, reps[10:]...)...)
	want = append(want[:10], append([]string{""}, want[10:]...)...)
	reps = append(reps, map[string]any{"__typename": "User", "id": "not-a-uuid"})
	want = append(want, "")
	require.Len(t, reps, 50)

	e.counter.Reset()
	var out struct {
		Entities []*struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"_entities"`
	}
	gqltest.Post(t, e.url, token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }`,
		map[string]any{"r": reps}).Decode(t, &out)
	require.Equal(t, int64(1), e.counter.Count(), "queries: %q", e.counter.Queries())
	require.Len(t, out.Entities, 50)
	for i, w := range want {
		if w == "" {
			require.Nil(t, out.Entities[i], "index %d", i)
			continue
		}
		require.NotNil(t, out.Entities[i], "index %d", i)
		require.Equal(t, w, out.Entities[i].ID, "index %d", i)
	}

	// Without a token entities are not resolved.
	anon := gqltest.Post(t, e.url, "", `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id } } }`,
		map[string]any{"r": reps[:2]})
	require.Contains(t, anon.Codes(), "UNAUTHENTICATED")
}

func TestUserOrganizationAndMembersAreBatched(t *testing.T) {
	e := start(t, testenv.Database(t))
	require.NoError(t, e.svc.Seed(context.Background()))
	token := demoToken(t, e)
	addUsers(t, e.svc, demo.OrgID, 40)

	e.counter.Reset()
	var out struct {
		Users struct {
			Nodes []struct {
				Organization struct {
					Slug    string `json:"slug"`
					Members struct {
						TotalCount int `json:"totalCount"`
						Nodes      []struct {
							ID string `json:"id"`
						} `json:"nodes"`
					} `json:"members"`
				} `json:"organization"`
			} `json:"nodes"`
		} `json:"users"`
	}
	gqltest.Post(t, e.url, token, `{ users(first: 100) { nodes { organization { slug members(first: 100) { totalCount nodes { id } } } } } }`, nil).Decode(t, &out)
	require.Len(t, out.Users.Nodes, 43)
	for _, u := range out.Users.Nodes {
		require.Equal(t, "acme", u.Organization.Slug)
		require.Len(t, u.Organization.Members.Nodes, 43)
		require.Equal(t, 43, u.Organization.Members.TotalCount)
	}
	// users + organizations + members: three queries for 43 users, not 1 + 43 + 43.
	require.Equal(t, int64(3), e.counter.Count(), "queries: %q", e.counter.Queries())
}

func TestOperationalRoutes(t *testing.T) {
	e := start(t, testenv.Database(t))
	get := func(path string) (int, string) {
		resp, err := http.Get(e.srv.URL + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	// In order: /metrics counts the requests before it (recorded once each finished).
	for _, c := range []struct{ path, want string }{{"/health", `"ok"`}, {"/ready", `"postgres"`}} {
		code, body := get(c.path)
		require.Equal(t, http.StatusOK, code, c.path)
		require.Contains(t, body, c.want, c.path)
	}
	require.Eventually(t, func() bool {
		code, body := get("/metrics")
		return code == http.StatusOK && strings.Contains(body, `http_requests_total{code="200",method="GET",path="GET /health",service="identity"} 1`)
	}, 5*time.Second, 10*time.Millisecond)
	// GET /graphql works too.
	resp, err := http.Get(e.url + "?query=" + "%7B__typename%7D")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.JSONEq(t, `{"data":{"__typename":"Query"}}`, string(body))
	// The federation SDL is served.
	var sdl struct {
		Service struct {
			SDL string `json:"sdl"`
		} `json:"_service"`
	}
	gqltest.Post(t, e.url, "", `{ _service { sdl } }`, nil).Decode(t, &sdl)
	require.Contains(t, sdl.Service.SDL, `@key(fields: "id")`)
	require.Contains(t, sdl.Service.SDL, "federation/v2.6")
}

// TestOtherOrganizationsAreInvisibleInSQL asks for another organization and
// its members by representation: the scoped SQL finds nothing, and every
// statement the requests ran carries the caller's organization.
func TestOtherOrganizationsAreInvisibleInSQL(t *testing.T) {
	e := start(t, testenv.Database(t))
	require.NoError(t, e.svc.Seed(context.Background()))
	token := demoToken(t, e)
	var su struct{ SignUp authPayload }
	gqltest.Post(t, e.url, "", `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken user { id } } }`, map[string]any{
		"in": map[string]any{"email": "eve@other.test", "password": "password123", "name": "Eve", "organizationName": "Other Inc"},
	}).Decode(t, &su)
	var me struct {
		Me struct {
			Organization struct {
				ID string `json:"id"`
			} `json:"organization"`
		} `json:"me"`
	}
	gqltest.Post(t, e.url, su.SignUp.AccessToken, `{ me { organization { id } } }`, nil).Decode(t, &me)
	otherOrg := me.Me.Organization.ID
	require.NotEmpty(t, otherOrg)

	e.counter.Reset()
	var out struct {
		Entities []*struct {
			ID      string `json:"id"`
			Slug    string `json:"slug"`
			Members struct {
				TotalCount int `json:"totalCount"`
			} `json:"members"`
			Email string `json:"email"`
		} `json:"_entities"`
	}
	gqltest.Post(t, e.url, token, `query($r: [_Any!]!) { _entities(representations: $r) {
		... on Organization { id slug members { totalCount } } ... on User { id email } } }`, map[string]any{"r": []map[string]any{
		{"__typename": "Organization", "id": demo.OrgID},
		{"__typename": "Organization", "id": otherOrg},
		{"__typename": "User", "id": su.SignUp.User.ID},
	}}).Decode(t, &out)
	require.Len(t, out.Entities, 3)
	require.NotNil(t, out.Entities[0])
	require.Equal(t, "acme", out.Entities[0].Slug)
	require.Equal(t, 3, out.Entities[0].Members.TotalCount)
	require.Nil(t, out.Entities[1], "another organization")
	require.Nil(t, out.Entities[2], "another organization's user")
	require.NotEmpty(t, e.counter.Queries())
	for _, q := range e.counter.Queries() {
		require.True(t, strings.Contains(q, "org_id = $2::uuid") || strings.Contains(q, "AND id = $2::uuid"), "unscoped: %s", q)
	}
}
