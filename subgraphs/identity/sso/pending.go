package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// PendingTTL is how long a started sign-in may take to come back.
const PendingTTL = 10 * time.Minute

// browserCookie binds a pending sign-in to the browser that started it.
const browserCookie = "studio_sso"

// pending is a sign-in between its start and the provider's answer: what the
// answer must match. It lives in Redis under its state for PendingTTL and is
// taken (read and deleted at once) when the answer comes: each state is good
// for one answer.
type pending struct {
	// Kind is "oidc" or "saml"; Target the provider name or organization id.
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// Browser is the sha256 of the binding cookie of the browser that started.
	Browser []byte `json:"browser"`
	// OIDC: the PKCE verifier and the nonce the ID token must carry.
	Verifier string `json:"verifier,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	// SAML: the AuthnRequest's ID, the only InResponseTo accepted.
	RequestID string `json:"requestId,omitempty"`
}

// pendingStore keeps pending sign-ins in Redis.
type pendingStore struct {
	rdb redis.UniversalClient
}

func pendingKey(state string) string {
	h := sha256.Sum256([]byte(state))
	return "studio:sso:pending:" + base64.RawURLEncoding.EncodeToString(h[:])
}

// put stores p and returns its new state (a random, URL-safe string).
func (s pendingStore) put(ctx context.Context, p pending) (string, error) {
	state := randomString(32)
	b, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	if err := s.rdb.Set(ctx, pendingKey(state), b, PendingTTL).Err(); err != nil {
		return "", fmt.Errorf("%w: %w", errUnavailable, err)
	}
	return state, nil
}

// take returns and deletes the pending sign-in of state; errStateInvalid when
// there is none (unknown, expired or already used).
func (s pendingStore) take(ctx context.Context, state string) (pending, error) {
	var p pending
	if state == "" || len(state) > 128 {
		return p, errStateInvalid
	}
	b, err := s.rdb.GetDel(ctx, pendingKey(state)).Bytes()
	if errors.Is(err, redis.Nil) {
		return p, errStateInvalid
	}
	if err != nil {
		return p, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("pending sign-in: %w", err)
	}
	return p, nil
}

// bindBrowser returns the hash of the browser's binding cookie, setting a new
// cookie when the browser has none. The cookie is HttpOnly, scoped to /auth/
// and lives as long as a pending sign-in. Over https it is SameSite=None and
// Secure, because a SAML response arrives as a cross-site POST; over http
// (development on localhost, where IdP and SP are same-site) SameSite=Lax.
func bindBrowser(w http.ResponseWriter, r *http.Request, secure bool) []byte {
	v := ""
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) == 43 {
		v = c.Value
	} else {
		v = randomString(32)
		c := &http.Cookie{Name: browserCookie, Value: v, Path: "/auth/", MaxAge: int(PendingTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode}
		if secure {
			c.Secure, c.SameSite = true, http.SameSiteNoneMode
		}
		http.SetCookie(w, c)
	}
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// sameBrowser reports whether r comes from the browser that started p.
func sameBrowser(r *http.Request, p pending) bool {
	c, err := r.Cookie(browserCookie)
	if err != nil {
		return false
	}
	h := sha256.Sum256([]byte(c.Value))
	return subtle.ConstantTimeCompare(h[:], p.Browser) == 1
}

// randomString returns n random bytes, base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func isHTTPS(u string) bool { return strings.HasPrefix(u, "https://") }
