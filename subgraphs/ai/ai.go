// Package ai is the composition root of the ai subgraph: chat sessions
// about a project with answers grounded in its controls, evidence and
// document chunks (tokens streamed on NATS JetStream, messages in
// PostgreSQL), evidence analyses and policy drafts. New wires the store, the
// provider (package provider; offline by default), the compliance graph and
// the chunk embeddings in Neo4j, the token stream and the resolvers on the
// subgraph kit (subgraphs/kit).
package ai

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/health"
	"github.com/studio-platform/studio/internal/jobs"
	"github.com/studio-platform/studio/subgraphs/ai/assistant"
	"github.com/studio-platform/studio/subgraphs/ai/embed"
	"github.com/studio-platform/studio/subgraphs/ai/graph"
	"github.com/studio-platform/studio/subgraphs/ai/graph/generated"
	"github.com/studio-platform/studio/subgraphs/ai/graph/model"
	"github.com/studio-platform/studio/subgraphs/ai/loaders"
	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/ai/store"
	"github.com/studio-platform/studio/subgraphs/ai/vectors"
	"github.com/studio-platform/studio/subgraphs/ai/work"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Name is the subgraph's name (in supergraph.yaml, metrics, logs).
const Name = "ai"

// Config configures the ai subgraph.
type Config struct {
	// DatabaseURL is the Postgres URL; ai keeps its tables in schema "ai".
	DatabaseURL string
	// JWKSURL is identity's JWKS, used to verify access tokens. Not needed
	// when kit.WithVerifier is given.
	JWKSURL string
	// Neo4jURL is the Neo4j holding the compliance graph (read) and the
	// chunk embeddings (NEO4J_URL). Required.
	Neo4jURL string
	// Provider answers and embeds (default: provider.FromEnv()).
	Provider provider.Provider
	// Assistant tunes retrieval (zero fields keep their defaults).
	Assistant assistant.Config
	// Jobs tunes the analyses' and drafts' work queue (Queue defaults to
	// work.DefaultQueue; tests sharing one NATS server use one each).
	Jobs jobs.Config
	// Workers is how many job workers run in the service: default 1;
	// negative for none.
	Workers int
}

// Option configures New: kit.WithLogger, kit.WithQueryTracer, kit.WithVerifier,
// kit.WithLimits, kit.WithMount, kit.WithEvents (required: the token stream
// and the consumers run on its NATS connection).
type Option = kit.Option

// Service is a running ai subgraph.
type Service struct {
	*kit.Service
	store *store.Store
	res   *graph.Resolver
}

// New opens the database (applying migrations), Neo4j and the token stream
// and builds the HTTP handler. Close releases it.
func New(ctx context.Context, cfg Config, opts ...Option) (_ *Service, err error) {
	kcfg := kit.Config{Name: Name, DatabaseURL: cfg.DatabaseURL, Schema: store.Schema, Migrations: store.Migrations()}
	errs := []error{kcfg.Validate()}
	if cfg.JWKSURL == "" && !kit.HasVerifier(opts...) {
		errs = append(errs, errors.New("ai: JWKSURL is required (or kit.WithVerifier)"))
	}
	if cfg.Neo4jURL == "" {
		errs = append(errs, errors.New("ai: Neo4j URL is required (NEO4J_URL)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Provider == nil {
		if cfg.Provider, err = provider.FromEnv(); err != nil {
			return nil, fmt.Errorf("ai: %w", err)
		}
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
	api := kit.API{
		Schema:  generated.NewExecutableSchema(generated.Config{Resolvers: res}),
		Loaders: res.Loaders,
		Mounts:  []kit.MountFunc{mount(cfg, res)},
	}
	if cfg.JWKSURL != "" {
		api.Verifier = auth.NewJWKSVerifier(cfg.JWKSURL)
	}
	if err := svc.Serve(ctx, api); err != nil {
		return nil, err
	}
	return &Service{Service: svc, store: st, res: res}, nil
}

// mount opens Neo4j (the compliance graph and the chunk embeddings), the
// token stream, builds the assistant for the resolvers and runs the
// embeddings consumer until Close.
func mount(cfg Config, res *graph.Resolver) kit.MountFunc {
	return func(ctx context.Context, m *kit.Mount) (_ func(), err error) {
		if m.JetStream == nil {
			return nil, errors.New("ai: NATS is required (kit.WithEvents with a NATS URL): answers stream their tokens on JetStream")
		}
		if _, err := assistant.EnsureChatStream(ctx, m.JetStream); err != nil {
			return nil, err
		}
		drv, err := projection.OpenDriver(cfg.Neo4jURL)
		if err != nil {
			return nil, err
		}
		closeDrv := func() {
			ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			_ = drv.Close(ctx)
		}
		defer func() {
			if err != nil {
				closeDrv()
			}
		}()
		graphDB, err := projection.New(ctx, drv)
		if err != nil {
			return nil, err
		}
		p := cfg.Provider
		vec, err := vectors.New(ctx, drv, assistant.EmbeddingModelName(p), p.Dimensions())
		if err != nil {
			return nil, err
		}
		acfg := cfg.Assistant
		if acfg.Log == nil {
			acfg.Log = m.Log
		}
		res.Assistant = assistant.New(p, graphDB, vec, m.JetStream, acfg)
		jcfg := cfg.Jobs
		if jcfg.Log == nil {
			jcfg.Log = m.Log
		}
		worker := work.New(res.Store, res.Assistant, m.JetStream, jcfg)
		m.Check(health.Check{Name: "neo4j", Fn: drv.VerifyConnectivity})
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := events.Consume(runCtx, m.JetStream, embed.Consumer, embed.Subjects, embed.Handler(p, vec), m.EventOptions...); err != nil {
				m.Log.Error("ai: embeddings consumer stopped", "error", err)
			}
		})
		wg.Go(func() {
			if err := worker.Forward(runCtx, m.EventOptions...); err != nil {
				m.Log.Error("ai: job forwarder stopped", "error", err)
			}
		})
		workers := cfg.Workers
		if workers == 0 {
			workers = 1
		}
		for range max(workers, 0) {
			wg.Go(func() {
				if err := worker.Run(runCtx); err != nil {
					m.Log.Error("ai: job worker stopped", "error", err)
				}
			})
		}
		return func() {
			cancel()
			wg.Wait()
			closeDrv()
		}, nil
	}
}

// Store returns the service's store (for tests and tools).
func (s *Service) Store() *store.Store { return s.store }

// Assistant returns the service's assistant (for tests and tools).
func (s *Service) Assistant() *assistant.Assistant { return s.res.Assistant }

// seedWait bounds how long Seed waits for the compliance graph to hold the
// demo project's controls (compliance's seed events reach it through NATS).
const seedWait = 30 * time.Second

// Seed writes the demo project's chat session and, when it has no messages
// yet, asks demo.ChatQuestion in it: the answer is grounded in what the
// compliance graph and the chunk embeddings hold of the demo project by
// then (Seed waits up to seedWait for its controls). Idempotent.
func (s *Service) Seed(ctx context.Context) error {
	sess := &model.ChatSession{ID: demo.ChatSessionID, OrgID: demo.OrgID, ProjectID: demo.ProjectID, CreatedByID: demo.DemoUser.ID,
		Title: demo.ChatSessionTitle}
	if err := s.store.SeedSession(ctx, sess); err != nil {
		return err
	}
	if n, err := s.store.MessageCount(ctx, demo.OrgID, demo.ChatSessionID); err != nil || n > 0 {
		return err
	}
	scope := projection.Scope{OrgID: demo.OrgID, ProjectID: demo.ProjectID}
	deadline := time.Now().Add(seedWait)
	for {
		controls, err := s.res.Assistant.Graph().ProjectControls(ctx, scope, 1)
		if err != nil {
			return err
		}
		if len(controls) > 0 {
			break
		}
		if time.Now().After(deadline) {
			s.Log().Warn("ai seed: the compliance graph has no demo controls yet; the demo answer cites what it has")
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	_, err := s.res.Ask(ctx, sess, demo.DemoUser.ID, demo.ChatQuestion, demo.ChatQuestionID, demo.ChatAnswerID)
	return err
}
