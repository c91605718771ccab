// Package router is the composition root of the federation router: it reads a
// supergraph, builds the gateway pipeline (plan, execute) and the HTTP server,
// and wires auth, metrics and readiness.
package router

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"go.opentelemetry.io/otel/trace"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/health"
	"github.com/studio-platform/studio/internal/metrics"
	"github.com/studio-platform/studio/router/authz"
	"github.com/studio-platform/studio/router/config"
	"github.com/studio-platform/studio/router/execute"
	"github.com/studio-platform/studio/router/gateway"
	"github.com/studio-platform/studio/router/limits"
	"github.com/studio-platform/studio/router/server"
	"github.com/studio-platform/studio/router/subscribe"
	"github.com/studio-platform/studio/router/supergraph"
	"github.com/studio-platform/studio/router/transport"
	"github.com/studio-platform/studio/router/upload"
)

// Config configures the router.
type Config struct {
	// SupergraphFile is the supergraph SDL to serve (any standard Federation v2 supergraph).
	SupergraphFile string
	// SupergraphSDL is used instead of SupergraphFile when set.
	SupergraphSDL string
	// JWKSURL is where bearer tokens' keys are fetched; empty disables token verification
	// (tokens are then still forwarded to subgraphs, which verify them themselves).
	JWKSURL string
	// JWKSMaxAge is how long fetched keys are trusted before a refetch
	// (auth.DefaultMaxKeyAge when zero).
	JWKSMaxAge time.Duration
	// TokenIssuer and TokenAudience are the iss and aud a bearer token must
	// carry (auth.DefaultIssuer and auth.DefaultAudience when empty).
	TokenIssuer   string
	TokenAudience string
	// SessionsRedisURL is the Redis holding identity's sessions: with it, a
	// token whose session has ended (logout, logoutAll, refresh reuse) is
	// refused at once, and tokens are refused with 503 while Redis is down.
	// Empty: sessions are not checked here (WithSessions sets a store instead).
	SessionsRedisURL string
	// SubgraphURLs overrides routing URLs by subgraph name.
	SubgraphURLs map[string]string
	// MaxBodyBytes limits request bodies (server default when zero); for a
	// multipart request, its operations and map fields each.
	MaxBodyBytes int64
	// Uploads accepts GraphQL multipart requests (file uploads, streamed to
	// the subgraph that takes them) within these limits; nil refuses them.
	Uploads *upload.Limits
	// MaxConcurrentExecutions bounds the operations executing at once
	// (gateway.DefaultMaxConcurrentExecutions when zero).
	MaxConcurrentExecutions int
	// DedupRequests shares one execution among identical query requests in flight.
	DedupRequests bool
	// DedupSubgraphRequests shares one subgraph request among identical ones in flight.
	DedupSubgraphRequests bool
	// SubgraphH2C speaks HTTP/2 without TLS to subgraphs at http:// URLs
	// (all of them must accept it).
	SubgraphH2C bool
	// HideQueryPlans refuses the X-Studio-Query-Plan header (plans name subgraphs
	// and the operations sent to them: hide them on a public graph).
	HideQueryPlans bool
	// OverrideLabels switches progressive-override labels on (percent(N) labels
	// are rolled per request regardless).
	OverrideLabels []string
	// PolicyURL is the GraphQL endpoint asked for @policy decisions (the policy
	// subgraph; see authz.HTTPDecider). Empty: every @policy is denied.
	PolicyURL string
	// DisableIntrospection refuses __schema and __type (a public graph).
	DisableIntrospection bool
	// DisableGraphiQL serves no playground.
	DisableGraphiQL bool
	// Edge is the public edge: Redis, rate limits, CSRF, CORS, security
	// headers, APQ and persisted queries. Its zero value turns all of it off.
	Edge config.Edge
	// Limits bound each operation before validation and planning (nil:
	// limits.Defaults()).
	Limits *limits.Limits
	// PlanningBudget is the most planning steps per operation (0:
	// plan.DefaultMaxSteps).
	PlanningBudget int
	// ForwardHeaders are request headers forwarded to subgraphs besides
	// Authorization, traceparent, tracestate and X-Request-Id.
	ForwardHeaders []string

	// RequestTimeout bounds one GraphQL request from its arrival to its
	// response (DefaultRequestTimeout when zero).
	RequestTimeout time.Duration
	// ReadTimeout bounds reading one request, body included, so that a body
	// trickled byte by byte (slowloris) loses its connection
	// (DefaultReadTimeout when zero).
	ReadTimeout time.Duration
	// SubgraphTimeout bounds one subgraph request (transport.DefaultTimeout when zero).
	SubgraphTimeout time.Duration
	// SubgraphMaxInFlight bounds the requests in flight to each subgraph (the
	// bulkhead); zero means three quarters of the execution slots, so that
	// one stalled subgraph leaves executions for the others.
	SubgraphMaxInFlight int
	// BreakerFailures is how many failed requests in a row open a subgraph's
	// circuit breaker (transport.DefaultBreakerFailures when zero; negative
	// switches breakers off); BreakerCooldown is how long it stays open
	// before a probe (transport.DefaultBreakerCooldown when zero).
	BreakerFailures int
	BreakerCooldown time.Duration
	// Subscriptions bounds subscription clients (subscribe.Config's
	// defaults for zero fields).
	Subscriptions subscribe.Config
}

// ConfigFrom maps a configuration file (router/config) onto a Config.
func ConfigFrom(c *config.Config) Config {
	return Config{
		SupergraphFile:          c.Supergraph,
		JWKSURL:                 c.JWKSURL,
		JWKSMaxAge:              c.JWKSMaxAge,
		TokenIssuer:             c.TokenIssuer,
		TokenAudience:           c.TokenAudience,
		SessionsRedisURL:        c.Redis.URL,
		PolicyURL:               c.PolicyURL,
		SubgraphURLs:            c.SubgraphURLs,
		MaxBodyBytes:            c.Execution.MaxBodyBytes,
		Uploads:                 uploadLimits(c.Uploads),
		MaxConcurrentExecutions: c.Execution.MaxExecutions,
		DedupRequests:           c.Execution.DedupRequests,
		DedupSubgraphRequests:   c.Execution.DedupSubgraphRequests,
		SubgraphH2C:             c.Execution.SubgraphH2C,
		OverrideLabels:          c.Execution.OverrideLabels,
		HideQueryPlans:          !config.On(c.Features.QueryPlans),
		DisableIntrospection:    !config.On(c.Features.Introspection),
		DisableGraphiQL:         !config.On(c.Features.GraphiQL),
		Edge:                    c.Edge,
		Limits:                  ptrTo(c.Limits.Resolve()),
		PlanningBudget:          derefOr(c.Limits.PlanningBudget, 0),
		ForwardHeaders:          c.Resilience.ForwardHeaders,
		RequestTimeout:          c.Resilience.RequestTimeout,
		SubgraphTimeout:         c.Resilience.SubgraphTimeout,
		SubgraphMaxInFlight:     c.Resilience.SubgraphMaxInFlight,
		BreakerFailures:         c.Resilience.BreakerFailures,
		BreakerCooldown:         c.Resilience.BreakerCooldown,
	}
}

func uploadLimits(u config.Uploads) *upload.Limits {
	if !config.On(u.Enabled) {
		return nil
	}
	return &upload.Limits{MaxFiles: u.MaxFiles, MaxFileBytes: u.MaxFileBytes, Timeout: u.Timeout}
}

func ptrTo[T any](v T) *T { return &v }

func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// Server timeouts (see Router.Server).
const (
	DefaultRequestTimeout    = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.SupergraphFile == "" && c.SupergraphSDL == "" {
		errs = append(errs, errors.New("router: a supergraph file is required"))
	}
	if c.MaxConcurrentExecutions < 0 {
		errs = append(errs, errors.New("router: MaxConcurrentExecutions must not be negative"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("router: MaxBodyBytes must not be negative"))
	}
	for name, d := range map[string]time.Duration{"RequestTimeout": c.RequestTimeout, "SubgraphTimeout": c.SubgraphTimeout, "BreakerCooldown": c.BreakerCooldown} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("router: %s must not be negative", name))
		}
	}
	if c.SubgraphMaxInFlight < 0 {
		errs = append(errs, errors.New("router: SubgraphMaxInFlight must not be negative"))
	}
	return errors.Join(errs...)
}

// Option configures New.
type Option func(*options)

type options struct {
	log       *slog.Logger
	verifier  auth.Verifier
	client    *http.Client
	decider   authz.PolicyDecider
	tracer    trace.TracerProvider
	accessLog *slog.Logger
	sessions  *auth.Sessions
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithVerifier sets the token verifier (instead of one built from JWKSURL).
func WithVerifier(v auth.Verifier) Option { return func(o *options) { o.verifier = v } }

// WithSessions checks every token's session in s (instead of a store opened
// on SessionsRedisURL); the caller closes s.
func WithSessions(s *auth.Sessions) Option { return func(o *options) { o.sessions = s } }

// WithPolicyDecider sets who decides @policy requirements (instead of one built
// from PolicyURL).
func WithPolicyDecider(d authz.PolicyDecider) Option { return func(o *options) { o.decider = d } }

// WithHTTPClient sets the client for subgraph requests.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// Router is a ready-to-serve router.
type Router struct {
	cfg     Config
	handler http.Handler
	subs    *subscribe.Service
	metrics *metrics.Metrics
	redis   *redis.Client // nil without Edge.Redis.URL
	log     *slog.Logger

	// cur is the supergraph being served with its gateway and transport,
	// swapped whole by Reload (reload.go).
	cur     atomic.Pointer[state]
	build   func(*supergraph.Supergraph) *state
	file    string
	mu      sync.Mutex // serializes reloads
	reloads *prometheus.CounterVec
	closers []func() error
}

// Close releases the router's connections (Redis).
func (r *Router) Close() error {
	var errs []error
	if r.redis != nil {
		errs = append(errs, r.redis.Close())
	}
	for _, c := range r.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// New builds the router.
func New(ctx context.Context, cfg Config, opts ...Option) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	sdl := cfg.SupergraphSDL
	if sdl == "" {
		b, err := os.ReadFile(cfg.SupergraphFile)
		if err != nil {
			return nil, fmt.Errorf("router: read supergraph: %w", err)
		}
		sdl = string(b)
	}
	sg, err := supergraph.Parse(sdl)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	r := &Router{cfg: cfg, log: o.log, file: cfg.SupergraphFile}
	m := metrics.New("router")
	slots := cfg.MaxConcurrentExecutions
	if slots == 0 {
		slots = gateway.DefaultMaxConcurrentExecutions()
	}
	inFlight := cfg.SubgraphMaxInFlight
	if inFlight == 0 {
		inFlight = max(1, slots*3/4)
	}
	topts := []transport.Option{transport.WithMaxInFlight(inFlight),
		transport.WithDeduplication(cfg.DedupSubgraphRequests), transport.WithCleartextHTTP2(cfg.SubgraphH2C)}
	topts = append(topts, subgraphMetrics(m)...)
	topts = append(topts, transport.WithTracerProvider(o.tracer))
	for name, url := range cfg.SubgraphURLs {
		topts = append(topts, transport.WithURL(name, url))
	}
	if o.client != nil {
		topts = append(topts, transport.WithHTTPClient(o.client))
	}
	decider := o.decider
	if decider == nil && cfg.PolicyURL != "" {
		decider = authz.NewHTTPDecider(cfg.PolicyURL)
	}
	if decider == nil {
		decider = authz.DenyAll{}
	}
	if cfg.SubgraphTimeout > 0 {
		topts = append(topts, transport.WithTimeout(cfg.SubgraphTimeout))
	}
	switch {
	case cfg.BreakerFailures < 0:
		topts = append(topts, transport.WithBreaker(0, 0))
	case cfg.BreakerFailures > 0 || cfg.BreakerCooldown > 0:
		failures, cooldown := cfg.BreakerFailures, cfg.BreakerCooldown
		if failures == 0 {
			failures = transport.DefaultBreakerFailures
		}
		if cooldown == 0 {
			cooldown = transport.DefaultBreakerCooldown
		}
		topts = append(topts, transport.WithBreaker(failures, cooldown))
	}
	gwOpts := []gateway.Option{gateway.WithLogger(o.log), gateway.WithTracerProvider(o.tracer),
		gateway.WithAuthorization(authz.WithPolicyDecider(decider)),
		gateway.WithMaxConcurrentExecutions(cfg.MaxConcurrentExecutions), gateway.WithRequestDeduplication(cfg.DedupRequests),
		gateway.WithOverrideLabels(cfg.OverrideLabels...), gateway.WithPlanningBudget(cfg.PlanningBudget), gateway.WithIntrospection(!cfg.DisableIntrospection)}
	if cfg.Limits != nil {
		gwOpts = append(gwOpts, gateway.WithLimits(*cfg.Limits))
	}
	// build makes the gateway and subgraph transport of a supergraph (at
	// start and on every reload).
	r.build = func(sg *supergraph.Supergraph) *state {
		tc := transport.New(execute.SubgraphURLs(sg), topts...)
		gw := gateway.New(sg, slices.Concat(gwOpts, []gateway.Option{gateway.WithExecutorOptions(execute.WithTransport(tc))})...)
		return &state{gw: gw, tc: tc}
	}
	st := r.build(sg)
	st.hash = sha256.Sum256([]byte(sdl))
	r.cur.Store(st)
	r.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "supergraph_reloads_total",
		Help: "Supergraph reloads, by outcome: ok, or error (the file was refused and the old supergraph kept).",
	}, []string{"outcome"})
	m.Registry().MustRegister(r.reloads, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shared_waiters",
		Help: "Requests waiting for a deduplicated execution or subgraph request in flight.",
	}, func() float64 { return float64(r.cur.Load().gw.SharedWaiters()) }))

	verifier := o.verifier
	if verifier == nil && cfg.JWKSURL != "" {
		verifier = auth.NewJWKSVerifier(cfg.JWKSURL, auth.WithIssuer(cfg.TokenIssuer), auth.WithAudience(cfg.TokenAudience),
			auth.WithMaxKeyAge(cfg.JWKSMaxAge))
	}
	var closers []func() error
	sessions := o.sessions
	if sessions == nil && cfg.SessionsRedisURL != "" && verifier != nil {
		s, err := auth.OpenSessions(cfg.SessionsRedisURL)
		if err != nil {
			return nil, fmt.Errorf("router: %w", err)
		}
		sessions, closers = s, append(closers, s.Close)
	}
	if sessions != nil && verifier != nil {
		verifier = auth.CheckSessions(verifier, sessions)
	}
	var checks []health.Check
	for _, g := range sg.Graphs {
		checks = append(checks, subgraphCheck(g.Name, func() *transport.Client { return r.cur.Load().tc }))
	}
	requestTimeout := cfg.RequestTimeout
	if requestTimeout == 0 {
		requestTimeout = DefaultRequestTimeout
	}
	cfg.RequestTimeout = requestTimeout
	srvOpts := []server.Option{server.WithMetrics(m), server.WithLogger(o.log), server.WithReadyChecks(checks...),
		server.WithQueryPlans(!cfg.HideQueryPlans), server.WithGraphiQL(!cfg.DisableGraphiQL),
		server.WithForwardHeaders(cfg.ForwardHeaders...), server.WithRequestTimeout(requestTimeout),
		server.WithTracerProvider(o.tracer)}
	if o.accessLog != nil {
		srvOpts = append(srvOpts, server.WithAccessLog(o.accessLog))
	}
	if verifier != nil {
		srvOpts = append(srvOpts, server.WithVerifier(verifier))
	}
	subOpts := []subscribe.Option{subscribe.WithLogger(o.log), subscribe.WithVerifier(verifier)}
	if o.client != nil {
		subOpts = append(subOpts, subscribe.WithHTTPClient(o.client))
	}
	r.subs = subscribe.New(r, cfg.Subscriptions, subOpts...)
	srvOpts = append(srvOpts, server.WithSubscriptions(r.subs))
	if cfg.MaxBodyBytes > 0 {
		srvOpts = append(srvOpts, server.WithMaxBodyBytes(cfg.MaxBodyBytes))
	}
	if cfg.Uploads != nil {
		srvOpts = append(srvOpts, server.WithUploads(*cfg.Uploads))
	}
	edge, rdb, err := edgeOptions(cfg.Edge, sg, o.log)
	if err != nil {
		if rdb != nil {
			_ = rdb.Close()
		}
		for _, c := range closers {
			_ = c()
		}
		return nil, err
	}
	srvOpts = append(srvOpts, edge...)
	r.handler, r.metrics, r.redis, r.closers = server.New(r, srvOpts...), m, rdb, closers
	return r, nil
}

// Server returns an http.Server for the router's handler with every timeout
// set: headers within DefaultReadHeaderTimeout, the whole request (body
// included) within the read timeout (DefaultReadTimeout), the response written within the
// request timeout plus 10 s, idle keep-alive connections closed after
// DefaultIdleTimeout; and active_connections kept by its ConnState hook.
func (r *Router) Server(addr string) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           r.handler,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       cmp.Or(r.cfg.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      r.cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ConnState:         r.metrics.ConnState,
	}
	// Shutdown ends the subscriptions (hijacked WebSockets are not the
	// server's to close; streaming responses end once told).
	srv.RegisterOnShutdown(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.subs.Shutdown(ctx)
	})
	return srv
}

// Subscriptions is the router's subscription service (its Shutdown ends
// every stream; Server's http.Server calls it on Shutdown).
func (r *Router) Subscriptions() *subscribe.Service { return r.subs }

// subgraphMetrics counts and times every subgraph request and shows each
// breaker's state.
func subgraphMetrics(m *metrics.Metrics) []transport.Option {
	fetches := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "subgraph_fetch_duration_seconds",
		Help:    "Duration of the router's requests to each subgraph (requests sent).",
		Buckets: prometheus.DefBuckets,
	}, []string{"subgraph", "outcome"})
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "subgraph_requests_total",
		Help: "The router's requests to each subgraph, by outcome: ok, or the error code (SUBGRAPH_TIMEOUT, SUBGRAPH_UNAVAILABLE: not sent, SUBREQUEST_HTTP_ERROR).",
	}, []string{"subgraph", "outcome"})
	open := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "subgraph_breaker_open",
		Help: "1 while a subgraph's circuit breaker is open (its requests fail fast).",
	}, []string{"subgraph"})
	m.Registry().MustRegister(fetches, requests, open)
	return []transport.Option{
		transport.WithObserver(func(service string, d time.Duration, err error) {
			outcome := "ok"
			if err != nil {
				outcome = transport.Code(err)
			}
			requests.WithLabelValues(service, outcome).Inc()
			if !errors.Is(err, transport.ErrUnavailable) {
				if err != nil {
					outcome = "error"
				}
				fetches.WithLabelValues(service, outcome).Observe(d.Seconds())
			}
		}),
		transport.WithStateObserver(func(service string, isOpen bool) {
			v := 0.0
			if isOpen {
				v = 1
			}
			open.WithLabelValues(service).Set(v)
		}),
	}
}

// Handler serves /graphql, GraphiQL at /, /health, /ready and /metrics.
func (r *Router) Handler() http.Handler { return r.handler }

// Metrics returns the router's metrics (for the server's ConnState hook).
func (r *Router) Metrics() *metrics.Metrics { return r.metrics }

// subgraphCheck is ready when the subgraph answers a trivial query (its
// breaker, when open, says so at once).
func subgraphCheck(name string, current func() *transport.Client) health.Check {
	return health.Check{Name: "subgraph:" + name, Fn: func(ctx context.Context) error {
		tc := current()
		if tc.Open(name) {
			return fmt.Errorf("subgraph %s: circuit breaker open", name)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tc.URL(name), strings.NewReader(`{"query":"{__typename}"}`))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := tc.HTTPClient().Do(req)
		if err != nil {
			return fmt.Errorf("subgraph %s: %s", name, transport.Describe(err))
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("subgraph %s: HTTP %d", name, resp.StatusCode)
		}
		return nil
	}}
}
