package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// pair is a sign-in's tokens.
type pair struct{ Access, Refresh string }

func (g *graph) signIn(t *testing.T, email string) pair {
	t.Helper()
	resp := g.post(t, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }`,
		map[string]any{"e": email, "p": demo.Password})
	require.Empty(t, resp.Errors)
	var p struct{ AccessToken, RefreshToken string }
	require.NoError(t, json.Unmarshal(resp.Data["login"], &p))
	return pair{p.AccessToken, p.RefreshToken}
}

// refresh exchanges a refresh token through the router; it returns the new
// pair, or the error code.
func (g *graph) refresh(t *testing.T, refresh string) (pair, string) {
	t.Helper()
	resp := g.post(t, "", `mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken refreshToken } }`, map[string]any{"r": refresh})
	if len(resp.Errors) > 0 {
		return pair{}, resp.Errors[0].Extensions["code"].(string)
	}
	var p struct{ AccessToken, RefreshToken string }
	require.NoError(t, json.Unmarshal(resp.Data["refreshToken"], &p))
	return pair{p.AccessToken, p.RefreshToken}, ""
}

// status posts query with token to url (the router's or a subgraph's
// /graphql) and returns the HTTP status and extensions.code of the first error.
func status(t *testing.T, url, token, query string) (int, string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out gqlResponse
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	code := ""
	if len(out.Errors) > 0 {
		code, _ = out.Errors[0].Extensions["code"].(string)
	}
	return resp.StatusCode, code
}

// accepted reports whether the router, identity and compliance each accept
// token (true) or refuse it with 401 UNAUTHENTICATED (false); any other
// answer fails the test.
func (g *graph) accepted(t *testing.T, token string) [3]bool {
	t.Helper()
	var out [3]bool
	for i, c := range []struct{ url, query string }{
		{g.p.RouterURL, `{ me { email } projects(first: 1) { totalCount } }`},
		{g.p.IdentityURL, `{ me { email } }`},
		{g.p.ComplianceURL, `{ projects(first: 1) { totalCount } }`},
	} {
		st, code := status(t, c.url, token, c.query)
		switch {
		case st == http.StatusOK && code == "":
			out[i] = true
		case st == http.StatusUnauthorized && code == "UNAUTHENTICATED":
		default:
			t.Fatalf("%s answered %d %q", c.url, st, code)
		}
	}
	return out
}

var (
	everywhere = [3]bool{true, true, true}
	nowhere    = [3]bool{}
)

func TestLogoutEndsTheAccessTokenAtOnce(t *testing.T) {
	g := start(t, kit.Limits{})
	a, b := g.signIn(t, demo.DemoUser.Email), g.signIn(t, demo.DemoUser.Email)
	require.Equal(t, everywhere, g.accepted(t, a.Access))

	resp := g.post(t, "", `mutation($r: String!) { logout(refreshToken: $r) }`, map[string]any{"r": a.Refresh})
	require.Empty(t, resp.Errors)
	require.Equal(t, nowhere, g.accepted(t, a.Access), "router and both subgraphs refuse the logged-out token")
	_, code := g.refresh(t, a.Refresh)
	require.Equal(t, "UNAUTHENTICATED", code)
	require.Equal(t, everywhere, g.accepted(t, b.Access), "the user's other session lives on")
}

func TestLogoutAllEndsEverySession(t *testing.T) {
	g := start(t, kit.Limits{})
	a, b := g.signIn(t, demo.DemoUser.Email), g.signIn(t, demo.DemoUser.Email)
	other := g.signIn(t, demo.Alice.Email)

	resp := g.post(t, a.Access, `mutation { logoutAll }`, nil)
	require.Empty(t, resp.Errors)
	require.Equal(t, nowhere, g.accepted(t, a.Access))
	require.Equal(t, nowhere, g.accepted(t, b.Access))
	for _, r := range []string{a.Refresh, b.Refresh} {
		_, code := g.refresh(t, r)
		require.Equal(t, "UNAUTHENTICATED", code)
	}
	require.Equal(t, everywhere, g.accepted(t, other.Access), "another user is not signed out")

	resp = g.post(t, "", `mutation { logoutAll }`, nil)
	require.Equal(t, "UNAUTHENTICATED", resp.Errors[0].Extensions["code"])
}

func TestRefreshTokenReuseRevokesTheFamily(t *testing.T) {
	g := start(t, kit.Limits{})
	first := g.signIn(t, demo.DemoUser.Email)
	second, code := g.refresh(t, first.Refresh)
	require.Empty(t, code)
	require.Equal(t, everywhere, g.accepted(t, second.Access))

	_, code = g.refresh(t, first.Refresh) // replayed by whoever copied it
	require.Equal(t, "UNAUTHENTICATED", code)
	require.Equal(t, nowhere, g.accepted(t, second.Access), "the family's session ended")
	require.Equal(t, nowhere, g.accepted(t, first.Access))
	_, code = g.refresh(t, second.Refresh)
	require.Equal(t, "UNAUTHENTICATED", code, "the family's newest refresh token is revoked too")
}

func TestWrongAudienceOrIssuerIsRefused(t *testing.T) {
	g := start(t, kit.Limits{})
	good := g.signIn(t, demo.DemoUser.Email)
	signer := g.p.Identity.Signer()
	c, err := signer.Verify(context.Background(), good.Access)
	require.NoError(t, err)
	require.Equal(t, auth.DefaultIssuer, c.Issuer)
	require.Equal(t, jwt.ClaimStrings{auth.DefaultAudience}, c.Audience)
	require.NotEmpty(t, c.SessionID)

	resign := func(edit func(*auth.Claims)) string {
		cc := *c // same live session, same key: only iss or aud differ
		cc.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Minute))
		edit(&cc)
		tok, err := signer.Sign(cc)
		require.NoError(t, err)
		return tok
	}
	require.Equal(t, everywhere, g.accepted(t, resign(func(*auth.Claims) {})))
	require.Equal(t, nowhere, g.accepted(t, resign(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"another-api"} })))
	require.Equal(t, nowhere, g.accepted(t, resign(func(c *auth.Claims) { c.Issuer = "https://evil.example" })))
	require.Equal(t, nowhere, g.accepted(t, resign(func(c *auth.Claims) { c.SessionID = "" })), "a token without sid")
}
