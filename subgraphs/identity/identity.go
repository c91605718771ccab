// Package identity is the composition root of the identity subgraph: users,
// organizations, sign-up/login and token issuance. New wires the store, the
// token signer (its key generated on first start and kept in Postgres), the
// resolvers and the JWKS route on the subgraph kit (subgraphs/kit), which
// serves /graphql, /health, /ready and /metrics.
package identity

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/health"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/identity/graph"
	"github.com/studio-platform/studio/subgraphs/identity/graph/generated"
	"github.com/studio-platform/studio/subgraphs/identity/loaders"
	"github.com/studio-platform/studio/subgraphs/identity/password"
	"github.com/studio-platform/studio/subgraphs/identity/sso"
	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Name is the subgraph's name (in supergraph.yaml, metrics, logs).
const Name = "identity"

// Defaults for Config.
const (
	DefaultIssuer     = auth.DefaultIssuer
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 30 * 24 * time.Hour
)

// Config configures the identity subgraph.
type Config struct {
	// DatabaseURL is the Postgres URL; identity keeps its tables in schema "identity".
	DatabaseURL string
	// Issuer is the iss claim of access tokens (DefaultIssuer when empty).
	Issuer string
	// Audience is the aud claim of access tokens (auth.DefaultAudience when empty).
	Audience string
	// AccessTTL is the lifetime of access tokens (DefaultAccessTTL when zero).
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens (DefaultRefreshTTL when zero).
	RefreshTTL time.Duration
	// KeyReloadInterval is how often the signing keys are reread from
	// Postgres, so that a rotation or retirement made by `studio keys` (or
	// another replica) reaches this one (DefaultKeyReloadInterval when zero).
	KeyReloadInterval time.Duration
	// KeyRetireAfter is how long a replaced signing key stays published after
	// its successor became active; then the reload retires it
	// (AccessTTL + DefaultKeyRetireMargin when zero).
	KeyRetireAfter time.Duration
	// PublicURL is where browsers reach identity (e.g.
	// https://api.example.com/identity): the base of the single sign-on
	// callback URLs and SAML service-provider URLs (package sso). With
	// RedisURL it turns SAML sign-in on (for organizations that set an IdP).
	PublicURL string
	// OIDC are the OpenID providers users may sign in with (sso.Google,
	// sso.Microsoft, or any discoverable provider); none: OIDC sign-in off.
	OIDC []sso.OIDCProvider
	// SSOHTTPClient talks to the identity providers (default: 15 s timeout).
	SSOHTTPClient *http.Client
	// RedisURL keeps the sign-ins in progress (state, nonce, PKCE verifier,
	// SAML request id); required with OIDC and for SAML.
	RedisURL string
}

// Defaults of signing-key rotation.
const (
	DefaultKeyReloadInterval = 30 * time.Second
	// DefaultKeyRetireMargin covers the verifiers' clock leeway (30 s) and the
	// replicas still signing with the old key until their next reload.
	DefaultKeyRetireMargin = 5 * time.Minute
)

func (c *Config) defaults() {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.AccessTTL == 0 {
		c.AccessTTL = DefaultAccessTTL
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = DefaultRefreshTTL
	}
	if c.KeyReloadInterval == 0 {
		c.KeyReloadInterval = DefaultKeyReloadInterval
	}
	if c.KeyRetireAfter == 0 {
		c.KeyRetireAfter = c.AccessTTL + DefaultKeyRetireMargin
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("identity: DatabaseURL is required"))
	}
	if c.AccessTTL < 0 {
		errs = append(errs, errors.New("identity: AccessTTL must not be negative"))
	}
	if c.RefreshTTL < 0 {
		errs = append(errs, errors.New("identity: RefreshTTL must not be negative"))
	}
	if c.KeyReloadInterval < 0 || c.KeyRetireAfter < 0 {
		errs = append(errs, errors.New("identity: KeyReloadInterval and KeyRetireAfter must not be negative"))
	}
	if c.KeyRetireAfter > 0 && c.KeyRetireAfter < c.AccessTTL {
		errs = append(errs, errors.New("identity: KeyRetireAfter must not be shorter than AccessTTL (valid tokens would lose their key)"))
	}
	if len(c.OIDC) > 0 && c.RedisURL == "" {
		errs = append(errs, errors.New("identity: RedisURL is required for single sign-on (OIDC)"))
	}
	if err := c.sso(sso.SAMLKey{}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("identity: %w", err))
	}
	return errors.Join(errs...)
}

// ssoOn: the sign-in routes are served (OpenID providers configured, or SAML).
func (c Config) ssoOn() bool { return len(c.OIDC) > 0 || c.samlOn() }

// samlOn: SAML sign-in is served, to the organizations that set an identity
// provider (it needs the public URL and Redis).
func (c Config) samlOn() bool { return c.PublicURL != "" && c.RedisURL != "" }

func (c Config) sso(key sso.SAMLKey) sso.Config {
	return sso.Config{PublicURL: c.PublicURL, OIDC: c.OIDC, HTTPClient: c.SSOHTTPClient, SAMLKey: key}
}

// Option configures New: kit.WithLogger, kit.WithQueryTracer, kit.WithVerifier
// (default: identity's own Signer), kit.WithSessions (the Redis session store:
// without it logout and logoutAll end refresh tokens only, so production
// always sets it), kit.WithLimits, kit.WithMount.
type Option = kit.Option

// Service is a running identity subgraph.
type Service struct {
	*kit.Service
	cfg    Config
	store  *store.Store
	signer *auth.Signer
}

// New opens the database (applying migrations), loads or creates the signing
// key, and builds the HTTP handler. Close releases it.
func New(ctx context.Context, cfg Config, opts ...Option) (_ *Service, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	svc, err := kit.Open(ctx, kit.Config{Name: Name, DatabaseURL: cfg.DatabaseURL, Schema: store.Schema, Migrations: store.Migrations()}, opts...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()
	st := store.New(svc.DB())
	s := &Service{Service: svc, cfg: cfg, store: st,
		signer: auth.NewSigner("", nil, cfg.Issuer, auth.SignAudience(cfg.Audience))}
	if err := s.ReloadKeys(ctx); err != nil {
		return nil, err
	}
	signer := s.signer
	res := &graph.Resolver{Store: st, Signer: signer, Sessions: svc.Sessions(), AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, Loaders: loaders.New(st),
		PublicURL: cfg.PublicURL, SAML: cfg.samlOn()}
	api := kit.API{
		Schema:   generated.NewExecutableSchema(generated.Config{Resolvers: res}),
		Loaders:  res.Loaders,
		Verifier: signer,
		Routes:   map[string]http.Handler{"GET /.well-known/jwks.json": signer.JWKSHandler()},
		Mounts:   []kit.MountFunc{s.reloadKeysEvery(cfg.KeyReloadInterval)},
	}
	if cfg.ssoOn() {
		ssoCfg := cfg.sso(sso.SAMLKey{})
		if cfg.samlOn() {
			key, err := loadSAMLKey(ctx, st)
			if err != nil {
				return nil, fmt.Errorf("identity: %w", err)
			}
			ssoCfg = cfg.sso(key)
			ssoCfg.SAML = st
		}
		api.Mounts = append(api.Mounts, mountSSO(cfg.RedisURL, ssoCfg, res))
	}
	if err := svc.Serve(ctx, api); err != nil {
		return nil, err
	}
	return s, nil
}

// mountSSO serves the single sign-on routes (package sso), with their own
// Redis client for the sign-ins in progress.
func mountSSO(redisURL string, cfg sso.Config, accounts sso.Accounts) kit.MountFunc {
	return func(ctx context.Context, m *kit.Mount) (func(), error) {
		o, err := redis.ParseURL(redisURL)
		if err != nil {
			return nil, fmt.Errorf("sso: %w", err)
		}
		rdb := redis.NewClient(o)
		h, err := sso.New(cfg, accounts, rdb, m.Log)
		if err != nil {
			rdb.Close()
			return nil, err
		}
		for pattern, rh := range h.Routes() {
			m.Handle(pattern, rh)
		}
		m.Check(health.Check{Name: "redis", Fn: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }})
		return func() { _ = rdb.Close() }, nil
	}
}

// loadSAMLKey returns the SAML service provider's key pair, created on
// first start.
func loadSAMLKey(ctx context.Context, st *store.Store) (sso.SAMLKey, error) {
	k, c, err := st.SAMLServiceProviderKey(ctx, sso.GenerateSAMLKey)
	if err != nil {
		return sso.SAMLKey{}, err
	}
	return sso.ParseSAMLKey(k, c)
}

// newKey generates a signing key and its kid (a hash of its public key).
func newKey() (kid string, pemBytes []byte, err error) {
	key, err := auth.GenerateKey()
	if err != nil {
		return "", nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(der)
	pemBytes, err = auth.MarshalKey(key)
	return base64.RawURLEncoding.EncodeToString(sum[:12]), pemBytes, err
}

// ReloadKeys retires the keys superseded for longer than KeyRetireAfter,
// then rereads the published keys (creating the first on first start) and
// gives them to the signer: it signs with the active key and publishes all.
func (s *Service) ReloadKeys(ctx context.Context) error {
	retired, err := s.store.RetireSupersededKeys(ctx, s.cfg.KeyRetireAfter)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if len(retired) > 0 {
		s.Log().InfoContext(ctx, "signing keys retired", "kids", retired)
	}
	rows, err := s.store.SigningKeys(ctx, newKey)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	keys := make([]auth.Key, 0, len(rows))
	for _, r := range rows {
		k, err := auth.ParseKey(r.PEM)
		if err != nil {
			return fmt.Errorf("identity: signing key %s: %w", r.Kid, err)
		}
		keys = append(keys, auth.Key{ID: r.Kid, Key: k})
	}
	if len(keys) == 0 {
		return errors.New("identity: no signing key")
	}
	if err := s.signer.SetKeys(keys[0].ID, keys); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}

// reloadKeysEvery reloads the signing keys every interval until Close.
func (s *Service) reloadKeysEvery(interval time.Duration) kit.MountFunc {
	return func(ctx context.Context, m *kit.Mount) (func(), error) {
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := s.ReloadKeys(ctx); err != nil && ctx.Err() == nil {
						m.Log.WarnContext(ctx, "signing keys not reloaded; the current ones stay in use", "error", err)
					}
				}
			}
		}()
		return func() { cancel(); <-done }, nil
	}
}

// RotateKey creates a new signing key, published in the JWKS at once and
// signing new tokens from activateAfter on (every replica rereads the keys
// within KeyReloadInterval: an activation later than that means no verifier
// meets the new kid before the JWKS it fetches carries it). The old key
// keeps verifying its tokens until it is retired. It returns the new kid.
func (s *Service) RotateKey(ctx context.Context, activateAfter time.Duration) (string, error) {
	kid, pemBytes, err := newKey()
	if err != nil {
		return "", fmt.Errorf("identity: %w", err)
	}
	if err := s.store.AddSigningKey(ctx, kid, pemBytes, time.Now().Add(activateAfter)); err != nil {
		return "", fmt.Errorf("identity: %w", err)
	}
	return kid, s.ReloadKeys(ctx)
}

// RetireKey takes a replaced key out of the JWKS now (e.g. a compromised
// one): tokens it signed stop being accepted once verifiers refresh their
// keys (auth.DefaultMaxKeyAge). The active key cannot be retired.
func (s *Service) RetireKey(ctx context.Context, kid string) error {
	if err := s.store.RetireSigningKey(ctx, kid); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return s.ReloadKeys(ctx)
}

// SigningKeys lists the published signing keys, the active one first.
func (s *Service) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return s.store.SigningKeys(ctx, newKey)
}

// Signer returns the access-token signer (also a Verifier of its tokens).
func (s *Service) Signer() *auth.Signer { return s.signer }

// Store returns the service's store (for tests and tools).
func (s *Service) Store() *store.Store { return s.store }

// Seed inserts the demo organization and users (see package demo) when absent.
func (s *Service) Seed(ctx context.Context) error {
	hash, err := password.Hash(demo.Password)
	if err != nil {
		return err
	}
	if err := s.store.Seed(ctx, hash); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}
