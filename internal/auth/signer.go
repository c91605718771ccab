package auth

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signer issues ES256 access tokens with a fixed key id, issuer and audience.
// It is also a Verifier of its own tokens (useful in a single process and in
// tests).
type Signer struct {
	kid      string
	key      *ecdsa.PrivateKey
	issuer   string
	audience string
	now      func() time.Time
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
// (DefaultIssuer when empty) and aud = DefaultAudience.
func NewSigner(kid string, key *ecdsa.PrivateKey, issuer string, opts ...SignerOption) *Signer {
	if issuer == "" {
		issuer = DefaultIssuer
	}
	s := &Signer{kid: kid, key: key, issuer: issuer, audience: DefaultAudience, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// KeyID returns the kid the Signer puts in token headers.
func (s *Signer) KeyID() string { return s.kid }

// Sign returns the compact JWT for c. An empty Issuer is set to the Signer's
// issuer, an empty Audience to its audience and a nil IssuedAt to now; the
// caller sets Subject and ExpiresAt (verifiers reject tokens without exp).
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
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = s.kid
	out, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return out, nil
}

// PublicJWKS returns the JWKS document publishing the Signer's public key.
func (s *Signer) PublicJWKS() ([]byte, error) {
	k, err := NewJWK(s.kid, &s.key.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.Marshal(JWKS{Keys: []JWK{k}})
}

// JWKSHandler serves PublicJWKS (mount at /.well-known/jwks.json).
func (s *Signer) JWKSHandler() http.Handler {
	body, err := s.PublicJWKS()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			http.Error(w, "jwks unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}

// Verify checks a token signed by this Signer.
func (s *Signer) Verify(_ context.Context, token string) (*Claims, error) {
	return parse(token, s.issuer, s.audience, 0, s.now, func(kid string) (*ecdsa.PublicKey, error) {
		if kid != s.kid {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return &s.key.PublicKey, nil
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
