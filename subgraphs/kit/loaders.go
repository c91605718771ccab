package kit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/vektah/gqlparser/v2/ast"
)

// ErrNoLoaders is the cause of the INTERNAL_SERVER_ERROR a resolver answers
// when the request's loaders were not installed (the loader middleware did not
// run): failing loudly beats silently running one query per parent.
var ErrNoLoaders = errors.New("kit: no per-request loaders in the context: the loader middleware did not run")

// Scope is what a set of loaders is built for: one organization of one
// request. Every batch function gets OrgID and puts it in its SQL.
type Scope struct {
	OrgID  string
	limits Limits
}

// NewLoader returns a dataloader for scope s whose batch function is fetch:
// fetch gets the organization and the batch's keys (at most Limits.MaxBatch
// of them) and returns one value per key, in key order (see Order and Group).
// An error fails every key of the batch.
func NewLoader[K comparable, V any](s Scope, fetch func(ctx context.Context, orgID string, keys []K) ([]V, error)) *dataloader.Loader[K, V] {
	opts := []dataloader.Option[K, V]{
		dataloader.WithBatchCapacity[K, V](s.limits.MaxBatch),
		dataloader.WithWait[K, V](max(s.limits.LoaderWait, 0)), // NoWait: none
	}
	return dataloader.NewBatchedLoader(func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		out := make([]*dataloader.Result[V], len(keys))
		vals, err := fetch(ctx, s.OrgID, keys)
		if err == nil && len(vals) != len(keys) {
			err = fmt.Errorf("kit: batch function returned %d values for %d keys", len(vals), len(keys))
		}
		for i := range keys {
			if err != nil {
				out[i] = &dataloader.Result[V]{Error: err}
			} else {
				out[i] = &dataloader.Result[V]{Data: vals[i]}
			}
		}
		return out
	}, opts...)
}

// Loaders holds a subgraph's per-request dataloaders of type L (a struct of
// *dataloader.Loader fields). Give it to Service.Serve (API.Loaders): its
// middleware puts an empty set in every request's context, and For builds L
// for an organization on first use, so N parents of one request cost one
// query per field, whichever resolver asks first.
type Loaders[L any] struct {
	build func(Scope) *L
}

// NewLoaders returns the loaders that build calls once per request and organization.
func NewLoaders[L any](build func(Scope) *L) *Loaders[L] {
	return &Loaders[L]{build: build}
}

type loadersKey[L any] struct{}

type requestLoaders[L any] struct {
	limits Limits
	mu     sync.Mutex
	byOrg  map[string]*L
}

// Middleware installs a fresh, empty set of loaders in every request (Serve
// installs it on /graphql; limits with defaults filled in).
func (l *Loaders[L]) Middleware(limits Limits) func(http.Handler) http.Handler {
	limits = limits.withDefaults()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rl := &requestLoaders[L]{limits: limits, byOrg: make(map[string]*L, 1)}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), loadersKey[L]{}, rl)))
		})
	}
}

// PerEvent gives each event of a subscription loaders of its own: a
// subscription's request lasts as long as the stream, and loaders cache what
// they load for their request, so events would otherwise see stale rows.
// Queries and mutations keep the request's loaders.
func (l *Loaders[L]) PerEvent(limits Limits) graphql.ResponseMiddleware {
	limits = limits.withDefaults()
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if !graphql.HasOperationContext(ctx) || graphql.GetOperationContext(ctx).Operation == nil || graphql.GetOperationContext(ctx).Operation.Operation != ast.Subscription {
			return next(ctx)
		}
		return next(context.WithValue(ctx, loadersKey[L]{}, &requestLoaders[L]{limits: limits, byOrg: make(map[string]*L, 1)}))
	}
}

// For returns the request's loaders for organization orgID, building them
// on first use. It fails with ErrNoLoaders outside the middleware and for an
// empty orgID: every loader is scoped by organization.
func (l *Loaders[L]) For(ctx context.Context, orgID string) (*L, error) {
	rl, ok := ctx.Value(loadersKey[L]{}).(*requestLoaders[L])
	if !ok {
		return nil, ErrNoLoaders
	}
	if orgID == "" {
		return nil, errors.New("kit: loaders asked for without an organization")
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if set, ok := rl.byOrg[orgID]; ok {
		return set, nil
	}
	set := l.build(Scope{OrgID: orgID, limits: rl.limits})
	rl.byOrg[orgID] = set
	return set, nil
}

// Get returns the loaders for the caller's organization, ErrUnauthenticated
// for an anonymous request.
func (l *Loaders[L]) Get(ctx context.Context) (*L, error) {
	c, err := Claims(ctx)
	if err != nil {
		return nil, err
	}
	return l.For(ctx, c.OrgID)
}
