// Package compliance is the composition root of the compliance subgraph:
// projects, controls and evidence, every query scoped by the caller's
// organization. New wires the store, the token verifier (identity's JWKS by
// default), the gqlgen handler and the HTTP routes.
package compliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/health"
	"github.com/studio-platform/studio/internal/metrics"
	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/subgraphs/compliance/graph"
	"github.com/studio-platform/studio/subgraphs/compliance/graph/generated"
	"github.com/studio-platform/studio/subgraphs/compliance/loaders"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/internal/gqlserver"
)

// Name is the subgraph's name (in supergraph.yaml, metrics, logs).
const Name = "compliance"

// Config configures the compliance subgraph.
type Config struct {
	// DatabaseURL is the Postgres URL; compliance keeps its tables in schema "compliance".
	DatabaseURL string
	// JWKSURL is identity's JWKS (…/.well-known/jwks.json), used to verify
	// access tokens. Not needed when WithVerifier is given.
	JWKSURL string
}

// Option configures New.
type Option func(*options)

type options struct {
	tracer   pgx.QueryTracer
	verifier auth.Verifier
	log      *slog.Logger
}

// WithQueryTracer traces every SQL query of the store (e.g. a pg.QueryCounter).
func WithQueryTracer(t pgx.QueryTracer) Option { return func(o *options) { o.tracer = t } }

// WithVerifier replaces the token verifier (default: auth.NewJWKSVerifier(cfg.JWKSURL)).
func WithVerifier(v auth.Verifier) Option { return func(o *options) { o.verifier = v } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Service is a running compliance subgraph.
type Service struct {
	store   *store.Store
	handler http.Handler
}

// New opens the database (applying migrations) and builds the HTTP handler.
// Close releases it.
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if cfg.DatabaseURL == "" {
		errs = append(errs, errors.New("compliance: DatabaseURL is required"))
	}
	if cfg.JWKSURL == "" && o.verifier == nil {
		errs = append(errs, errors.New("compliance: JWKSURL is required (or WithVerifier)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	verifier := o.verifier
	if verifier == nil {
		verifier = auth.NewJWKSVerifier(cfg.JWKSURL)
	}
	var pgOpts []pg.Option
	if o.tracer != nil {
		pgOpts = append(pgOpts, pg.WithTracer(o.tracer))
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, pgOpts...)
	if err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}

	res := &graph.Resolver{Store: st}
	gql := gqlserver.New(generated.NewExecutableSchema(generated.Config{Resolvers: res}), o.log)
	m := metrics.New(Name)
	h := health.New(health.Check{Name: "postgres", Fn: st.Ping})

	mux := http.NewServeMux()
	mux.Handle("/graphql", auth.Middleware(verifier)(loaders.Middleware(st)(gql)))
	mux.Handle("GET /health", h.Live())
	mux.Handle("GET /ready", h.Ready())
	mux.Handle("GET /metrics", m.Handler())
	return &Service{store: st, handler: m.Middleware(mux)}, nil
}

// Handler serves /graphql (POST, GET), /health, /ready and /metrics.
func (s *Service) Handler() http.Handler { return s.handler }

// Store returns the service's store (for tests and tools).
func (s *Service) Store() *store.Store { return s.store }

// Seed inserts the demo project, controls and evidence (see package demo) when absent.
func (s *Service) Seed(ctx context.Context) error {
	if err := s.store.Seed(ctx); err != nil {
		return fmt.Errorf("compliance: %w", err)
	}
	return nil
}

// Close releases the database pool.
func (s *Service) Close() { s.store.Close() }
