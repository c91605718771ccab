// Package loaders holds identity's per-request dataloaders, so resolving a
// field for a list of N parents costs one query, not N. The subgraph kit
// installs them per request (kit.Loaders) and scopes each set by organization.
package loaders

import (
	"github.com/graph-gophers/dataloader/v7"

	"github.com/studio-platform/studio/subgraphs/identity/graph/model"
	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Loaders are the dataloaders of one request and organization.
type Loaders struct {
	// OrganizationByID loads organizations (User.organization).
	OrganizationByID *dataloader.Loader[string, *model.Organization]
	// MembersByOrgID loads pages of the users of organizations (Organization.members).
	MembersByOrgID *dataloader.Loader[kit.PageKey, *model.UserConnection]
}

// New returns identity's per-request loaders reading from st.
func New(st *store.Store) *kit.Loaders[Loaders] {
	return kit.NewLoaders(func(s kit.Scope) *Loaders {
		return &Loaders{
			OrganizationByID: kit.NewLoader(s, st.OrganizationsByIDs),
			MembersByOrgID:   kit.NewLoader(s, st.UsersByOrgIDs),
		}
	})
}
