// Package loaders holds identity's per-request dataloaders, so resolving a
// field for a list of N parents costs one query, not N.
package loaders

import (
	"context"
	"net/http"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/studio-platform/studio/subgraphs/identity/graph/model"
	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/internal/keyed"
)

// Loaders are the dataloaders of one request.
type Loaders struct {
	// OrganizationByID loads organizations (User.organization).
	OrganizationByID *dataloader.Loader[string, *model.Organization]
	// MembersByOrgID loads the users of organizations (Organization.members).
	MembersByOrgID *dataloader.Loader[string, []*model.User]
}

// New returns fresh loaders reading from st.
func New(st *store.Store) *Loaders {
	return &Loaders{
		OrganizationByID: keyed.NewLoader(st.OrganizationsByIDs),
		MembersByOrgID:   keyed.NewLoader(st.UsersByOrgIDs),
	}
}

type ctxKey struct{}

// WithLoaders returns ctx carrying l.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns the request's loaders; nil outside Middleware.
func FromContext(ctx context.Context) *Loaders {
	l, _ := ctx.Value(ctxKey{}).(*Loaders)
	return l
}

// Middleware builds fresh loaders for every request.
func Middleware(st *store.Store) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(WithLoaders(r.Context(), New(st))))
		})
	}
}
