// Package server is the router's HTTP layer: it serves GraphQL over HTTP
// (https://graphql.github.io/graphql-over-http/draft/) on /graphql, the
// GraphiQL playground on /, and /health, /ready and /metrics. It turns HTTP
// into a gateway.Request and a gateway.Response back into HTTP; it never
// parses, plans or executes GraphQL itself.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/health"
	"github.com/studio-platform/studio/internal/metrics"
	"github.com/studio-platform/studio/router/apq"
	"github.com/studio-platform/studio/router/clientip"
	"github.com/studio-platform/studio/router/gateway"
	"github.com/studio-platform/studio/router/upload"
)

// Executor runs one GraphQL request (implemented by *gateway.Gateway).
type Executor interface {
	Do(ctx context.Context, req gateway.Request) *gateway.Response
}

// DefaultMaxBodyBytes bounds a POST body unless WithMaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Header names the server reads or writes.
const (
	// HeaderQueryPlan: "true" asks for the query plan in extensions.queryPlan.
	HeaderQueryPlan = "X-Studio-Query-Plan"
	// HeaderRequestID carries the request id, taken from the client when
	// well-formed, generated otherwise, echoed on the response and forwarded
	// to subgraphs.
	HeaderRequestID = "X-Request-Id"
)

// Option configures New.
type Option func(*config)

type config struct {
	verifier       auth.Verifier
	maxBodyBytes   int64
	readyChecks    []health.Check
	metrics        *metrics.Metrics
	logger         *slog.Logger
	forwardHeaders []string
	queryPlans     bool
	graphiql       bool

	csrf            bool
	csrfHeaders     []string
	cors            *CORS
	securityHeaders bool
	hsts            time.Duration
	rateLimits      *RateLimits
	clientIP        *clientip.Resolver
	persisted       *apq.Resolver
	requestTimeout  time.Duration
	accessLog       *slog.Logger
	tracer          trace.Tracer
	uploads         *upload.Limits
	subs            Subscriptions
}

// WithPersistedQueries resolves APQ hashes and persisted-operation ids
// (see router/apq); without it, a request naming one gets
// PERSISTED_QUERY_NOT_SUPPORTED.
func WithPersistedQueries(r *apq.Resolver) Option { return func(c *config) { c.persisted = r } }

// WithVerifier verifies bearer tokens on /graphql (see auth.Middleware): a bad
// or expired token is answered with 401 before anything is executed; the
// verified claims reach the Executor through the context (auth.ClaimsFromContext).
// Without a verifier, requests are not authenticated at all.
func WithVerifier(v auth.Verifier) Option { return func(c *config) { c.verifier = v } }

// WithSubscriptions serves subscriptions on /graphql (see Subscriptions).
func WithSubscriptions(s Subscriptions) Option { return func(c *config) { c.subs = s } }

// WithMaxBodyBytes bounds the POST body (default 1 MiB); larger bodies get 413.
func WithMaxBodyBytes(n int64) Option { return func(c *config) { c.maxBodyBytes = n } }

// WithUploads accepts GraphQL multipart requests (file uploads) within
// limits (zero fields: upload's defaults); without it they get 415. Their
// files are streamed to the subgraph that takes them (router/upload); the
// CSRF rules apply (multipart/form-data is a "simple" content type, so a
// browser request needs a preflight header or a bearer token).
func WithUploads(l upload.Limits) Option {
	return func(c *config) {
		l = l.WithDefaults()
		c.uploads = &l
	}
}

// WithReadyChecks adds readiness checks served on /ready.
func WithReadyChecks(checks ...health.Check) Option {
	return func(c *config) { c.readyChecks = append(c.readyChecks, checks...) }
}

// WithMetrics records HTTP metrics into m and serves m on /metrics (default: a
// fresh metrics.New("router")). Pass the same m to the http.Server's ConnState
// (m.ConnState) to get active_connections.
func WithMetrics(m *metrics.Metrics) Option { return func(c *config) { c.metrics = m } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithForwardHeaders adds request headers forwarded to subgraphs besides
// Authorization, traceparent, tracestate and X-Request-Id.
func WithForwardHeaders(names ...string) Option {
	return func(c *config) { c.forwardHeaders = append(c.forwardHeaders, names...) }
}

// WithQueryPlans enables or disables the X-Studio-Query-Plan request header
// (default enabled). Disable it on a public deployment to keep subgraph
// names and fetch documents private.
func WithQueryPlans(enabled bool) Option { return func(c *config) { c.queryPlans = enabled } }

// WithGraphiQL enables or disables the GraphiQL playground on / (default enabled).
func WithGraphiQL(enabled bool) Option { return func(c *config) { c.graphiql = enabled } }

// WithRequestTimeout bounds each GraphQL request from its arrival to its
// response (none by default): when it passes, subgraph requests still
// running fail with SUBGRAPH_TIMEOUT and the response carries what was
// fetched.
func WithRequestTimeout(d time.Duration) Option { return func(c *config) { c.requestTimeout = d } }

// New returns the router's HTTP handler.
func New(exec Executor, opts ...Option) http.Handler {
	cfg := config{
		csrfHeaders:  DefaultCSRFHeaders,
		clientIP:     &clientip.Resolver{},
		maxBodyBytes: DefaultMaxBodyBytes,
		logger:       slog.Default(),
		queryPlans:   true,
		graphiql:     true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxBodyBytes <= 0 {
		cfg.maxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.metrics == nil {
		cfg.metrics = metrics.New("router")
	}

	var pg *playground
	if cfg.graphiql {
		pg = newPlayground()
	}
	gql := &graphqlHandler{
		exec:         exec,
		maxBodyBytes: cfg.maxBodyBytes,
		forward:      append([]string{"Authorization", "Traceparent", "Tracestate", HeaderRequestID}, cfg.forwardHeaders...),
		queryPlans:   cfg.queryPlans,
		playground:   pg,
		persisted:    cfg.persisted,
		timeout:      cfg.requestTimeout,
		uploads:      cfg.uploads,
		subs:         cfg.subs,
	}
	if gql.persisted == nil {
		gql.persisted = apq.NewResolver(apq.WithLogger(cfg.logger))
	}
	if cfg.csrf {
		gql.csrfHeaders = cfg.csrfHeaders
	}
	if cfg.rateLimits != nil {
		gql.limits = newLimiter(*cfg.rateLimits, cfg.clientIP, cfg.logger, cfg.metrics.Registry())
	}
	// Outermost first: request id, CORS (answers preflights), private
	// caching of credentialed responses, token verification, then GraphQL
	// (CSRF, persisted queries, rate limits, execution).
	var graphql http.Handler = gql
	if cfg.verifier != nil {
		graphql = auth.Middleware(cfg.verifier)(graphql)
	}
	graphql = privateResponses(graphql)
	if cfg.cors != nil {
		graphql = newCORS(*cfg.cors, graphql)
	}
	if cfg.accessLog != nil {
		graphql = accessLog(cfg.accessLog, cfg.clientIP, graphql)
	}
	if cfg.tracer != nil {
		graphql = tracing(cfg.tracer, graphql)
	}
	graphql = withRequestID(graphql)

	hc := health.New(cfg.readyChecks...)
	mux := http.NewServeMux()
	mux.Handle("/graphql", graphql)
	if pg != nil {
		mux.Handle("GET /{$}", pg.page())
		mux.Handle("GET /graphiql/", http.StripPrefix("/graphiql", pg.assets()))
	}
	mux.Handle("GET /health", hc.Live())
	mux.Handle("GET /ready", hc.Ready())
	mux.Handle("GET /metrics", cfg.metrics.Handler())

	// recoverer passes the same *http.Request to the mux, so the metrics
	// middleware sees r.Pattern and labels by route.
	var h http.Handler = mux
	if cfg.securityHeaders {
		h = securityHeaders(cfg.hsts, h)
	}
	return cfg.metrics.Middleware(recoverer(cfg.logger, h))
}
