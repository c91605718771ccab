// Package pg opens a subgraph's PostgreSQL connection pool: one schema per
// subgraph, created on first use, set as search_path on every connection, with
// the subgraph's embedded SQL migrations applied once under an advisory lock.
package pg

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrationsTable is the table, in the subgraph's schema, recording applied migrations.
const MigrationsTable = "schema_migrations"

// ErrBadSchema is returned for a schema name that is not a plain lower-case identifier.
var ErrBadSchema = errors.New("pg: schema must match [a-z_][a-z0-9_]*")

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Option configures Open.
type Option func(*options)

type options struct {
	tracers          []pgx.QueryTracer
	maxConns         int32
	statementTimeout time.Duration
	lockTimeout      time.Duration
	idleInTxTimeout  time.Duration
}

// Server-side bounds set on every pooled connection (see WithTimeouts). A
// pool wait (acquiring a connection) is bounded by the caller's context:
// serve.WithDeadline gives every subgraph request one.
const (
	DefaultStatementTimeout = 10 * time.Second
	DefaultLockTimeout      = 5 * time.Second
	DefaultIdleInTxTimeout  = 30 * time.Second
)

// WithTimeouts sets PostgreSQL's statement_timeout (a statement running
// longer is cancelled by the server, SQLSTATE 57014), lock_timeout (a wait
// for a lock, 55P03) and idle_in_transaction_session_timeout on every pooled
// connection; zero keeps a default, negative switches one off.
func WithTimeouts(statement, lock, idleInTx time.Duration) Option {
	return func(o *options) {
		o.statementTimeout, o.lockTimeout, o.idleInTxTimeout = statement, lock, idleInTx
	}
}

// WithTracer adds a query tracer to every pooled connection (e.g. a
// QueryCounter in tests, OpenTelemetry in production). It may be given more
// than once. Migrations run on a separate connection and are not traced.
func WithTracer(t pgx.QueryTracer) Option {
	return func(o *options) {
		if t != nil {
			o.tracers = append(o.tracers, t)
		}
	}
}

// WithMaxConns caps the pool size (default: pgxpool's, max(4, GOMAXPROCS)).
func WithMaxConns(n int32) Option {
	return func(o *options) { o.maxConns = n }
}

// Open connects to url, creates schema if missing, applies the *.sql files at
// the root of migrations (nil: none) in lexical order, each once and in its own
// transaction, and returns a pool whose connections use search_path=schema.
//
// Migrations are recorded in schema.schema_migrations by file name. A session
// advisory lock keyed by the schema name serializes concurrent Opens (two
// processes starting at once), so each migration runs exactly once.
func Open(ctx context.Context, url, schema string, migrations fs.FS, opts ...Option) (*pgxpool.Pool, error) {
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("%w: %q", ErrBadSchema, schema)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	for _, t := range []struct {
		d   *time.Duration
		def time.Duration
	}{{&o.statementTimeout, DefaultStatementTimeout}, {&o.lockTimeout, DefaultLockTimeout}, {&o.idleInTxTimeout, DefaultIdleInTxTimeout}} {
		if *t.d == 0 {
			*t.d = t.def
		}
	}

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pg: parse url: %w", err)
	}
	if err := migrate(ctx, cfg.ConnConfig.Copy(), schema, migrations); err != nil {
		return nil, err
	}

	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	for name, d := range map[string]time.Duration{"statement_timeout": o.statementTimeout, "lock_timeout": o.lockTimeout,
		"idle_in_transaction_session_timeout": o.idleInTxTimeout} {
		if d > 0 {
			cfg.ConnConfig.RuntimeParams[name] = strconv.FormatInt(d.Milliseconds(), 10)
		}
	}
	switch len(o.tracers) {
	case 0:
	case 1:
		cfg.ConnConfig.Tracer = o.tracers[0]
	default:
		cfg.ConnConfig.Tracer = multitracer.New(o.tracers...)
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pg: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pg: ping: %w", err)
	}
	return pool, nil
}

// lockKey is the advisory lock id for migrating schema (stable across processes).
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("studio/pg.migrate/" + schema))
	return int64(h.Sum64())
}

func migrate(ctx context.Context, cc *pgx.ConnConfig, schema string, migrations fs.FS) (err error) {
	files, err := migrationFiles(migrations)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("pg: connect: %w", err)
	}
	defer func() {
		// Closing the session also releases the advisory lock.
		if cerr := conn.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = fmt.Errorf("pg: close migration connection: %w", cerr)
		}
	}()

	key := lockKey(schema)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("pg: lock %s for migration: %w", schema, err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key); uerr != nil && err == nil {
			err = fmt.Errorf("pg: unlock %s: %w", schema, uerr)
		}
	}()

	ident := pgx.Identifier{schema}.Sanitize()
	table := pgx.Identifier{schema, MigrationsTable}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
		return fmt.Errorf("pg: create schema %s: %w", schema, err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+
		" (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return fmt.Errorf("pg: create %s: %w", table, err)
	}
	rows, err := conn.Query(ctx, "SELECT version FROM "+table)
	if err != nil {
		return fmt.Errorf("pg: read applied migrations: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("pg: read applied migrations: %w", err)
	}
	done := make(map[string]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}

	for _, name := range files {
		if done[name] {
			continue
		}
		sql, err := fs.ReadFile(migrations, name)
		if err != nil {
			return fmt.Errorf("pg: read migration %s: %w", name, err)
		}
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO "+table+" (version) VALUES ($1)", name)
			return err
		}); err != nil {
			return fmt.Errorf("pg: migration %s/%s: %w", schema, name, err)
		}
	}
	return nil
}

// migrationFiles lists the *.sql files at the root of fsys in lexical order.
func migrationFiles(fsys fs.FS) ([]string, error) {
	if fsys == nil {
		return nil, nil
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("pg: list migrations: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".sql") && path.Base(e.Name()) == e.Name() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Dir returns the folder of an embedded FS that holds migrations; it panics only
// when the embed pattern does not match the folder, a programming error.
func Dir(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// DB is a subgraph's pool on its own schema, with the routine operations every
// store shares.
type DB struct {
	pool *pgxpool.Pool
}

// OpenDB opens the pool like Open.
func OpenDB(ctx context.Context, url, schema string, migrations fs.FS, opts ...Option) (*DB, error) {
	pool, err := Open(ctx, url, schema, migrations, opts...)
	if err != nil {
		return nil, err
	}
	return &DB{pool: pool}, nil
}

// Close closes the pool.
func (d *DB) Close() { d.pool.Close() }

// Ping checks the database is reachable.
func (d *DB) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

// Pool exposes the pool.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }
