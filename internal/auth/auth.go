// Package auth issues and verifies the platform's access tokens: ES256-signed
// JWTs carrying a `kid` header, whose public keys are published as a JWKS
// (RFC 7517). identity signs with a Signer; the router and the subgraphs verify
// with a JWKS Verifier, and Middleware puts the verified Claims in the request
// context.
package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Sentinel errors returned by Verifier.Verify (wrapped; test with errors.Is).
var (
	// ErrNoToken: the request carries no bearer token.
	ErrNoToken = errors.New("auth: no token")
	// ErrInvalidToken: the token is malformed, has a bad signature, an unknown
	// key id, a disallowed algorithm or wrong claims.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrExpiredToken: the token was valid but has expired (or is not valid yet).
	ErrExpiredToken = errors.New("auth: token expired")
	// ErrKeysUnavailable: the verifying keys could not be fetched, so the token
	// could not be checked at all (a server-side problem, not the client's).
	ErrKeysUnavailable = errors.New("auth: verification keys unavailable")
	// ErrSessionEnded: the token is well signed but its session has ended
	// (logout, sign out everywhere, refresh-token reuse). Wraps ErrInvalidToken.
	ErrSessionEnded = fmt.Errorf("%w: session ended", ErrInvalidToken)
	// ErrSessionsUnavailable: the session store (Redis) could not be asked, so
	// the token is refused (fail closed; answered 503).
	ErrSessionsUnavailable = errors.New("auth: session store unavailable")
)

// Defaults of the iss and aud claims, issued by identity and expected by
// every verifier unless configured otherwise.
const (
	DefaultIssuer   = "studio-identity"
	DefaultAudience = "studio"
)

// Algorithm is the only signing algorithm issued and accepted.
const Algorithm = "ES256"

// Claims are the claims of an access token. Subject is the user id.
type Claims struct {
	jwt.RegisteredClaims
	// SessionID is the `sid` claim: the session (refresh-token family) the
	// token belongs to; CheckSessions refuses it once the session has ended.
	SessionID string   `json:"sid,omitempty"`
	OrgID     string   `json:"org"`
	Email     string   `json:"email"`
	Scopes    []string `json:"scopes,omitempty"`
	// Scope is the OAuth `scope` claim (RFC 8693 §4.2): space-separated scopes, the
	// form the router's @requiresScopes reads (as Apollo's router does).
	Scope string `json:"scope,omitempty"`
}

// ScopeList returns the scopes granted: the `scope` claim's, then `scopes`.
func (c *Claims) ScopeList() []string {
	return append(strings.Fields(c.Scope), c.Scopes...)
}

// HasScope reports whether the claims grant scope s.
func (c *Claims) HasScope(s string) bool {
	return slices.Contains(c.ScopeList(), s)
}

// Verifier checks a raw token (without the "Bearer " prefix) and returns its claims.
// Errors wrap ErrInvalidToken, ErrExpiredToken or ErrKeysUnavailable.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Claims, error)
}

type claimsKey struct{}

// WithClaims returns a context carrying the verified claims.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the verified claims of the request, if any.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}
