// Package policy is the composition root of the policy subgraph: roles,
// role bindings and CEL policies of each organization, and the decisions
// built on them (authorize, authorizeBatch, and authorizeMany, the router's
// @policy contract). New wires the store, the CEL environment, the decision
// engine with its Redis cache, and two consumers of the events stream (the
// kit's WithEvents runs the outbox relay): the cache invalidation consumer
// (studio.policy.>) and the one that binds identity's new users
// (studio.identity.user.created).
package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/health"
	"github.com/studio-platform/studio/subgraphs/kit"
	"github.com/studio-platform/studio/subgraphs/policy/decide"
	"github.com/studio-platform/studio/subgraphs/policy/expr"
	"github.com/studio-platform/studio/subgraphs/policy/graph"
	"github.com/studio-platform/studio/subgraphs/policy/graph/generated"
	"github.com/studio-platform/studio/subgraphs/policy/store"
)

// Name is the subgraph's name (in supergraph.yaml, metrics, logs).
const Name = "policy"

// Consumers of the events stream. Their durable names end with a hash of
// the database (host, port, name; ConsumerName), so the replicas of one
// deployment share the work while deployments that share a NATS server but
// not a database (the tests) each see every event.
const (
	// CacheConsumer invalidates an organization's cached decisions on each of
	// its policy-change events.
	CacheConsumer = "policy-cache"
	// BootstrapConsumer binds identity's new users (an organization's first
	// ADMIN becomes its owner).
	BootstrapConsumer = "policy-bootstrap"
	// SubjectUserCreated is identity's event for a new user.
	SubjectUserCreated = "studio.identity.user.created"
)

// Config configures the policy subgraph.
type Config struct {
	// DatabaseURL is the Postgres URL; policy keeps its tables in schema "policy".
	DatabaseURL string
	// JWKSURL is identity's JWKS, used to verify access tokens. Not needed
	// when kit.WithVerifier is given.
	JWKSURL string
	// RedisURL is the decision cache (redis://host:port/db). Empty: decisions
	// are not cached. The cache needs events (kit.WithEvents with a NATS URL):
	// policy changes invalidate it through them.
	RedisURL string
}

// Option configures New: kit.WithLogger, kit.WithQueryTracer, kit.WithVerifier,
// kit.WithLimits, kit.WithMount, kit.WithEvents (the outbox relay, and the
// cache invalidation and new-user consumers; without it nothing invalidates
// the cache and new users are not bound).
type Option = kit.Option

// Service is a running policy subgraph.
type Service struct {
	*kit.Service
	store  *store.Store
	engine *decide.Engine
}

// New opens the database (applying migrations), connects to Redis when
// configured and builds the HTTP handler. Close releases it all.
func New(ctx context.Context, cfg Config, opts ...Option) (_ *Service, err error) {
	kcfg := kit.Config{Name: Name, DatabaseURL: cfg.DatabaseURL, Schema: store.Schema, Migrations: store.Migrations()}
	errs := []error{kcfg.Validate()}
	if cfg.JWKSURL == "" && !kit.HasVerifier(opts...) {
		errs = append(errs, errors.New("policy: JWKSURL is required (or kit.WithVerifier)"))
	}
	var ropts *redis.Options
	if cfg.RedisURL != "" {
		var perr error
		if ropts, perr = redis.ParseURL(cfg.RedisURL); perr != nil {
			errs = append(errs, fmt.Errorf("policy: RedisURL: %w", perr))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	env, err := expr.NewEnv()
	if err != nil {
		return nil, err
	}
	var engineOpts []decide.Option
	var rdb *redis.Client
	if ropts != nil {
		rdb = redis.NewClient(ropts)
		engineOpts = append(engineOpts, decide.WithCache(decide.NewCache(rdb, 0)))
	}
	bg := &background{rdb: rdb}
	svc, err := kit.Open(ctx, kcfg, append(opts, kit.WithMount(bg.mount))...)
	if err != nil {
		if rdb != nil {
			rdb.Close()
		}
		return nil, err
	}
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()
	st := store.New(svc.DB())
	bg.engine = decide.New(st, env, append(engineOpts, decide.WithLogger(svc.Log()))...)
	res := &graph.Resolver{Store: st, Env: env, Engine: bg.engine}
	api := kit.API{Schema: generated.NewExecutableSchema(generated.Config{Resolvers: res})}
	if cfg.JWKSURL != "" {
		api.Verifier = auth.NewJWKSVerifier(cfg.JWKSURL)
	}
	if err := svc.Serve(ctx, api); err != nil {
		return nil, err
	}
	return &Service{Service: svc, store: st, engine: bg.engine}, nil
}

// Store returns the service's store (for tests and tools).
func (s *Service) Store() *store.Store { return s.store }

// Engine returns the decision engine (for tests and tools).
func (s *Service) Engine() *decide.Engine { return s.engine }

// Seed binds the demo users (see package demo) when they have no binding.
func (s *Service) Seed(ctx context.Context) error {
	if err := s.store.Seed(ctx); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	return nil
}

// background is the service's work besides requests: Redis and the two
// consumers, on the kit's JetStream connection (kit.WithEvents runs the
// relay) and a small pool of their own without the service's query tracer,
// so request query counts stay exact.
type background struct {
	rdb    *redis.Client
	engine *decide.Engine
}

// consumerMaxConns bounds the consumers' pool (one message at a time each).
const consumerMaxConns = 2

func (b *background) mount(ctx context.Context, m *kit.Mount) (func(), error) {
	if b.rdb != nil {
		m.Check(health.Check{Name: "redis", Fn: func(ctx context.Context) error { return b.rdb.Ping(ctx).Err() }})
	}
	closeRedis := func() {
		if b.rdb != nil {
			b.rdb.Close()
		}
	}
	if m.JetStream == nil {
		if b.rdb != nil {
			closeRedis()
			return nil, errors.New("policy: RedisURL needs events (kit.WithEvents with a NATS URL): policy changes invalidate the cache through them")
		}
		return nil, nil
	}
	cfg := m.DB.Pool().Config().Copy()
	cfg.ConnConfig.Tracer = nil
	cfg.MaxConns, cfg.MinConns = consumerMaxConns, 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		closeRedis()
		return nil, fmt.Errorf("policy: consumers' pool: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	run := func(what string, fn func() error) {
		wg.Go(func() {
			if err := fn(); err != nil && runCtx.Err() == nil {
				m.Log.Error("policy: "+what+" stopped", "error", err)
			}
		})
	}
	opts := m.EventOptions
	cacheName, bootName := ConsumerName(CacheConsumer, cfg.ConnConfig), ConsumerName(BootstrapConsumer, cfg.ConnConfig)
	run("cache invalidation", func() error {
		return events.Consume(runCtx, m.JetStream, cacheName, []string{store.ChangeSubjectPrefix + ">"}, b.invalidate, opts...)
	})
	run("user bootstrap", func() error {
		return events.Consume(runCtx, m.JetStream, bootName, []string{SubjectUserCreated},
			events.Idempotent(pool, bootName, bindNewUser, opts...), opts...)
	})
	return func() {
		cancel()
		wg.Wait()
		pool.Close()
		closeRedis()
	}, nil
}

// ConsumerName is the durable name of consumer for the database cc connects to.
func ConsumerName(consumer string, cc *pgx.ConnConfig) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s:%d/%s", cc.Host, cc.Port, cc.Database)
	return fmt.Sprintf("%s-%08x", consumer, h.Sum32())
}

// invalidate bumps the organization's policy version in the cache.
func (b *background) invalidate(ctx context.Context, ev events.Event) error {
	if c := b.engine.Cache(); c != nil {
		return c.Invalidate(ctx, ev.OrganizationID.String())
	}
	return nil
}

// userCreated is the part of identity's user.created payload policy reads.
type userCreated struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

func bindNewUser(ctx context.Context, tx pgx.Tx, ev events.Event) error {
	var u userCreated
	if err := json.Unmarshal(ev.Payload, &u); err != nil || !kit.IsUUID(u.ID) {
		return events.Permanent(fmt.Errorf("user.created payload: %v", err))
	}
	return store.BindNewUser(ctx, tx, ev.OrganizationID.String(), u.ID, u.Role)
}
