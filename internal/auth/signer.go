package auth

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signer issues ES256 access tokens with the active key of its key set, and
// publishes every key of the set as a JWKS: during a rotation the set holds
// the old key (tokens signed with it stay valid until they expire), the new
// active one, and possibly a next key published before it signs anything.
// It is also a Verifier of tokens signed by any key of the set (useful in a
// single process and in tests). SetKeys swaps the set; it is safe for
// concurrent use.
type Signer struct {
	issuer   string
	audience string
	now      func() time.Time

	mu   sync.RWMutex
	kid  string // the active key's id
	key  *ecdsa.PrivateKey
	pubs map[string]*ecdsa.PublicKey // every published key, the active one included
	jwks []byte
	err  error // from building jwks
}

// Key is one signing key of a Signer's set.
type Key struct {
	ID  string
	Key *ecdsa.PrivateKey
}

// SignerOption configures NewSigner.
type SignerOption func(*Signer)

// SignAudience sets the aud claim of issued tokens (default DefaultAudience).
func SignAudience(aud string) SignerOption {
	return func(s *Signer) {
		if aud != "" {
			s.audience = aud
		}
	}
}

// NewSigner returns a Signer for key, published under kid, with iss = issuer
// (DefaultIssuer when empty) and aud = DefaultAudience. With a nil key it
// has no key until SetKeys.
func NewSigner(kid string, key *ecdsa.PrivateKey, issuer string, opts ...SignerOption) *Signer {
	if issuer == "" {
		issuer = DefaultIssuer
	}
	s := &Signer{issuer: issuer, audience: DefaultAudience, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.err = errors.New("auth: signer: no key")
	if key != nil {
		s.err = s.SetKeys(kid, []Key{{ID: kid, Key: key}})
	}
	return s
}

// SetKeys makes the key active signs new tokens with and publishes keys (in
// that order in the JWKS; active must be one of them).
func (s *Signer) SetKeys(active string, keys []Key) error {
	pubs := make(map[string]*ecdsa.PublicKey, len(keys))
	set := JWKS{Keys: make([]JWK, 0, len(keys))}
	var activeKey *ecdsa.PrivateKey
	for _, k := range keys {
		jwk, err := NewJWK(k.ID, &k.Key.PublicKey)
		if err != nil {
			return err
		}
		set.Keys = append(set.Keys, jwk)
		pubs[k.ID] = &k.Key.PublicKey
		if k.ID == active {
			activeKey = k.Key
		}
	}
	if activeKey == nil {
		return fmt.Errorf("auth: signer: active key %q is not in the set", active)
	}
	body, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("auth: signer: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kid, s.key, s.pubs, s.jwks, s.err = active, activeKey, pubs, body, nil
	return nil
}

// KeyID returns the kid the Signer puts in token headers (the active key's).
func (s *Signer) KeyID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.kid
}

// Sign returns the compact JWT for c, signed with the active key. An empty
// Issuer is set to the Signer's issuer, an empty Audience to its audience
// and a nil IssuedAt to now; the caller sets Subject and ExpiresAt
// (verifiers reject tokens without exp).
func (s *Signer) Sign(c Claims) (string, error) {
	if c.Issuer == "" {
		c.Issuer = s.issuer
	}
	if len(c.Audience) == 0 {
		c.Audience = jwt.ClaimStrings{s.audience}
	}
	if c.IssuedAt == nil {
		c.IssuedAt = jwt.NewNumericDate(s.now())
	}
	s.mu.RLock()
	kid, key := s.kid, s.key
	s.mu.RUnlock()
	if key == nil {
		return "", errors.New("auth: sign: no signing key")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = kid
	out, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return out, nil
}

// PublicJWKS returns the JWKS document publishing every key of the set.
func (s *Signer) PublicJWKS() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.jwks, s.err
}

// JWKSHandler serves PublicJWKS (mount at /.well-known/jwks.json), the set
// current at each request.
func (s *Signer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := s.PublicJWKS()
		if err != nil {
			http.Error(w, "jwks unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}

// Verify checks a token signed by any key of the set.
func (s *Signer) Verify(_ context.Context, token string) (*Claims, error) {
	return parse(token, s.issuer, s.audience, 0, s.now, func(kid string) (*ecdsa.PublicKey, error) {
		s.mu.RLock()
		pub, ok := s.pubs[kid]
		s.mu.RUnlock()
		if !ok {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return pub, nil
	})
}

// parse verifies token with the key lookup and maps failures to the sentinels.
// The token's iss must equal issuer and its aud contain audience.
func parse(token, issuer, audience string, leeway time.Duration, now func() time.Time, lookup func(kid string) (*ecdsa.PublicKey, error)) (*Claims, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{Algorithm}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
	}
	var claims Claims
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		return lookup(kid)
	}, opts...)
	switch {
	case err == nil:
		return &claims, nil
	case errors.Is(err, ErrKeysUnavailable):
		return nil, err
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, fmt.Errorf("%w: %w", ErrExpiredToken, err)
	default:
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
}
