package router_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/gqlsub"
	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/router/compose"
)

// TestAuthorizationEndToEnd: a signed token's `scope` claim and the policy service
// decide, through the router's HTTP server, what a request sees.
func TestAuthorizationEndToEnd(t *testing.T) {
	const link = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@authenticated", "@requiresScopes", "@policy"])
`
	users := link + `
		type Query { me: User }
		type User @key(fields: "id") {
			id: ID!
			name: String!
			email: String @requiresScopes(scopes: [["read:email"]])
			salary: Int @policy(policies: [["hr"]])
			sessions: [String!] @authenticated
		}`
	sub, err := gqlsub.New(users, gqlsub.WithField("Query.me", func(map[string]any, map[string]any) (any, error) {
		return map[string]any{"id": "u1", "name": "Ada", "email": "ada@x.test", "salary": 100, "sessions": []any{"s1"}}, nil
	}))
	require.NoError(t, err)
	subSrv := httptest.NewServer(sub)
	t.Cleanup(subSrv.Close)
	sdl, err := compose.Compose([]compose.Subgraph{{Name: "users", URL: subSrv.URL, SDL: users}})
	require.NoError(t, err)

	policy, err := gqlsub.New(`
		type Query { authorizeMany(policies: [String!]!): [PolicyDecision!]! }
		type PolicyDecision { policy: String! allowed: Boolean! }`,
		gqlsub.WithField("Query.authorizeMany", func(_ map[string]any, args map[string]any) (any, error) {
			var out []any
			for _, p := range args["policies"].([]any) {
				out = append(out, map[string]any{"policy": p, "allowed": p == "hr"})
			}
			return out, nil
		}))
	require.NoError(t, err)
	policySrv := httptest.NewServer(policy)
	t.Cleanup(policySrv.Close)

	key, err := auth.GenerateKey()
	require.NoError(t, err)
	signer := auth.NewSigner("k1", key, "https://identity.test")
	jwks := httptest.NewServer(signer.JWKSHandler())
	t.Cleanup(jwks.Close)

	r, err := router.New(context.Background(), router.Config{SupergraphSDL: sdl, JWKSURL: jwks.URL, TokenIssuer: "https://identity.test", PolicyURL: policySrv.URL})
	require.NoError(t, err)

	sign := func(scope string) string {
		tok, err := signer.Sign(auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: "u1", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
			Scope:            scope,
		})
		require.NoError(t, err)
		return "Bearer " + tok
	}
	type gqlError struct {
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
	do := func(authorization string) (string, []gqlError) {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ me { name email salary sessions } }"}`))
		req.Header.Set("Content-Type", "application/json")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		r.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var body struct {
			Data   json.RawMessage `json:"data"`
			Errors []gqlError      `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		return string(body.Data), body.Errors
	}
	paths := func(errs []gqlError) []string {
		var out []string
		for _, e := range errs {
			require.Equal(t, "UNAUTHORIZED_FIELD_OR_TYPE", e.Extensions["code"])
			b, _ := json.Marshal(e.Path)
			out = append(out, string(b))
		}
		return out
	}

	data, errs := do("")
	require.JSONEq(t, `{"me":{"name":"Ada","email":null,"salary":null,"sessions":null}}`, data)
	require.Equal(t, []string{`["me","email"]`, `["me","salary"]`, `["me","sessions"]`}, paths(errs))
	require.Empty(t, policy.Requests(), "no policy call for an anonymous request")
	for _, q := range sub.Requests() {
		require.NotContains(t, q.Query, "email")
		require.NotContains(t, q.Query, "salary")
	}

	sub.Reset()
	tok := sign("profile read:email")
	data, errs = do(tok)
	require.JSONEq(t, `{"me":{"name":"Ada","email":"ada@x.test","salary":100,"sessions":["s1"]}}`, data)
	require.Empty(t, errs)
	require.Len(t, policy.Requests(), 1, "one policy call for the request")
	require.Equal(t, tok, policy.Requests()[0].Header.Get("Authorization"))
	require.Contains(t, sub.Requests()[0].Query, "email")

	data, errs = do(sign("profile"))
	require.JSONEq(t, `{"me":{"name":"Ada","email":null,"salary":100,"sessions":["s1"]}}`, data)
	require.Equal(t, []string{`["me","email"]`}, paths(errs))
	require.Len(t, policy.Requests(), 2)
}
