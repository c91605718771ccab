package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const issuer = DefaultIssuer

func newSigner(t *testing.T, kid string) *Signer {
	t.Helper()
	k, err := GenerateKey()
	require.NoError(t, err)
	return NewSigner(kid, k, issuer)
}

func claims(ttl time.Duration) Claims {
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "user-1",
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl)),
		},
		OrgID:  "org-1",
		Email:  "ada@example.com",
		Scopes: []string{"read", "write"},
	}
}

// jwksServer serves the JWKS of whichever signers are current and counts requests.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	signers []*Signer
	hits    atomic.Int32
}

func newJWKSServer(t *testing.T, signers ...*Signer) *jwksServer {
	t.Helper()
	s := &jwksServer{signers: signers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		var set JWKS
		for _, sg := range s.signers {
			k, err := NewJWK(sg.kid, &sg.key.PublicKey)
			require.NoError(t, err)
			set.Keys = append(set.Keys, k)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(signers ...*Signer) {
	s.mu.Lock()
	s.signers = signers
	s.mu.Unlock()
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := newSigner(t, "k1")
	tok, err := s.Sign(claims(time.Minute))
	require.NoError(t, err)

	c, err := s.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, "user-1", c.Subject)
	require.Equal(t, "org-1", c.OrgID)
	require.Equal(t, "ada@example.com", c.Email)
	require.Equal(t, issuer, c.Issuer)
	require.True(t, c.HasScope("write"))
	require.False(t, c.HasScope("admin"))

	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &Claims{})
	require.NoError(t, err)
	require.Equal(t, "k1", parsed.Header["kid"])
	require.Equal(t, "ES256", parsed.Header["alg"])
}

func TestPublicJWKSFormat(t *testing.T) {
	s := newSigner(t, "k1")
	raw, err := s.PublicJWKS()
	require.NoError(t, err)
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Len(t, doc.Keys, 1)
	k := doc.Keys[0]
	require.Equal(t, "EC", k["kty"])
	require.Equal(t, "P-256", k["crv"])
	require.Equal(t, "k1", k["kid"])
	require.Equal(t, "ES256", k["alg"])
	require.Equal(t, "sig", k["use"])
	require.Len(t, k["x"], 43) // 32 bytes base64url without padding
	require.Len(t, k["y"], 43)
	require.NotContains(t, k, "d", "private part must never be published")

	keys, err := ParseJWKS(raw)
	require.NoError(t, err)
	require.True(t, keys["k1"].Equal(&s.key.PublicKey))

	rec := httptest.NewRecorder()
	s.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.JSONEq(t, string(raw), rec.Body.String())
}

func TestParseJWKSRejectsGarbage(t *testing.T) {
	_, err := ParseJWKS([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"x","e":"AQAB"}]}`))
	require.Error(t, err)
	_, err = ParseJWKS([]byte(`not json`))
	require.Error(t, err)
	_, err = ParseJWKS([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"AA"}]}`))
	require.Error(t, err)
}

func TestKeyPEMRoundTrip(t *testing.T) {
	k, err := GenerateKey()
	require.NoError(t, err)
	pemBytes, err := MarshalKey(k)
	require.NoError(t, err)
	back, err := ParseKey(pemBytes)
	require.NoError(t, err)
	require.True(t, k.Equal(back))

	_, err = ParseKey([]byte("nope"))
	require.Error(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	pem384, err := MarshalKey(p384)
	require.NoError(t, err)
	_, err = ParseKey(pem384)
	require.ErrorContains(t, err, "P-256")
}

func TestJWKSVerifierCachesKeys(t *testing.T) {
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, s)
	v := NewJWKSVerifier(srv.URL, WithIssuer(issuer))

	for range 5 {
		tok, err := s.Sign(claims(time.Minute))
		require.NoError(t, err)
		c, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		require.Equal(t, "user-1", c.Subject)
	}
	require.EqualValues(t, 1, srv.hits.Load(), "keys are fetched once and cached")
}

func TestJWKSVerifierRefetchesOnUnknownKid(t *testing.T) {
	old, rotated := newSigner(t, "old"), newSigner(t, "new")
	srv := newJWKSServer(t, old)
	v := NewJWKSVerifier(srv.URL).(*jwksVerifier)
	clock := time.Now()
	v.now = func() time.Time { return clock }

	tok, err := old.Sign(claims(time.Hour))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.EqualValues(t, 1, srv.hits.Load())

	// identity rotates its key; a token with the new kid triggers a refetch
	// once the refetch interval has passed.
	srv.set(old, rotated)
	clock = clock.Add(6 * time.Second)
	tok, err = rotated.Sign(claims(time.Hour))
	require.NoError(t, err)
	c, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, "user-1", c.Subject)
	require.EqualValues(t, 2, srv.hits.Load())
}

func TestJWKSVerifierRateLimitsRefetch(t *testing.T) {
	s, stranger := newSigner(t, "k1"), newSigner(t, "made-up")
	srv := newJWKSServer(t, s)
	v := NewJWKSVerifier(srv.URL).(*jwksVerifier)
	clock := time.Now()
	v.now = func() time.Time { return clock }

	good, err := s.Sign(claims(time.Hour))
	require.NoError(t, err)
	bad, err := stranger.Sign(claims(time.Hour))
	require.NoError(t, err)

	_, err = v.Verify(context.Background(), good)
	require.NoError(t, err)
	for range 10 {
		_, err = v.Verify(context.Background(), bad)
		require.ErrorIs(t, err, ErrInvalidToken)
	}
	require.EqualValues(t, 1, srv.hits.Load(), "unknown kids within the interval cause no fetch")

	clock = clock.Add(5 * time.Second)
	_, err = v.Verify(context.Background(), bad)
	require.ErrorIs(t, err, ErrInvalidToken)
	require.EqualValues(t, 2, srv.hits.Load(), "after the interval one refetch is allowed")
}

func TestJWKSVerifierConcurrentUnknownKidFetchesOnce(t *testing.T) {
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, s)
	v := NewJWKSVerifier(srv.URL)
	tok, err := s.Sign(claims(time.Hour))
	require.NoError(t, err)

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, srv.hits.Load())
}

func TestJWKSVerifierRefreshesStaleKeysAndSurvivesOutage(t *testing.T) {
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, s)
	v := NewJWKSVerifier(srv.URL, WithMaxKeyAge(time.Minute)).(*jwksVerifier)
	clock := time.Now()
	v.now = func() time.Time { return clock }
	tok, err := s.Sign(claims(24 * time.Hour))
	require.NoError(t, err)

	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err)
	clock = clock.Add(2 * time.Minute)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.EqualValues(t, 2, srv.hits.Load(), "stale keys are refreshed")

	srv.Close() // identity is down: the stale keys keep working
	clock = clock.Add(2 * time.Minute)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err)
}

func TestJWKSVerifierKeysUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	s := newSigner(t, "k1")
	tok, err := s.Sign(claims(time.Hour))
	require.NoError(t, err)
	_, err = NewJWKSVerifier(srv.URL).Verify(context.Background(), tok)
	require.ErrorIs(t, err, ErrKeysUnavailable)
	require.NotErrorIs(t, err, ErrInvalidToken)
}

func TestJWKSVerifierOutageFailsFast(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	s := newSigner(t, "k1")
	tok, err := s.Sign(claims(time.Hour))
	require.NoError(t, err)
	v := NewJWKSVerifier(srv.URL).(*jwksVerifier)
	clock := time.Now()
	v.now = func() time.Time { return clock }
	for range 10 {
		_, err = v.Verify(context.Background(), tok)
		require.ErrorIs(t, err, ErrKeysUnavailable)
		require.ErrorContains(t, err, "503")
	}
	require.EqualValues(t, 1, hits.Load(), "an unreachable JWKS is not hammered")
	clock = clock.Add(5 * time.Second)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, ErrKeysUnavailable)
	require.EqualValues(t, 2, hits.Load())
}

func TestJWKSVerifierHTTPTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	s := newSigner(t, "k1")
	tok, err := s.Sign(claims(time.Hour))
	require.NoError(t, err)
	v := NewJWKSVerifier(srv.URL, WithHTTPClient(&http.Client{Timeout: 50 * time.Millisecond}))
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, ErrKeysUnavailable)
}

func TestVerifyExpiredToken(t *testing.T) {
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, s)
	v := NewJWKSVerifier(srv.URL, WithLeeway(0))
	tok, err := s.Sign(claims(-time.Minute))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, ErrExpiredToken)
	require.NotErrorIs(t, err, ErrInvalidToken)

	_, err = s.Verify(context.Background(), tok)
	require.ErrorIs(t, err, ErrExpiredToken)
}

func TestVerifyRejects(t *testing.T) {
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, s)
	v := NewJWKSVerifier(srv.URL, WithIssuer(issuer))
	good, err := s.Sign(claims(time.Hour))
	require.NoError(t, err)

	withHeader := func(m jwt.SigningMethod, key any, kid string) string {
		tk := jwt.NewWithClaims(m, claims(time.Hour))
		if kid != "" {
			tk.Header["kid"] = kid
		}
		out, err := tk.SignedString(key)
		require.NoError(t, err)
		return out
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	noExp := claims(time.Hour)
	noExp.ExpiresAt = nil
	noExpTok, err := s.Sign(noExp)
	require.NoError(t, err)
	wrongIss := claims(time.Hour)
	wrongIss.Issuer = "https://evil.test"
	wrongIssTok, err := s.Sign(wrongIss)
	require.NoError(t, err)
	wrongAud := claims(time.Hour)
	wrongAud.Audience = jwt.ClaimStrings{"another-service"}
	wrongAudTok, err := s.Sign(wrongAud)
	require.NoError(t, err)
	otherIssTok, err := NewSigner("k1", s.key, "https://evil.test").Sign(claims(time.Hour))
	require.NoError(t, err)

	cases := map[string]string{
		"alg none":        withHeader(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1"),
		"HS256 with kid":  withHeader(jwt.SigningMethodHS256, []byte("public key as secret"), "k1"),
		"RS256":           withHeader(jwt.SigningMethodRS256, rsaKey, "k1"),
		"ES384":           withHeader(jwt.SigningMethodES384, p384, "k1"),
		"ES256 no kid":    withHeader(jwt.SigningMethodES256, s.key, ""),
		"tampered":        good[:len(good)-4] + "AAAA",
		"garbage":         "not.a.jwt",
		"missing exp":     noExpTok,
		"wrong issuer":    wrongIssTok,
		"wrong audience":  wrongAudTok,
		"other issuer":    otherIssTok,
		"other key k1":    NewSigner("k1", mustKey(t), issuer).mustSign(t),
		"payload swapped": swapPayload(t, good, withHeader(jwt.SigningMethodES256, mustKey(t), "k1")),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tok)
			require.ErrorIs(t, err, ErrInvalidToken)
		})
	}
	_, err = v.Verify(context.Background(), "")
	require.ErrorIs(t, err, ErrNoToken)
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := GenerateKey()
	require.NoError(t, err)
	return k
}

func (s *Signer) mustSign(t *testing.T) string {
	tok, err := s.Sign(claims(time.Hour))
	require.NoError(t, err)
	return tok
}

// swapPayload returns a's header and signature around b's payload.
func swapPayload(t *testing.T, a, b string) string {
	pa, pb := splitJWT(t, a), splitJWT(t, b)
	return pa[0] + "." + pb[1] + "." + pa[2]
}

func splitJWT(t *testing.T, s string) [3]string {
	var out [3]string
	i := 0
	start := 0
	for j := 0; j < len(s); j++ {
		if s[j] == '.' {
			out[i] = s[start:j]
			i++
			start = j + 1
		}
	}
	require.Equal(t, 2, i)
	out[2] = s[start:]
	return out
}

func TestContextClaims(t *testing.T) {
	_, ok := ClaimsFromContext(context.Background())
	require.False(t, ok)
	c := &Claims{OrgID: "o"}
	got, ok := ClaimsFromContext(WithClaims(context.Background(), c))
	require.True(t, ok)
	require.Same(t, c, got)
}

// A rotation: the set publishes the old and the new key, signs with the new
// one, still verifies tokens of the old one; once the old key leaves the
// set its tokens fail, and a JWKS verifier follows the set.
func TestSignerRotation(t *testing.T) {
	oldKey, err := GenerateKey()
	require.NoError(t, err)
	newKey, err := GenerateKey()
	require.NoError(t, err)
	s := NewSigner("old", oldKey, issuer)
	before, err := s.Sign(claims(time.Hour))
	require.NoError(t, err)

	require.Error(t, s.SetKeys("missing", []Key{{ID: "old", Key: oldKey}}), "the active key must be published")
	require.NoError(t, s.SetKeys("new", []Key{{ID: "new", Key: newKey}, {ID: "old", Key: oldKey}}))
	require.Equal(t, "new", s.KeyID())
	after, err := s.Sign(claims(time.Hour))
	require.NoError(t, err)
	tok, _, err := jwt.NewParser().ParseUnverified(after, &Claims{})
	require.NoError(t, err)
	require.Equal(t, "new", tok.Header["kid"])

	body, err := s.PublicJWKS()
	require.NoError(t, err)
	keys, err := ParseJWKS(body)
	require.NoError(t, err)
	require.Len(t, keys, 2)

	srv := httptest.NewServer(s.JWKSHandler())
	t.Cleanup(srv.Close)
	now := time.Now()
	v := NewJWKSVerifier(srv.URL, WithRefetchInterval(time.Nanosecond)).(*jwksVerifier)
	v.now = func() time.Time { return now }
	for _, tok := range []string{before, after} {
		_, err := s.Verify(context.Background(), tok)
		require.NoError(t, err)
		_, err = v.Verify(context.Background(), tok)
		require.NoError(t, err)
	}

	require.NoError(t, s.SetKeys("new", []Key{{ID: "new", Key: newKey}})) // the old key retired
	_, err = s.Verify(context.Background(), before)
	require.ErrorIs(t, err, ErrInvalidToken)
	_, err = v.Verify(context.Background(), before)
	require.NoError(t, err, "the verifier trusts its fetched keys until they are DefaultMaxKeyAge old")
	now = now.Add(DefaultMaxKeyAge + time.Second)
	_, err = v.Verify(context.Background(), before)
	require.ErrorIs(t, err, ErrInvalidToken)
	_, err = v.Verify(context.Background(), after)
	require.NoError(t, err)
}
