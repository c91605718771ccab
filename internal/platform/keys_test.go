package platform_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// kidOf reads the kid header of a token (unverified).
func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, &auth.Claims{})
	require.NoError(t, err)
	kid, _ := tok.Header["kid"].(string)
	return kid
}

// jwksKids lists the kids identity publishes.
func jwksKids(t *testing.T, identityURL string) []string {
	t.Helper()
	resp, err := http.Get(identityURL + "/.well-known/jwks.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	var set auth.JWKS
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// Signing-key rotation through the real router: a token from before the
// rotation keeps working, a token after carries the new kid, the JWKS
// publishes both; once the old key is retired its tokens are refused by
// identity at once and by the router when it refreshes its keys.
func TestSigningKeyRotation(t *testing.T) {
	g := start(t, kit.Limits{}, platform.WithRouterConfig(func(c *router.Config) { c.JWKSMaxAge = time.Second }))
	ctx := context.Background()
	id := g.p.Identity
	before := g.signIn(t, demo.DemoUser.Email)
	oldKid := kidOf(t, before.Access)
	require.Equal(t, id.Signer().KeyID(), oldKid)
	require.Equal(t, everywhere, g.accepted(t, before.Access))

	newKid, err := id.RotateKey(ctx, 0)
	require.NoError(t, err)
	require.NotEqual(t, oldKid, newKid)
	require.Equal(t, []string{newKid, oldKid}, jwksKids(t, g.p.IdentityURL), "the JWKS publishes the new and the old key")
	after := g.signIn(t, demo.DemoUser.Email)
	require.Equal(t, newKid, kidOf(t, after.Access), "new tokens carry the new kid")
	// The router and compliance meet an unknown kid and refetch the JWKS (at
	// most every 5 s: a fetch moments ago makes them wait for the next).
	require.Eventually(t, func() bool {
		for _, c := range []struct{ url, query string }{
			{g.p.RouterURL, `{ me { email } projects(first: 1) { totalCount } }`},
			{g.p.ComplianceURL, `{ projects(first: 1) { totalCount } }`},
		} {
			if st, code := status(t, c.url, after.Access, c.query); st != http.StatusOK || code != "" {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, everywhere, g.accepted(t, after.Access))
	require.Equal(t, everywhere, g.accepted(t, before.Access), "a token signed before the rotation stays valid")

	retired, err := id.Store().RetireSupersededKeys(ctx, time.Hour)
	require.NoError(t, err)
	require.Empty(t, retired, "the old key stays published while its tokens may be valid")
	require.ErrorIs(t, id.RetireKey(ctx, newKid), store.ErrActiveKey)
	require.NoError(t, id.RetireKey(ctx, oldKid))
	require.Equal(t, []string{newKid}, jwksKids(t, g.p.IdentityURL))
	// identity verifies with its own key set: at once; the router after its JWKSMaxAge (1 s here).
	st, code := status(t, g.p.IdentityURL, before.Access, `{ me { email } }`)
	require.Equal(t, http.StatusUnauthorized, st)
	require.Equal(t, "UNAUTHENTICATED", code)
	require.Eventually(t, func() bool {
		st, _ := status(t, g.p.RouterURL, before.Access, `{ me { email } }`)
		return st == http.StatusUnauthorized
	}, 20*time.Second, 50*time.Millisecond, "the old key's token is refused by the router once it refreshed its keys")
	require.Equal(t, everywhere, g.accepted(t, after.Access))

	// Automatic retirement: once a key has been replaced for KeyRetireAfter
	// (0 here), the reload retires it.
	third, err := id.RotateKey(ctx, 0)
	require.NoError(t, err)
	retired, err = id.Store().RetireSupersededKeys(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, []string{newKid}, retired)
	require.NoError(t, id.ReloadKeys(ctx))
	require.Equal(t, []string{third}, jwksKids(t, g.p.IdentityURL))
}
