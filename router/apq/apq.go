// Package apq resolves persisted queries: Automatic Persisted Queries (the
// Apollo protocol: extensions.persistedQuery.sha256Hash, the query stored in
// Redis by its SHA-256 on first use) and trusted documents (a
// persisted-operations manifest as Apollo's generate-persisted-query-manifest
// and GraphQL Codegen emit it, optionally the only operations allowed).
package apq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
)

// Error codes (extensions.code).
const (
	CodeNotFound     = "PERSISTED_QUERY_NOT_FOUND"
	CodeNotSupported = "PERSISTED_QUERY_NOT_SUPPORTED"
	CodeHashMismatch = "PERSISTED_QUERY_HASH_MISMATCH"
	CodeNotInList    = "PERSISTED_QUERY_NOT_IN_LIST"
	CodeBadRequest   = "BAD_REQUEST"
)

// Error is a refusal, with the HTTP status to answer it with. Not found and
// not supported are 200, as Apollo Server and Apollo Router answer them (the
// clients read the error and retry with the full query).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Store keeps APQ queries in Redis.
type Store struct {
	rdb      redis.Cmdable
	prefix   string
	ttl      time.Duration
	maxBytes int
	timeout  time.Duration
}

// NewStore returns a Store: keys are prefix+hash, entries live ttl, queries
// over maxBytes are not stored.
func NewStore(rdb redis.Cmdable, prefix string, ttl time.Duration, maxBytes int, timeout time.Duration) *Store {
	return &Store{rdb: rdb, prefix: prefix, ttl: ttl, maxBytes: maxBytes, timeout: timeout}
}

func (s *Store) get(ctx context.Context, hash string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	q, err := s.rdb.Get(ctx, s.prefix+hash).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return q, err
}

func (s *Store) put(ctx context.Context, hash, query string) error {
	if len(query) > s.maxBytes {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.rdb.Set(ctx, s.prefix+hash, query, s.ttl).Err()
}

// Resolver applies the protocols to one request.
type Resolver struct {
	store    *Store    // nil: APQ off
	manifest *Manifest // nil: no trusted documents
	safelist bool
	log      *slog.Logger
}

// Option configures NewResolver.
type Option func(*Resolver)

// WithStore turns APQ on.
func WithStore(s *Store) Option { return func(r *Resolver) { r.store = s } }

// WithManifest serves the manifest's operations by id; safelist refuses
// every other operation (and APQ registrations).
func WithManifest(m *Manifest, safelist bool) Option {
	return func(r *Resolver) { r.manifest, r.safelist = m, safelist }
}

// WithLogger sets the logger (Redis failures are logged, not fatal).
func WithLogger(l *slog.Logger) Option { return func(r *Resolver) { r.log = l } }

// NewResolver returns a Resolver.
func NewResolver(opts ...Option) *Resolver {
	r := &Resolver{log: slog.Default()}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Request is what Resolve reads of a GraphQL request.
type Request struct {
	Query      string
	Extensions map[string]json.RawMessage
	// DocumentID is the GraphQL-over-HTTP persisted-documents parameter.
	DocumentID string
}

// Result is the query to execute, and whether to store it under Hash once
// it has executed (APQ registration).
type Result struct {
	Query    string
	Register string
}

// Resolve returns the query to run for a request, or a refusal. Redis
// failures never refuse: a lookup that fails is answered as not found (the
// client sends the full query), a registration that fails only is logged.
func (r *Resolver) Resolve(ctx context.Context, req Request) (Result, *Error) {
	id := req.DocumentID
	hash, apq, herr := persistedHash(req.Extensions)
	if herr != nil {
		return Result{}, herr
	}
	if apq && id == "" {
		id = hash
	}
	if id == "" { // a plain query
		if r.safelist && req.Query != "" && !r.manifest.hasBody(req.Query) {
			return Result{}, &Error{http.StatusBadRequest, CodeNotInList,
				"this graph runs only its persisted operations, and this operation is not one of them"}
		}
		return Result{Query: req.Query}, nil
	}
	if r.manifest != nil {
		if body, ok := r.manifest.byID[id]; ok {
			if req.Query != "" && req.Query != body {
				return Result{}, &Error{http.StatusBadRequest, CodeHashMismatch, "the query is not the persisted operation with this id"}
			}
			return Result{Query: body}, nil
		}
	}
	if r.safelist {
		if req.Query != "" && r.manifest.hasBody(req.Query) && (!apq || Hash(req.Query) == hash) {
			return Result{Query: req.Query}, nil // a listed body sent with a hash of its own
		}
		if req.Query != "" {
			return Result{}, &Error{http.StatusBadRequest, CodeNotInList,
				"this graph runs only its persisted operations, and this operation is not one of them"}
		}
		return Result{}, &Error{http.StatusOK, CodeNotFound, "PersistedQueryNotFound"}
	}
	if !apq { // a documentId the manifest does not list
		return Result{}, &Error{http.StatusOK, CodeNotFound, "PersistedQueryNotFound"}
	}
	if r.store == nil {
		return Result{}, &Error{http.StatusOK, CodeNotSupported, "PersistedQueryNotSupported"}
	}
	if req.Query != "" {
		if Hash(req.Query) != hash {
			return Result{}, &Error{http.StatusBadRequest, CodeHashMismatch, "provided sha does not match query"}
		}
		return Result{Query: req.Query, Register: hash}, nil
	}
	q, err := r.store.get(ctx, hash)
	if err != nil {
		r.log.WarnContext(ctx, "apq: lookup failed; answering not found", "error", err)
	}
	if q == "" {
		return Result{}, &Error{http.StatusOK, CodeNotFound, "PersistedQueryNotFound"}
	}
	return Result{Query: q}, nil
}

// Register stores a query that has executed (Result.Register).
func (r *Resolver) Register(ctx context.Context, res Result) {
	if res.Register == "" || r.store == nil {
		return
	}
	if err := r.store.put(ctx, res.Register, res.Query); err != nil {
		r.log.WarnContext(ctx, "apq: store failed", "error", err)
	}
}

// Hash is the APQ hash of a query: lower-case hex SHA-256.
func Hash(query string) string {
	sum := sha256.Sum256([]byte(query))
	return hex.EncodeToString(sum[:])
}

// persistedHash reads extensions.persistedQuery.
func persistedHash(ext map[string]json.RawMessage) (hash string, ok bool, err *Error) {
	raw, has := ext["persistedQuery"]
	if !has || string(raw) == "null" {
		return "", false, nil
	}
	var pq struct {
		Version    json.RawMessage `json:"version"`
		SHA256Hash string          `json:"sha256Hash"`
	}
	if json.Unmarshal(raw, &pq) != nil {
		return "", false, &Error{http.StatusBadRequest, CodeBadRequest, "extensions.persistedQuery must be {version: 1, sha256Hash: \"...\"}"}
	}
	if string(pq.Version) != "1" {
		return "", false, &Error{http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unsupported persisted query version %s: use 1", pq.Version)}
	}
	if len(pq.SHA256Hash) != sha256.Size*2 {
		return "", false, &Error{http.StatusBadRequest, CodeBadRequest, "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits"}
	}
	if _, e := hex.DecodeString(pq.SHA256Hash); e != nil {
		return "", false, &Error{http.StatusBadRequest, CodeBadRequest, "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits"}
	}
	return pq.SHA256Hash, true, nil
}
