// Package graph holds the identity subgraph's resolvers. The schema is
// schema/identity/*.graphqls; generated code is in generated/ and model/.
package graph

//go:generate go run ../../../internal/tools/subgraphgen identity

import (
	"context"
	"time"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/identity/loaders"
	"github.com/studio-platform/studio/subgraphs/identity/store"
)

// Resolver is the root resolver; its dependencies are set by the composition root.
type Resolver struct {
	Store      *store.Store
	Signer     *auth.Signer
	AccessTTL  time.Duration
	RefreshTTL time.Duration
}

// loaders returns the request's dataloaders (fresh ones outside the loader middleware).
func (r *Resolver) loaders(ctx context.Context) *loaders.Loaders {
	if l := loaders.FromContext(ctx); l != nil {
		return l
	}
	return loaders.New(r.Store)
}
