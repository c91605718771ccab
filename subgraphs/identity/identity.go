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

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/identity/graph"
	"github.com/studio-platform/studio/subgraphs/identity/graph/generated"
	"github.com/studio-platform/studio/subgraphs/identity/loaders"
	"github.com/studio-platform/studio/subgraphs/identity/password"
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
}

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
	return errors.Join(errs...)
}

// Option configures New: kit.WithLogger, kit.WithQueryTracer, kit.WithVerifier
// (default: identity's own Signer), kit.WithSessions (the Redis session store:
// without it logout and logoutAll end refresh tokens only, so production
// always sets it), kit.WithLimits, kit.WithMount.
type Option = kit.Option

// Service is a running identity subgraph.
type Service struct {
	*kit.Service
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
	signer, err := loadSigner(ctx, st, cfg.Issuer, cfg.Audience)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	res := &graph.Resolver{Store: st, Signer: signer, Sessions: svc.Sessions(), AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, Loaders: loaders.New(st)}
	if err := svc.Serve(ctx, kit.API{
		Schema:   generated.NewExecutableSchema(generated.Config{Resolvers: res}),
		Loaders:  res.Loaders,
		Verifier: signer,
		Routes:   map[string]http.Handler{"GET /.well-known/jwks.json": signer.JWKSHandler()},
	}); err != nil {
		return nil, err
	}
	return &Service{Service: svc, store: st, signer: signer}, nil
}

// loadSigner returns the signer for the key stored in the database, creating
// the key on first start.
func loadSigner(ctx context.Context, st *store.Store, issuer, audience string) (*auth.Signer, error) {
	kid, pemBytes, err := st.SigningKey(ctx, func() (string, []byte, error) {
		key, err := auth.GenerateKey()
		if err != nil {
			return "", nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return "", nil, err
		}
		sum := sha256.Sum256(der)
		kid := base64.RawURLEncoding.EncodeToString(sum[:12])
		pemBytes, err := auth.MarshalKey(key)
		return kid, pemBytes, err
	})
	if err != nil {
		return nil, err
	}
	key, err := auth.ParseKey(pemBytes)
	if err != nil {
		return nil, err
	}
	return auth.NewSigner(kid, key, issuer, auth.SignAudience(audience)), nil
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
