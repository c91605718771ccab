// Package devstack starts the real infrastructure the platform needs — PostgreSQL 15,
// Redis, NATS JetStream, Neo4j 5 and MinIO — on a single machine where nothing is
// running, for `make dev` and for integration tests. The servers start concurrently.
//
// Each piece is skipped when its URL is already provided: Start reads DATABASE_URL,
// REDIS_URL, NATS_URL, NEO4J_URL and S3_URL (with S3_ACCESS_KEY / S3_SECRET_KEY) from
// the process environment (override the lookup with WithEnvLookup, or ignore the
// environment with WithoutEnv) and uses those servers instead of starting its own.
//
//   - PostgreSQL: a private cluster under <dir>/postgres, started from the installed
//     binaries (/usr/lib/postgresql/15/bin) on a stable free port on 127.0.0.1, trust
//     auth, superuser role and database "studio". When running as root the cluster is
//     owned by and run as the unprivileged "postgres" user; if that user cannot reach
//     <dir> (e.g. a checkout under /root) the cluster lives in
//     /tmp/studio-pg-<hash of dir> and <dir>/postgres is a symlink to it. A cluster that
//     is already running (live postmaster.pid) is reused and left running on Close.
//   - Redis: a private redis-server child process on a free port, data in <dir>/redis.
//     When redis-server is missing and the process runs as root it is installed with
//     apt-get; otherwise Start fails naming the install command.
//   - NATS: the real nats-server embedded in this process, JetStream on, store in
//     <dir>/nats.
//   - Neo4j: Neo4j Community 5.26 embedded in a small Java launcher (neo4j/Launcher.java,
//     Bolt only, auth disabled, 64 MiB page cache, 512 MiB heap) run with Java 17 as a
//     child process, data and logs in <dir>/neo4j. On first use Maven resolves its jars
//     and javac compiles the launcher into <cache>/neo4j-<hash of pom.xml+Launcher.java>
//     (see WithCacheDir), outside the repository. Missing java/javac/mvn are installed
//     with apt-get (openjdk-17-jdk-headless, maven) as for Redis.
//   - MinIO: the pinned github.com/minio/minio built once with `go install` into
//     <cache>/minio-<version>/ and run as a child process on a free port, data in
//     <dir>/minio, random root credentials recorded in <dir>/minio/credentials.
//
// Child processes get SIGTERM/SIGINT when the parent dies (Pdeathsig), so a killed
// test binary does not leak servers.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Environment variables honoured by Start (unless WithoutEnv is given).
const (
	EnvDatabaseURL = "DATABASE_URL"
	EnvRedisURL    = "REDIS_URL"
	EnvNatsURL     = "NATS_URL"
	EnvNeo4jURL    = "NEO4J_URL"     // bolt://[user:password@]host:port
	EnvS3URL       = "S3_URL"        // http://host:port of MinIO or any S3 endpoint
	EnvS3AccessKey = "S3_ACCESS_KEY" // with S3_URL
	EnvS3SecretKey = "S3_SECRET_KEY" // with S3_URL
)

// Stack is a running set of infrastructure servers. An empty URL means the piece was
// disabled with an option.
type Stack struct {
	DatabaseURL string // postgres://studio@127.0.0.1:<port>/studio?sslmode=disable
	RedisURL    string // redis://127.0.0.1:<port>/0
	NatsURL     string // nats://127.0.0.1:<port>
	Neo4jURL    string // bolt://127.0.0.1:<port> (auth disabled on the private server)
	S3URL       string // http://127.0.0.1:<port> (MinIO)
	S3AccessKey string
	S3SecretKey string

	log     *slog.Logger
	mu      sync.Mutex
	closers []func() error // run in reverse order
	once    sync.Once
	err     error
}

// Env returns the stack's URLs as KEY=value pairs (only the non-empty ones), ready
// to append to a child process environment.
func (s *Stack) Env() []string {
	var env []string
	for _, kv := range [][2]string{
		{EnvDatabaseURL, s.DatabaseURL},
		{EnvRedisURL, s.RedisURL},
		{EnvNatsURL, s.NatsURL},
		{EnvNeo4jURL, s.Neo4jURL},
		{EnvS3URL, s.S3URL},
		{EnvS3AccessKey, s.S3AccessKey},
		{EnvS3SecretKey, s.S3SecretKey},
	} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return env
}

// Close stops every server this Stack started (servers reused from the environment or
// from another process are left alone). It is safe to call more than once.
func (s *Stack) Close() error {
	if s == nil {
		return nil
	}
	s.once.Do(func() {
		s.mu.Lock()
		closers := s.closers
		s.closers = nil
		s.mu.Unlock()
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](); err != nil {
				errs = append(errs, err)
			}
		}
		s.err = errors.Join(errs...)
	})
	return s.err
}

func (s *Stack) addCloser(fn func() error) {
	s.mu.Lock()
	s.closers = append(s.closers, fn)
	s.mu.Unlock()
}

type config struct {
	log         *slog.Logger
	getenv      func(string) string
	postgres    bool
	redis       bool
	nats        bool
	neo4j       bool
	minio       bool
	install     bool
	cacheDir    string
	pgBin       string
	pgSettings  []string // name=value, passed as postgres -c
	startTimout time.Duration
}

// Option configures Start.
type Option func(*config)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithoutPostgres does not start (or look up) PostgreSQL.
func WithoutPostgres() Option { return func(c *config) { c.postgres = false } }

// WithoutRedis does not start (or look up) Redis.
func WithoutRedis() Option { return func(c *config) { c.redis = false } }

// WithoutNATS does not start (or look up) NATS.
func WithoutNATS() Option { return func(c *config) { c.nats = false } }

// WithoutNeo4j does not start (or look up) Neo4j.
func WithoutNeo4j() Option { return func(c *config) { c.neo4j = false } }

// WithoutMinIO does not start (or look up) MinIO.
func WithoutMinIO() Option { return func(c *config) { c.minio = false } }

// WithCacheDir sets the folder for builds shared by every stack of this user: the Neo4j
// launcher and the MinIO binary (default $STUDIO_CACHE, else <user cache dir>/studio,
// e.g. ~/.cache/studio). It must be outside the repository.
func WithCacheDir(dir string) Option {
	return func(c *config) {
		if dir != "" {
			c.cacheDir = dir
		}
	}
}

// defaultCacheDir is $STUDIO_CACHE, else <os.UserCacheDir>/studio, else /tmp/studio-cache.
func defaultCacheDir() string {
	if d := os.Getenv("STUDIO_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "studio")
	}
	return filepath.Join(os.TempDir(), "studio-cache")
}

// WithoutEnv ignores the *_URL variables and always starts private servers.
func WithoutEnv() Option { return func(c *config) { c.getenv = func(string) string { return "" } } }

// WithEnvLookup replaces os.Getenv for reading the *_URL variables.
func WithEnvLookup(fn func(string) string) Option {
	return func(c *config) {
		if fn != nil {
			c.getenv = fn
		}
	}
}

// WithoutInstall forbids installing missing system packages (redis-server, the JDK and
// Maven) even as root.
func WithoutInstall() Option { return func(c *config) { c.install = false } }

// WithPostgresBin sets the folder holding initdb, pg_ctl and postgres
// (default /usr/lib/postgresql/15/bin).
func WithPostgresBin(dir string) Option { return func(c *config) { c.pgBin = dir } }

// WithPostgresSetting passes `-c name=value` to a postgres server this Start launches
// (not to a reused or external one), e.g. WithPostgresSetting("fsync", "off").
func WithPostgresSetting(name, value string) Option {
	return func(c *config) { c.pgSettings = append(c.pgSettings, name+"="+value) }
}

// WithFastUnsafePostgres turns off fsync, synchronous_commit and full_page_writes:
// much faster database creation and commits, but a machine crash can corrupt the
// cluster. Meant for throwaway test clusters.
func WithFastUnsafePostgres() Option {
	return func(c *config) {
		c.pgSettings = append(c.pgSettings, "fsync=off", "synchronous_commit=off", "full_page_writes=off")
	}
}

// WithStartTimeout bounds how long each server may take to become ready (default 2m;
// installing redis-server, building the Neo4j launcher or MinIO is not counted).
func WithStartTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.startTimout = d
		}
	}
}

// Start brings up the stack with its state under dir (created if missing). On error
// everything already started is stopped again.
func Start(ctx context.Context, dir string, opts ...Option) (*Stack, error) {
	cfg := config{
		log:         slog.Default(),
		getenv:      os.Getenv,
		postgres:    true,
		redis:       true,
		nats:        true,
		neo4j:       true,
		minio:       true,
		install:     true,
		cacheDir:    defaultCacheDir(),
		pgBin:       defaultPGBin,
		startTimout: 2 * time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	began := time.Now()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("devstack: resolve dir %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("devstack: create dir: %w", err)
	}
	st := &Stack{log: cfg.log}
	g, gctx := errgroup.WithContext(ctx)
	// Every server starts concurrently: the slowest (Neo4j, a JVM) sets the pace.
	pieces := []struct {
		on    bool
		name  string
		env   string
		url   *string
		start func(context.Context, *Stack, *config, string) (string, error)
	}{
		{cfg.postgres, "postgres", EnvDatabaseURL, &st.DatabaseURL, startPostgres},
		{cfg.redis, "redis", EnvRedisURL, &st.RedisURL, startRedis},
		{cfg.nats, "nats", EnvNatsURL, &st.NatsURL, startNATS},
		{cfg.neo4j, "neo4j", EnvNeo4jURL, &st.Neo4jURL, startNeo4j},
		{cfg.minio, "minio", EnvS3URL, &st.S3URL, startMinIO},
	}
	for _, p := range pieces {
		if !p.on {
			continue
		}
		if u := cfg.getenv(p.env); u != "" {
			*p.url = u
			if p.env == EnvS3URL {
				st.S3AccessKey, st.S3SecretKey = cfg.getenv(EnvS3AccessKey), cfg.getenv(EnvS3SecretKey)
			}
			cfg.log.Info("devstack: using "+p.name+" from environment", "env", p.env)
			continue
		}
		g.Go(func() error {
			u, err := p.start(gctx, st, &cfg, abs)
			if err != nil {
				return fmt.Errorf("devstack: %s: %w", p.name, err)
			}
			*p.url = u
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("devstack: cleanup after failed start: %w", cerr))
		}
		return nil, err
	}
	cfg.log.Info("devstack: ready", "dir", abs, "postgres", st.DatabaseURL, "redis", st.RedisURL, "nats", st.NatsURL,
		"neo4j", st.Neo4jURL, "s3", st.S3URL, "took", time.Since(began).Round(10*time.Millisecond))
	return st, nil
}

// poll calls check until it returns nil, ctx ends, or exited is closed (the server
// process died). The interval grows from 10ms to 200ms.
func poll(ctx context.Context, exited <-chan struct{}, check func(context.Context) error) error {
	delay := 10 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := check(cctx)
		cancel()
		if err == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("not ready: %w (last error: %w)", ctx.Err(), err)
		case <-exited:
			t.Stop()
			return fmt.Errorf("server exited before becoming ready (last error: %w)", err)
		case <-t.C:
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// tail returns the last n bytes of a log file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := fi.Size() - n
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return ""
	}
	return string(b)
}
