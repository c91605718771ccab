// Package platform starts the whole graph in one process — every subgraph and
// the router — on given or ephemeral ports. `studio dev` and the end-to-end
// tests use it; production runs each piece as its own process instead.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/serve"
	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/router/config"
	"github.com/studio-platform/studio/router/upload"
	"github.com/studio-platform/studio/subgraphs/ai"
	"github.com/studio-platform/studio/subgraphs/compliance"
	"github.com/studio-platform/studio/subgraphs/documents"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/identity"
	"github.com/studio-platform/studio/subgraphs/kit"
	"github.com/studio-platform/studio/subgraphs/policy"
)

// Config says where each piece listens and which database it uses.
type Config struct {
	DatabaseURL string
	// NatsURL is the NATS JetStream server the subgraphs publish their events
	// to (kit.WithEvents). Empty: events wait in the outboxes.
	NatsURL string
	// S3 is the object storage of the documents' bytes (S3_URL and keys;
	// the bucket defaults to documents.DefaultBucket).
	S3 objects.Config
	// Neo4jURL is the compliance graph's Neo4j (compliance.Config.Neo4jURL).
	// Empty: the graph fields answer an error.
	Neo4jURL string
	// RedisURL is the Redis holding identity's sessions, checked by the router
	// and every subgraph on each request with a token. Empty: sessions are
	// not checked (logout then ends refresh tokens only; tests and dev only).
	// It is also policy's decision cache (see policy.Config).
	RedisURL string
	// SupergraphFile is the composed supergraph the router serves.
	SupergraphFile string
	// RouterAddr, IdentityAddr, ComplianceAddr, DocumentsAddr, PolicyAddr are listen addresses; "127.0.0.1:0" picks a free port.
	RouterAddr     string
	IdentityAddr   string
	ComplianceAddr string
	DocumentsAddr  string
	PolicyAddr     string
	// AIAddr is the ai subgraph's listen address; empty: ai is not started
	// (it needs NatsURL and Neo4jURL, which several tests do without).
	AIAddr string
	// AI configures the ai subgraph (its provider; DatabaseURL, JWKSURL and
	// Neo4jURL are filled in).
	AI ai.Config
	// Seed loads the demo data (idempotent).
	Seed bool
	// RouterEdge is the router's public edge (rate limits, CSRF, CORS, APQ...);
	// the zero value turns it off.
	RouterEdge config.Edge
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("platform: DatabaseURL is required"))
	}
	if c.SupergraphFile == "" {
		errs = append(errs, errors.New("platform: SupergraphFile is required"))
	}
	for name, addr := range map[string]string{"RouterAddr": c.RouterAddr, "IdentityAddr": c.IdentityAddr, "ComplianceAddr": c.ComplianceAddr, "DocumentsAddr": c.DocumentsAddr, "PolicyAddr": c.PolicyAddr} {
		if addr == "" {
			errs = append(errs, fmt.Errorf("platform: %s is required", name))
		}
	}
	if c.AIAddr != "" && (c.NatsURL == "" || c.Neo4jURL == "") {
		errs = append(errs, errors.New("platform: the ai subgraph (AIAddr) needs NatsURL and Neo4jURL"))
	}
	return errors.Join(errs...)
}

// Option configures Start.
type Option func(*options)

type options struct {
	log         *slog.Logger
	identity    []identity.Option
	identityCfg []func(*identity.Config)
	compliance  []compliance.Option
	documents   []documents.Option
	policy      []policy.Option
	ai          []ai.Option
	router      []router.Option
	routerCfg   []func(*router.Config)
	wrap        map[string]func(http.Handler) http.Handler
}

// WithRouterConfig changes the router's configuration before it starts
// (the supergraph, JWKS and subgraph URLs are set already).
func WithRouterConfig(fn func(*router.Config)) Option {
	return func(o *options) { o.routerCfg = append(o.routerCfg, fn) }
}

// WithMiddleware wraps the HTTP handler of one piece ("identity", "compliance",
// "documents", "policy" or "router"), e.g. to count requests or inject faults in tests.
func WithMiddleware(name string, mw func(http.Handler) http.Handler) Option {
	return func(o *options) { o.wrap[name] = mw }
}

// WithLogger sets the logger of every piece.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithIdentityOptions passes options to the identity subgraph.
func WithIdentityOptions(opts ...identity.Option) Option {
	return func(o *options) { o.identity = append(o.identity, opts...) }
}

// WithIdentityConfig changes identity's configuration before it starts (the
// database, Redis and PublicURL, identity's own URL, are set already), e.g.
// to add OpenID providers.
func WithIdentityConfig(fn func(*identity.Config)) Option {
	return func(o *options) { o.identityCfg = append(o.identityCfg, fn) }
}

// WithComplianceOptions passes options to the compliance subgraph.
func WithComplianceOptions(opts ...compliance.Option) Option {
	return func(o *options) { o.compliance = append(o.compliance, opts...) }
}

// WithDocumentsOptions passes options to the documents subgraph.
func WithDocumentsOptions(opts ...documents.Option) Option {
	return func(o *options) { o.documents = append(o.documents, opts...) }
}

// WithPolicyOptions passes options to the policy subgraph.
func WithPolicyOptions(opts ...policy.Option) Option {
	return func(o *options) { o.policy = append(o.policy, opts...) }
}

// WithAIOptions passes options to the ai subgraph.
func WithAIOptions(opts ...ai.Option) Option {
	return func(o *options) { o.ai = append(o.ai, opts...) }
}

// WithRouterOptions passes options to the router.
func WithRouterOptions(opts ...router.Option) Option {
	return func(o *options) { o.router = append(o.router, opts...) }
}

// Platform is the running graph.
type Platform struct {
	RouterURL     string
	IdentityURL   string
	ComplianceURL string
	DocumentsURL  string
	PolicyURL     string
	AIURL         string // "" when ai is not started
	Identity      *identity.Service
	Compliance    *compliance.Service
	Documents     *documents.Service
	Policy        *policy.Service
	AI            *ai.Service // nil when not started

	servers []*http.Server
	closers []func()
	wg      sync.WaitGroup
	once    sync.Once
}

// Start brings up identity, compliance, documents, policy, ai (with
// AIAddr) and the router. Close stops them.
func Start(ctx context.Context, cfg Config, opts ...Option) (_ *Platform, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{log: slog.Default(), wrap: map[string]func(http.Handler) http.Handler{}}
	for _, opt := range opts {
		opt(&o)
	}
	p := &Platform{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	idLn, err := listen(cfg.IdentityAddr)
	if err != nil {
		return nil, err
	}
	compLn, err := listen(cfg.ComplianceAddr)
	if err != nil {
		idLn.Close()
		return nil, err
	}
	docLn, err := listen(cfg.DocumentsAddr)
	if err != nil {
		closeAll(idLn, compLn)
		return nil, err
	}
	polLn, err := listen(cfg.PolicyAddr)
	if err != nil {
		closeAll(idLn, compLn, docLn)
		return nil, err
	}
	routerLn, err := listen(cfg.RouterAddr)
	if err != nil {
		closeAll(idLn, compLn, docLn, polLn)
		return nil, err
	}
	p.IdentityURL = "http://" + idLn.Addr().String()
	p.ComplianceURL = "http://" + compLn.Addr().String()
	p.DocumentsURL = "http://" + docLn.Addr().String()
	p.PolicyURL = "http://" + polLn.Addr().String()
	p.RouterURL = "http://" + routerLn.Addr().String()
	jwks := p.IdentityURL + "/.well-known/jwks.json"

	evs := kit.WithEvents(kit.Events{NatsURL: cfg.NatsURL})
	shared := []kit.Option{evs}
	if cfg.RedisURL != "" {
		sessions, err := auth.OpenSessions(cfg.RedisURL)
		if err != nil {
			closeAll(idLn, compLn, docLn, routerLn)
			return nil, fmt.Errorf("platform: %w", err)
		}
		p.closers = append(p.closers, func() { _ = sessions.Close() })
		shared = append(shared, kit.WithSessions(sessions))
		o.router = append([]router.Option{router.WithSessions(sessions)}, o.router...)
	}
	icfg := identity.Config{DatabaseURL: cfg.DatabaseURL, RedisURL: cfg.RedisURL, PublicURL: p.IdentityURL}
	for _, fn := range o.identityCfg {
		fn(&icfg)
	}
	p.Identity, err = identity.New(ctx, icfg,
		append(append([]identity.Option{kit.WithLogger(o.log.With("service", "identity"))}, shared...), o.identity...)...)
	if err != nil {
		closeAll(idLn, compLn, docLn, polLn, routerLn)
		return nil, fmt.Errorf("platform: identity: %w", err)
	}
	p.closers = append(p.closers, p.Identity.Close)
	p.serve(idLn, o.wrapped(identity.Name, p.Identity.Handler()), o.log)

	p.Compliance, err = compliance.New(ctx, compliance.Config{DatabaseURL: cfg.DatabaseURL, JWKSURL: jwks, Neo4jURL: cfg.Neo4jURL},
		append(append([]compliance.Option{kit.WithLogger(o.log.With("service", "compliance"))}, shared...), o.compliance...)...)
	if err != nil {
		closeAll(compLn, docLn, polLn, routerLn)
		return nil, fmt.Errorf("platform: compliance: %w", err)
	}
	p.closers = append(p.closers, p.Compliance.Close)
	p.serve(compLn, o.wrapped(compliance.Name, p.Compliance.Handler()), o.log)

	p.Documents, err = documents.New(ctx, documents.Config{DatabaseURL: cfg.DatabaseURL, JWKSURL: jwks, S3: cfg.S3, SkipGenerated: cfg.AIAddr == ""},
		append(append([]documents.Option{kit.WithLogger(o.log.With("service", "documents"))}, shared...), o.documents...)...)
	if err != nil {
		closeAll(docLn, polLn, routerLn)
		return nil, fmt.Errorf("platform: documents: %w", err)
	}
	p.closers = append(p.closers, p.Documents.Close)
	p.serveWith(serve.NewServer("", o.wrapped(documents.Name, p.Documents.Handler()), p.Documents.ServerOptions()...), docLn, o.log)

	p.Policy, err = policy.New(ctx, policy.Config{DatabaseURL: cfg.DatabaseURL, JWKSURL: jwks, RedisURL: cfg.RedisURL},
		append(append([]policy.Option{kit.WithLogger(o.log.With("service", "policy"))}, shared...), o.policy...)...)
	if err != nil {
		closeAll(polLn, routerLn)
		return nil, fmt.Errorf("platform: policy: %w", err)
	}
	p.closers = append(p.closers, p.Policy.Close)
	p.serve(polLn, o.wrapped(policy.Name, p.Policy.Handler()), o.log)

	var aiLn net.Listener
	if cfg.AIAddr != "" {
		if aiLn, err = listen(cfg.AIAddr); err != nil {
			routerLn.Close()
			return nil, err
		}
		p.AIURL = "http://" + aiLn.Addr().String()
		acfg := cfg.AI
		acfg.DatabaseURL, acfg.JWKSURL, acfg.Neo4jURL = cfg.DatabaseURL, jwks, cfg.Neo4jURL
		p.AI, err = ai.New(ctx, acfg, append(append([]ai.Option{kit.WithLogger(o.log.With("service", "ai"))}, shared...), o.ai...)...)
		if err != nil {
			closeAll(aiLn, routerLn)
			return nil, fmt.Errorf("platform: ai: %w", err)
		}
		p.closers = append(p.closers, p.AI.Close)
		p.serve(aiLn, o.wrapped(ai.Name, p.AI.Handler()), o.log)
	}

	if cfg.Seed {
		if err := p.Identity.Seed(ctx); err != nil {
			routerLn.Close()
			return nil, fmt.Errorf("platform: seed identity: %w", err)
		}
		if err := p.Compliance.Seed(ctx); err != nil {
			routerLn.Close()
			return nil, fmt.Errorf("platform: seed compliance: %w", err)
		}
		if err := p.Policy.Seed(ctx); err != nil {
			routerLn.Close()
			return nil, fmt.Errorf("platform: seed policy: %w", err)
		}
		if err := p.Documents.Seed(ctx); err != nil {
			routerLn.Close()
			return nil, fmt.Errorf("platform: seed documents: %w", err)
		}
		if p.AI != nil {
			if err := p.AI.Seed(ctx); err != nil {
				routerLn.Close()
				return nil, fmt.Errorf("platform: seed ai: %w", err)
			}
		}
	}

	rcfg := router.Config{
		SupergraphFile: cfg.SupergraphFile,
		JWKSURL:        jwks,
		SubgraphURLs: map[string]string{
			identity.Name:   p.IdentityURL + "/graphql",
			compliance.Name: p.ComplianceURL + "/graphql",
			documents.Name:  p.DocumentsURL + "/graphql",
			policy.Name:     p.PolicyURL + "/graphql",
		},
		// The router asks policy for @policy decisions (authorizeMany).
		PolicyURL: p.PolicyURL + "/graphql",
		Edge:      cfg.RouterEdge,
		// Files of multipart requests are streamed to documents (upload's defaults).
		Uploads: &upload.Limits{},
	}
	if p.AI != nil {
		rcfg.SubgraphURLs[ai.Name] = p.AIURL + "/graphql"
	}
	for _, fn := range o.routerCfg {
		fn(&rcfg)
	}
	r, err := router.New(ctx, rcfg, append([]router.Option{router.WithLogger(o.log.With("service", "router"))}, o.router...)...)
	if err != nil {
		routerLn.Close()
		return nil, fmt.Errorf("platform: router: %w", err)
	}
	p.closers = append(p.closers, func() { _ = r.Close() })
	srv := r.Server("")
	srv.Handler = o.wrapped("router", srv.Handler)
	p.serveWith(srv, routerLn, o.log)
	return p, nil
}

func (o *options) wrapped(name string, h http.Handler) http.Handler {
	if mw := o.wrap[name]; mw != nil {
		return mw(h)
	}
	return h
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("platform: listen on %s: %w", addr, err)
	}
	return ln, nil
}

func closeAll(lns ...net.Listener) {
	for _, l := range lns {
		l.Close()
	}
}

func (p *Platform) serve(ln net.Listener, h http.Handler, log *slog.Logger) {
	p.serveWith(serve.NewServer("", h), ln, log)
}

func (p *Platform) serveWith(srv *http.Server, ln net.Listener, log *slog.Logger) {
	p.servers = append(p.servers, srv)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("server stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
}

// Close shuts every server down gracefully and releases the services.
func (p *Platform) Close() {
	p.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := len(p.servers) - 1; i >= 0; i-- {
			_ = p.servers[i].Shutdown(ctx)
		}
		p.wg.Wait()
		for i := len(p.closers) - 1; i >= 0; i-- {
			p.closers[i]()
		}
	})
}

// DashboardQuery is the README's dashboard: the signed-in user, their
// organization, their projects with owners, controls, evidence and the
// evidence's submitters — identity, then compliance, then identity again.
// BenchmarkDashboard measures it through the router.
const DashboardQuery = `query Dashboard {
  me {
    name
    organization { name members(first: 100) { totalCount } }
    projects(first: 20) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        name
        owner { name email }
        controls(first: 50) {
          totalCount
          nodes {
            code
            title
            status
            evidence(first: 10) { totalCount nodes { title submittedBy { name email } } }
          }
        }
      }
    }
  }
}`
