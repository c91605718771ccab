// Package compliance is the composition root of the compliance subgraph:
// projects, controls and evidence, every query scoped by the caller's
// organization. New wires the store, the token verifier (identity's JWKS by
// default) and the resolvers on the subgraph kit (subgraphs/kit), which serves
// /graphql, /health, /ready and /metrics.
package compliance

import (
	"context"
	"errors"
	"fmt"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/compliance/graph"
	"github.com/studio-platform/studio/subgraphs/compliance/graph/generated"
	"github.com/studio-platform/studio/subgraphs/compliance/loaders"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/kit"
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
	// Neo4jURL is the compliance graph's Neo4j (NEO4J_URL). Set, the service
	// syncs the framework catalog into it, runs the durable consumer
	// compliance-graph (with kit.WithEvents) that applies compliance's events
	// to it, and answers the graph fields. Empty: those fields fail with an
	// error saying the graph is not configured.
	Neo4jURL string
}

// Option configures New: kit.WithLogger, kit.WithQueryTracer, kit.WithVerifier
// (default: auth.NewJWKSVerifier(cfg.JWKSURL)), kit.WithLimits, kit.WithMount.
type Option = kit.Option

// Service is a running compliance subgraph.
type Service struct {
	*kit.Service
	store *store.Store
}

// New opens the database (applying migrations) and builds the HTTP handler.
// Close releases it.
func New(ctx context.Context, cfg Config, opts ...Option) (_ *Service, err error) {
	kcfg := kit.Config{Name: Name, DatabaseURL: cfg.DatabaseURL, Schema: store.Schema, Migrations: store.Migrations()}
	errs := []error{kcfg.Validate()}
	if cfg.JWKSURL == "" && !kit.HasVerifier(opts...) {
		errs = append(errs, errors.New("compliance: JWKSURL is required (or kit.WithVerifier)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	svc, err := kit.Open(ctx, kcfg, opts...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()
	st := store.New(svc.DB())
	res := &graph.Resolver{Store: st, Loaders: loaders.New(st)}
	api := kit.API{Schema: generated.NewExecutableSchema(generated.Config{Resolvers: res}), Loaders: res.Loaders}
	if cfg.Neo4jURL != "" {
		api.Mounts = append(api.Mounts, graphMount(cfg.Neo4jURL, st, res))
	}
	if cfg.JWKSURL != "" {
		api.Verifier = auth.NewJWKSVerifier(cfg.JWKSURL)
	}
	if err := svc.Serve(ctx, api); err != nil {
		return nil, err
	}
	return &Service{Service: svc, store: st}, nil
}

// Store returns the service's store (for tests and tools).
func (s *Service) Store() *store.Store { return s.store }

// Seed inserts the demo project, controls and evidence (see package demo) when absent.
func (s *Service) Seed(ctx context.Context) error {
	if err := s.store.Seed(ctx); err != nil {
		return fmt.Errorf("compliance: %w", err)
	}
	return nil
}
