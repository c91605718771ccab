package auth

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// VerifierOption configures NewJWKSVerifier.
type VerifierOption func(*jwksVerifier)

// WithHTTPClient sets the client used to fetch the JWKS (default: 5s timeout).
func WithHTTPClient(c *http.Client) VerifierOption {
	return func(v *jwksVerifier) { v.client = c }
}

// WithIssuer requires the iss claim to equal issuer (default DefaultIssuer;
// "" keeps the default: there is no "any issuer").
func WithIssuer(issuer string) VerifierOption {
	return func(v *jwksVerifier) {
		if issuer != "" {
			v.issuer = issuer
		}
	}
}

// WithAudience requires the aud claim to contain audience (default
// DefaultAudience; "" keeps the default).
func WithAudience(audience string) VerifierOption {
	return func(v *jwksVerifier) {
		if audience != "" {
			v.audience = audience
		}
	}
}

// WithLeeway allows clock skew when checking exp, nbf and iat (default 30s).
func WithLeeway(d time.Duration) VerifierOption {
	return func(v *jwksVerifier) { v.leeway = d }
}

// WithRefetchInterval is the minimum time between two JWKS fetches caused by
// an unknown kid (default 5s), so that tokens with made-up key ids cannot make
// the verifier hammer the identity service.
func WithRefetchInterval(d time.Duration) VerifierOption {
	return func(v *jwksVerifier) { v.minRefetch = d }
}

// DefaultMaxKeyAge is how long a verifier uses fetched keys before it
// refreshes them: identity's JWKS is served with max-age=300, and a retired
// signing key stops being trusted at most this long after it left the JWKS.
const DefaultMaxKeyAge = 5 * time.Minute

// WithMaxKeyAge is how long fetched keys are used before the next Verify
// refreshes them (DefaultMaxKeyAge when zero). When a refresh fails the old
// keys stay in use.
func WithMaxKeyAge(d time.Duration) VerifierOption {
	return func(v *jwksVerifier) {
		if d > 0 {
			v.maxAge = d
		}
	}
}

// NewJWKSVerifier returns a Verifier that checks ES256 tokens against the
// JWKS served at url. Keys are fetched lazily on first use, cached, refreshed
// after the max key age, and refetched when a token names an unknown kid. No
// more than one fetch happens per refetch interval, also while the JWKS is
// unreachable (then Verify fails fast with ErrKeysUnavailable).
func NewJWKSVerifier(url string, opts ...VerifierOption) Verifier {
	v := &jwksVerifier{
		url:        url,
		issuer:     DefaultIssuer,
		audience:   DefaultAudience,
		client:     &http.Client{Timeout: 5 * time.Second},
		leeway:     30 * time.Second,
		minRefetch: 5 * time.Second,
		maxAge:     DefaultMaxKeyAge,
		now:        time.Now,
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

type jwksVerifier struct {
	url        string
	client     *http.Client
	issuer     string
	audience   string
	leeway     time.Duration
	minRefetch time.Duration
	maxAge     time.Duration
	now        func() time.Time

	fetchMu sync.Mutex // serializes fetches; held without mu

	mu        sync.RWMutex
	keys      map[string]*ecdsa.PublicKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt, successful or not
	lastErr   error     // error of the last attempt, nil if it succeeded
}

func (v *jwksVerifier) Verify(ctx context.Context, token string) (*Claims, error) {
	return parse(token, v.issuer, v.audience, v.leeway, v.now, func(kid string) (*ecdsa.PublicKey, error) {
		return v.key(ctx, kid)
	})
}

// key returns the public key for kid, fetching the JWKS when the cache is
// empty or stale, or (rate limited) when kid is unknown.
func (v *jwksVerifier) key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	v.mu.RLock()
	k, ok := v.keys[kid]
	stale := v.now().Sub(v.fetchedAt) > v.maxAge
	v.mu.RUnlock()
	if ok && !stale {
		return k, nil
	}

	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	// Another goroutine may have fetched while we waited.
	v.mu.RLock()
	k, ok = v.keys[kid]
	stale = v.now().Sub(v.fetchedAt) > v.maxAge
	recent := !v.triedAt.IsZero() && v.now().Sub(v.triedAt) < v.minRefetch
	lastErr := v.lastErr
	v.mu.RUnlock()
	switch {
	case ok && !stale:
		return k, nil
	case recent:
		// We fetched (or tried to) a moment ago: do not refetch yet.
		switch {
		case ok:
			return k, nil // stale, but the best we have
		case lastErr != nil:
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, lastErr)
		default:
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
	}

	err := v.fetch(ctx)
	v.mu.RLock()
	k, ok = v.keys[kid]
	v.mu.RUnlock()
	switch {
	case ok:
		return k, nil // fresh, or stale but still the best we have
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	default:
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
}

// fetch downloads and parses the JWKS; on success it replaces the key set.
func (v *jwksVerifier) fetch(ctx context.Context) error {
	v.mu.Lock()
	v.triedAt = v.now()
	v.mu.Unlock()

	keys, err := v.download(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastErr = err
	if err != nil {
		return err
	}
	v.keys = keys
	v.fetchedAt = v.now()
	return nil
}

func (v *jwksVerifier) download(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	// Do not let one client's cancelled request fail the fetch for everyone
	// waiting on it; the HTTP client's timeout bounds it instead.
	ctx = context.WithoutCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", v.url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks %s: status %s", v.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("jwks %s: read: %w", v.url, err)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", v.url, err)
	}
	return keys, nil
}
