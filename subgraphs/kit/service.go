package kit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/health"
	"github.com/studio-platform/studio/internal/metrics"
	"github.com/studio-platform/studio/internal/pg"
)

// Defaults of Limits.
const (
	// DefaultLoaderWait is how long a loader collects keys before it fetches.
	// Measured with BenchmarkDashboard (internal/platform; table in README.md).
	DefaultLoaderWait = 2 * time.Millisecond
	// DefaultMaxBatch caps the keys of one loader batch (one SQL statement).
	DefaultMaxBatch = 500
)

// uploadMemory is how much of a multipart request's file gqlgen keeps in
// memory; larger files go to a temporary file.
const uploadMemory = 1 << 20

// NoWait as Limits.LoaderWait makes loaders fetch as soon as their batch
// goroutine runs (a zero LoaderWait means DefaultLoaderWait).
const NoWait time.Duration = -1

// Limits bound what one request costs.
type Limits struct {
	// LoaderWait is how long a loader collects keys before it fetches
	// (DefaultLoaderWait when zero; NoWait for none).
	LoaderWait time.Duration
	// MaxBatch caps the keys of one batch; more keys make more batches
	// (DefaultMaxBatch when zero).
	MaxBatch int
}

func (l Limits) withDefaults() Limits {
	if l.LoaderWait == 0 {
		l.LoaderWait = DefaultLoaderWait
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = DefaultMaxBatch
	}
	return l
}

// Option configures Open.
type Option func(*options)

type options struct {
	log      *slog.Logger
	tracers  []pgx.QueryTracer
	verifier auth.Verifier
	limits   Limits
	mounts   []MountFunc
	events   *Events
	sessions *auth.Sessions
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithQueryTracer traces every SQL query of the store (e.g. a pg.QueryCounter).
// It may be given more than once.
func WithQueryTracer(t pgx.QueryTracer) Option {
	return func(o *options) {
		if t != nil {
			o.tracers = append(o.tracers, t)
		}
	}
}

// WithVerifier sets the access-token verifier, replacing the subgraph's
// default (API.Verifier).
func WithVerifier(v auth.Verifier) Option { return func(o *options) { o.verifier = v } }

// WithSessions makes /graphql refuse tokens whose session has ended
// (auth.CheckSessions around the verifier: one Redis EXISTS per request with a
// token; 503 SERVICE_UNAVAILABLE when Redis is down). The caller closes s.
func WithSessions(s *auth.Sessions) Option { return func(o *options) { o.sessions = s } }

// WithLimits sets the loader limits (zero fields keep their defaults).
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

// MountFunc extends a service once its store is open and before it serves:
// it may add routes and readiness checks, and start background work (e.g. an
// outbox relay reading Mount.DB) that the returned cleanup stops. Close runs
// the cleanups in reverse order.
type MountFunc func(ctx context.Context, m *Mount) (cleanup func(), err error)

// WithMount adds a MountFunc (the seam for shared machinery such as the
// events outbox relay).
func WithMount(fn MountFunc) Option { return func(o *options) { o.mounts = append(o.mounts, fn) } }

// HasVerifier reports whether opts set a verifier (for a subgraph's config
// validation: a JWKS URL is needed only without one).
func HasVerifier(opts ...Option) bool {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o.verifier != nil
}

// Config names a subgraph and its store.
type Config struct {
	// Name is the subgraph's name (metrics label, logs).
	Name string
	// DatabaseURL is the PostgreSQL URL.
	DatabaseURL string
	// Schema is the PostgreSQL schema the subgraph owns.
	Schema string
	// Migrations are the *.sql files applied in order (nil: none); the
	// events outbox's (events_NNNN_*.sql) follow them.
	Migrations fs.FS
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("kit: Name is required"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, fmt.Errorf("%s: DatabaseURL is required", c.Name))
	}
	if c.Schema == "" {
		errs = append(errs, fmt.Errorf("%s: Schema is required", c.Name))
	}
	return errors.Join(errs...)
}

// Service is one subgraph's shared machinery: its store, its HTTP handler
// and what Close releases. Open it, build the resolvers on DB, then Serve.
type Service struct {
	name     string
	db       *pg.DB
	o        options
	handler  http.Handler
	cleanups []func()
}

// Open connects to the database, creates the subgraph's schema and applies its
// migrations, then the events outbox's. Close releases it.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	o.limits = o.limits.withDefaults()
	var pgOpts []pg.Option
	for _, t := range o.tracers {
		pgOpts = append(pgOpts, pg.WithTracer(t))
	}
	db, err := pg.OpenDB(ctx, cfg.DatabaseURL, cfg.Schema, events.WithMigrations(cfg.Migrations), pgOpts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	return &Service{name: cfg.Name, db: db, o: o}, nil
}

// DB is the subgraph's pool on its own schema.
func (s *Service) DB() *pg.DB { return s.db }

// Log is the service's logger.
func (s *Service) Log() *slog.Logger { return s.o.log }

// Sessions is the session store given by WithSessions (nil without).
func (s *Service) Sessions() *auth.Sessions { return s.o.sessions }

// Limits are the service's limits, defaults filled in.
func (s *Service) Limits() Limits { return s.o.limits }

// API is what a subgraph serves.
type API struct {
	// Schema is gqlgen's executable schema (generated.NewExecutableSchema).
	Schema graphql.ExecutableSchema
	// Loaders are the per-request dataloaders (a *Loaders[L]); nil for none.
	Loaders interface {
		Middleware(Limits) func(http.Handler) http.Handler
		PerEvent(Limits) graphql.ResponseMiddleware
	}
	// Verifier verifies access tokens unless WithVerifier was given.
	Verifier auth.Verifier
	// Routes are extra routes ("GET /.well-known/jwks.json": handler).
	Routes map[string]http.Handler
	// MaxUploadBytes, when positive, accepts the GraphQL multipart request
	// spec (Upload scalar) on /graphql, for request bodies of at most that
	// many bytes. Files are spilled to temporary files past 1 MiB, never
	// held whole in memory; resolvers enforce their own, smaller limits.
	MaxUploadBytes int64
	// Mounts are the subgraph's own MountFuncs, run after WithMount's (e.g.
	// an events consumer on Mount.JetStream).
	Mounts []MountFunc
}

// Serve builds the HTTP handler and runs the mounts:
//
//	/graphql   POST and GET: auth.Middleware (bearer tokens verified, claims in
//	           the context), then the loader middleware, then gqlgen with
//	           introspection, a parsed-query cache, panic recovery and error
//	           classification into extensions.code
//	GET /health, GET /ready (check: postgres ping, plus the mounts'), GET /metrics
//
// and api.Routes, all wrapped by metrics.Middleware.
func (s *Service) Serve(ctx context.Context, api API) error {
	verifier := s.o.verifier
	if verifier == nil {
		verifier = api.Verifier
	}
	if verifier == nil {
		return fmt.Errorf("%s: no token verifier (API.Verifier or WithVerifier)", s.name)
	}
	if api.Schema == nil {
		return fmt.Errorf("%s: API.Schema is required", s.name)
	}
	if s.o.sessions != nil {
		verifier = auth.CheckSessions(verifier, s.o.sessions)
	}
	mux := http.NewServeMux()
	met := metrics.New(s.name)
	m := &Mount{Name: s.name, DB: s.db, Log: s.o.log, Registry: met.Registry(), mux: mux}
	if s.o.events != nil {
		cleanup, err := s.startEvents(ctx, m, met.Registry())
		if err != nil {
			return fmt.Errorf("%s: events: %w", s.name, err)
		}
		if cleanup != nil {
			s.cleanups = append(s.cleanups, cleanup)
		}
	}
	for _, fn := range append(s.o.mounts[:len(s.o.mounts):len(s.o.mounts)], api.Mounts...) {
		cleanup, err := fn(ctx, m)
		if err != nil {
			return fmt.Errorf("%s: mount: %w", s.name, err)
		}
		if cleanup != nil {
			s.cleanups = append(s.cleanups, cleanup)
		}
	}
	srv := NewHandler(api.Schema, s.o.log)
	srv.AddTransport(websocketTransport(verifier))
	var gql http.Handler = srv
	if api.MaxUploadBytes > 0 {
		srv.AddTransport(transport.MultipartForm{MaxUploadSize: api.MaxUploadBytes, MaxMemory: uploadMemory})
		gql = spoolUnsized(api.MaxUploadBytes, gql)
	}
	if api.Loaders != nil {
		gql = api.Loaders.Middleware(s.o.limits)(gql)
		srv.AroundResponses(api.Loaders.PerEvent(s.o.limits))
	}
	h := health.New(append([]health.Check{{Name: "postgres", Fn: s.db.Ping}}, m.checks...)...)
	mux.Handle("/graphql", auth.Middleware(verifier)(gql))
	mux.Handle("GET /health", h.Live())
	mux.Handle("GET /ready", h.Ready())
	mux.Handle("GET /metrics", met.Handler())
	for pattern, rh := range api.Routes {
		mux.Handle(pattern, rh)
	}
	s.handler = met.Middleware(mux)
	return nil
}

// spoolUnsized gives a multipart request without a Content-Length (chunked)
// one, by spooling its body to a temporary file (at most limit bytes):
// gqlgen's multipart transport reads a request whose length is unknown whole
// into memory, and spills to a temporary file only one it knows is large.
func spoolUnsized(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength >= 0 || !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			next.ServeHTTP(w, r)
			return
		}
		f, err := os.CreateTemp("", "studio-upload-")
		if err != nil {
			http.Error(w, "cannot accept the upload", http.StatusInternalServerError)
			return
		}
		defer func() {
			f.Close()
			os.Remove(f.Name())
		}()
		n, err := io.Copy(f, http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			http.Error(w, "cannot accept the upload", http.StatusInternalServerError)
			return
		}
		r.Body, r.ContentLength = f, n
		next.ServeHTTP(w, r)
	})
}

// Handler serves the routes Serve built (nil before Serve).
func (s *Service) Handler() http.Handler { return s.handler }

// Close stops the mounts' work and closes the pool.
func (s *Service) Close() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
	s.db.Close()
}

// Mount is what a MountFunc may use and extend.
type Mount struct {
	Name string
	DB   *pg.DB
	Log  *slog.Logger
	// Registry is the service's Prometheus registry (served on /metrics).
	Registry *prometheus.Registry
	// JetStream is the events stream's NATS connection (WithEvents; nil
	// without it or without a NATS URL), and EventOptions the options
	// (logger, metrics) for events.Consume on it.
	JetStream    jetstream.JetStream
	EventOptions []events.Option
	mux          *http.ServeMux
	checks       []health.Check
}

// Handle adds a route to the service's mux.
func (m *Mount) Handle(pattern string, h http.Handler) { m.mux.Handle(pattern, h) }

// Check adds a readiness check to /ready.
func (m *Mount) Check(c health.Check) { m.checks = append(m.checks, c) }

// NewHandler returns the gqlgen handler for es: POST and GET transports,
// introspection, a parsed-query cache, panic recovery and error
// classification (resolvers return *Error for what the client may see;
// anything else is logged and answered as INTERNAL_SERVER_ERROR "internal
// error", so internals never leak).
func NewHandler(es graphql.ExecutableSchema, log *slog.Logger) *handler.Server {
	if log == nil {
		log = slog.Default()
	}
	srv := handler.New(es)
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		res, err := next(ctx)
		if err != nil {
			err = classify(ctx, log, err)
		}
		return res, err
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql: panic in resolver", "panic", fmt.Sprint(p), "path", graphql.GetPath(ctx).String())
		return &Error{Code: CodeInternal, Message: "internal error"}
	})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return present(ctx, log, err)
	})
	return srv
}
