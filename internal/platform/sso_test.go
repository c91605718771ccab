package platform_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/identity"
	"github.com/studio-platform/studio/subgraphs/identity/sso"
	"github.com/studio-platform/studio/subgraphs/identity/sso/ssotest"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// TestSingleSignOnThroughRouter signs the demo user in through real local
// identity providers started here (OpenID Connect: mockoidc; SAML: a
// crewjam/saml IdP, set up by the demo ADMIN through the router) and uses the resulting access token on
// the real router and subgraphs: it works like a password login's, and
// logoutAll ends it everywhere at once.
func TestSingleSignOnThroughRouter(t *testing.T) {
	op := ssotest.StartOIDC(t)
	g := start(t, kit.Limits{}, platform.WithIdentityConfig(func(c *identity.Config) {
		c.OIDC = []sso.OIDCProvider{{Name: "google", Issuer: op.Issuer(), ClientID: op.ClientID, ClientSecret: op.ClientSecret}}
	}))
	p := g.p

	t.Run("OIDC", func(t *testing.T) {
		op.QueueUser(&mockoidc.MockUser{Subject: "demo-at-google", Email: demo.DemoUser.Email, EmailVerified: true})
		r := ssotest.NewBrowser(t).Get(t, p.IdentityURL+"/auth/oidc/google/start")
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		var s struct{ AccessToken, RefreshToken string }
		require.NoError(t, json.Unmarshal(r.Body, &s))
		usable(t, g, s.AccessToken)
	})

	t.Run("SAML", func(t *testing.T) {
		idp := ssotest.StartSAML(t)
		admin := g.signIn(t, demo.DemoUser.Email)
		resp := g.post(t, admin.Access, `mutation($m: String!) { setSamlIdentityProvider(metadataXml: $m) { signInUrl } }`,
			map[string]any{"m": idp.MetadataXML(t)})
		require.Empty(t, resp.Errors)
		var set struct{ SignInURL string }
		require.NoError(t, json.Unmarshal(resp.Data["setSamlIdentityProvider"], &set))

		idp.SignInAs(ssotest.SAMLUser{NameID: "demo-at-idp", Email: demo.DemoUser.Email}, nil)
		b := ssotest.NewBrowser(t)
		r := b.Get(t, set.SignInURL)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		r = b.Submit(t, ssotest.FormOf(t, r))
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		var s struct{ AccessToken string }
		require.NoError(t, json.Unmarshal(r.Body, &s))
		usable(t, g, s.AccessToken)
	})
}

// usable checks that token reads the demo user's data through the router,
// and that logoutAll ends it at the router and every subgraph at once.
func usable(t *testing.T, g *graph, token string) {
	t.Helper()
	resp := g.post(t, token, `{ me { email } projects(first: 5) { totalCount } }`, nil)
	require.Empty(t, resp.Errors)
	require.JSONEq(t, `{"email": "`+demo.DemoUser.Email+`"}`, string(resp.Data["me"]))
	require.JSONEq(t, `{"totalCount": 1}`, string(resp.Data["projects"]))
	require.Equal(t, everywhere, g.accepted(t, token))
	resp = g.post(t, token, `mutation { logoutAll }`, nil)
	require.Empty(t, resp.Errors)
	require.Equal(t, nowhere, g.accepted(t, token))
}
