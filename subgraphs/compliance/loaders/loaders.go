// Package loaders holds compliance's per-request dataloaders, scoped to the
// caller's organization, so resolving a field for a list of N parents costs
// one query, not N.
package loaders

import (
	"context"
	"net/http"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/internal/keyed"
)

// Loaders are the dataloaders of one request, all scoped to one organization.
type Loaders struct {
	// ControlsByProjectID loads Project.controls.
	ControlsByProjectID *dataloader.Loader[string, []*model.Control]
	// EvidenceByControlID loads Control.evidence.
	EvidenceByControlID *dataloader.Loader[string, []*model.Evidence]
	// ControlByID loads Evidence.control.
	ControlByID *dataloader.Loader[string, *model.Control]
	// ProjectsByOwnerID loads User.projects.
	ProjectsByOwnerID *dataloader.Loader[string, []*model.Project]
}

// New returns fresh loaders reading organization orgID's rows from st.
func New(st *store.Store, orgID string) *Loaders {
	return &Loaders{
		ControlsByProjectID: keyed.NewLoader(func(ctx context.Context, ids []string) ([][]*model.Control, error) {
			return st.ControlsByProjectIDs(ctx, orgID, ids)
		}),
		EvidenceByControlID: keyed.NewLoader(func(ctx context.Context, ids []string) ([][]*model.Evidence, error) {
			return st.EvidenceByControlIDs(ctx, orgID, ids)
		}),
		ControlByID: keyed.NewLoader(func(ctx context.Context, ids []string) ([]*model.Control, error) {
			return st.ControlsByIDs(ctx, orgID, ids)
		}),
		ProjectsByOwnerID: keyed.NewLoader(func(ctx context.Context, ids []string) ([][]*model.Project, error) {
			return st.ProjectsByOwnerIDs(ctx, orgID, ids)
		}),
	}
}

type ctxKey struct{}

// WithLoaders returns ctx carrying l.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns the request's loaders; nil outside Middleware or for
// anonymous requests.
func FromContext(ctx context.Context) *Loaders {
	l, _ := ctx.Value(ctxKey{}).(*Loaders)
	return l
}

// Middleware builds fresh loaders for every authenticated request (it must
// run inside auth.Middleware). Anonymous requests get none: every compliance
// field needs an organization.
func Middleware(st *store.Store) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c, ok := auth.ClaimsFromContext(r.Context()); ok && c.OrgID != "" {
				r = r.WithContext(WithLoaders(r.Context(), New(st, c.OrgID)))
			}
			next.ServeHTTP(w, r)
		})
	}
}
