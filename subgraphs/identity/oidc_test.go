package identity_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/identity"
	"github.com/studio-platform/studio/subgraphs/identity/sso"
	"github.com/studio-platform/studio/subgraphs/identity/sso/ssotest"
	"github.com/studio-platform/studio/subgraphs/internal/gqltest"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// startSSO runs identity with single sign-on: SAML, and OpenID providers.
func startSSO(t *testing.T, providers ...sso.OIDCProvider) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	public := "http://" + srv.Listener.Addr().String()
	svc, err := identity.New(context.Background(), identity.Config{
		DatabaseURL: testenv.Database(t),
		RedisURL:    testenv.Stack(t).RedisURL,
		PublicURL:   public,
		OIDC:        providers,
	}, kit.WithLimits(kit.Limits{LoaderWait: kit.NoWait}))
	require.NoError(t, err)
	t.Cleanup(svc.Close)
	srv.Config.Handler = svc.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{svc: svc, srv: srv, url: srv.URL + "/graphql"}
}

// signUp signs up a new organization's ADMIN with email.
func signUp(t *testing.T, e *env, email string) authPayload {
	t.Helper()
	var su struct{ SignUp authPayload }
	gqltest.Post(t, e.url, "", `mutation($in: SignUpInput!) { signUp(input: $in) { `+authFields+` } }`, map[string]any{
		"in": map[string]any{"email": email, "password": "correct horse", "name": "Ada", "organizationName": "Analytical"},
	}).Decode(t, &su)
	return su.SignUp
}

// decodeSignIn decodes a successful sign-in: AuthPayload's fields (user:
// id, email, name, organizationId).
func decodeSignIn(t *testing.T, r ssotest.Response) authPayload {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var s authPayload
	require.NoError(t, json.Unmarshal(r.Body, &s))
	return s
}

// nonceUser is a provider user whose ID tokens carry a nonce and audience of
// the test's choosing (a provider answering someone else's request).
type nonceUser struct {
	*mockoidc.MockUser
	nonce, aud string
}

func (u nonceUser) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.nonce != "" {
		c.Nonce = u.nonce
	}
	if u.aud != "" {
		c.Audience = jwt.ClaimStrings{u.aud}
	}
	return u.MockUser.Claims(scope, c)
}

func TestOIDCSignIn(t *testing.T) {
	op := ssotest.StartOIDC(t)
	e := startSSO(t, sso.OIDCProvider{Name: "test", Issuer: op.Issuer(), ClientID: op.ClientID, ClientSecret: op.ClientSecret})
	ada := signUp(t, e, "ada@example.com")
	start := e.srv.URL + "/auth/oidc/test/start"
	me := func(token string) string {
		var out struct{ Me *struct{ Email string } }
		gqltest.Post(t, e.url, token, `{ me { email } }`, nil).Decode(t, &out)
		require.NotNil(t, out.Me)
		return out.Me.Email
	}

	t.Run("verified email signs in and links", func(t *testing.T) {
		op.QueueUser(&mockoidc.MockUser{Subject: "google-ada", Email: "Ada@Example.com", EmailVerified: true})
		s := decodeSignIn(t, ssotest.NewBrowser(t).Get(t, start))
		require.Equal(t, ada.User.ID, s.User.ID)
		require.Equal(t, "ada@example.com", me(s.AccessToken))
		claims, err := e.svc.Signer().Verify(context.Background(), s.AccessToken)
		require.NoError(t, err)
		require.NotEmpty(t, claims.SessionID, "a session like login's")

		// Linked by (issuer, subject): a changed email at the provider, even an
		// unverified one, still signs in the same user.
		op.QueueUser(&mockoidc.MockUser{Subject: "google-ada", Email: "ada.lovelace@elsewhere.test"})
		s = decodeSignIn(t, ssotest.NewBrowser(t).Get(t, start))
		require.Equal(t, ada.User.ID, s.User.ID)

		// The refresh token is the platform's own, rotated as login's.
		var rf struct{ RefreshToken authPayload }
		gqltest.Post(t, e.url, "", `mutation($t: String!) { refreshToken(refreshToken: $t) { `+authFields+` } }`,
			map[string]any{"t": s.RefreshToken}).Decode(t, &rf)
		require.Equal(t, ada.User.ID, rf.RefreshToken.User.ID)
	})

	t.Run("unverified or unknown email is refused", func(t *testing.T) {
		op.QueueUser(&mockoidc.MockUser{Subject: "mallory", Email: "ada@example.com", EmailVerified: false})
		r := ssotest.NewBrowser(t).Get(t, start)
		require.Equal(t, http.StatusForbidden, r.Status)
		require.Equal(t, []string{"EMAIL_NOT_VERIFIED"}, r.Reasons(t))

		op.QueueUser(&mockoidc.MockUser{Subject: "stranger", Email: "nobody@example.com", EmailVerified: true})
		r = ssotest.NewBrowser(t).Get(t, start)
		require.Equal(t, http.StatusForbidden, r.Status)
		require.Equal(t, []string{"NO_ACCOUNT"}, r.Reasons(t))
	})

	t.Run("wrong or replayed state", func(t *testing.T) {
		b := ssotest.NewBrowser(t)
		r := b.Get(t, e.srv.URL+"/auth/oidc/test/callback?state=forged&code=whatever")
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, []string{"STATE_INVALID"}, r.Reasons(t))

		op.QueueUser(&mockoidc.MockUser{Subject: "google-ada", Email: "ada@example.com", EmailVerified: true})
		cb := b.Until(t, start, "/callback")
		decodeSignIn(t, b.Get(t, cb.String()))
		r = b.Get(t, cb.String()) // the same answer again
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, []string{"STATE_INVALID"}, r.Reasons(t))
	})

	t.Run("answer in another browser", func(t *testing.T) {
		op.QueueUser(&mockoidc.MockUser{Subject: "google-ada", Email: "ada@example.com", EmailVerified: true})
		cb := ssotest.NewBrowser(t).Until(t, start, "/callback")
		r := ssotest.NewBrowser(t).Get(t, cb.String()) // login CSRF: the attacker's answer in the victim's browser
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, []string{"BROWSER_MISMATCH"}, r.Reasons(t))
	})

	t.Run("replayed code", func(t *testing.T) {
		b := ssotest.NewBrowser(t)
		op.QueueUser(&mockoidc.MockUser{Subject: "google-ada", Email: "ada@example.com", EmailVerified: true})
		first := b.Until(t, start, "/callback")
		decodeSignIn(t, b.Get(t, first.String()))
		// A fresh state of this browser with the used code: the provider refuses it.
		second := b.Until(t, start, "/callback")
		q := second.Query()
		q.Set("code", first.Query().Get("code"))
		second.RawQuery = q.Encode()
		r := b.Get(t, second.String())
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, []string{"PROVIDER_REFUSED"}, r.Reasons(t))
	})

	t.Run("code with another sign-in's PKCE verifier", func(t *testing.T) {
		// The victim's code, injected into the attacker's own sign-in: the
		// attacker's verifier does not match the victim's challenge.
		op.QueueUser(&mockoidc.MockUser{Subject: "google-ada", Email: "ada@example.com", EmailVerified: true})
		stolen := ssotest.NewBrowser(t).Until(t, start, "/callback").Query().Get("code")
		attacker := ssotest.NewBrowser(t)
		own := attacker.Until(t, start, "/callback")
		q := own.Query()
		q.Set("code", stolen)
		own.RawQuery = q.Encode()
		r := attacker.Get(t, own.String())
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, []string{"PROVIDER_REFUSED"}, r.Reasons(t))
	})

	t.Run("ID token for another request or client", func(t *testing.T) {
		base := &mockoidc.MockUser{Subject: "google-ada", Email: "ada@example.com", EmailVerified: true}
		op.QueueUser(nonceUser{MockUser: base, nonce: "someone-elses-nonce"})
		r := ssotest.NewBrowser(t).Get(t, start)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, []string{"ID_TOKEN_INVALID"}, r.Reasons(t))

		op.QueueUser(nonceUser{MockUser: base, aud: "another-client"})
		r = ssotest.NewBrowser(t).Get(t, start)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, []string{"ID_TOKEN_INVALID"}, r.Reasons(t))
	})

	t.Run("unknown provider", func(t *testing.T) {
		r := ssotest.NewBrowser(t).Get(t, e.srv.URL+"/auth/oidc/nope/start")
		require.Equal(t, http.StatusNotFound, r.Status)
		require.Equal(t, []string{"UNKNOWN_PROVIDER"}, r.Reasons(t))
	})
}

func TestSSOConfigValidation(t *testing.T) {
	_, err := identity.New(context.Background(), identity.Config{
		DatabaseURL: "postgres://unused",
		OIDC:        []sso.OIDCProvider{{Name: "Bad Name"}, sso.Google("", "")},
	})
	require.Error(t, err)
	for _, want := range []string{"RedisURL is required", `provider name "Bad Name"`, "google: ClientID is required", "google: ClientSecret is required", "RedirectURL or PublicURL is required"} {
		require.Contains(t, err.Error(), want)
	}
}
