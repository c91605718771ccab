// Package graph holds the compliance subgraph's resolvers. The schema is
// schema/compliance/*.graphqls; generated code is in generated/ and model/.
package graph

//go:generate go run ../../../internal/tools/subgraphgen compliance

import (
	"context"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/compliance/loaders"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/internal/gqlserver"
)

// Resolver is the root resolver; its dependencies are set by the composition root.
type Resolver struct {
	Store *store.Store
}

// loaders returns the request's dataloaders, or ErrUnauthenticated for an
// anonymous request: every compliance field is scoped by organization.
func (r *Resolver) loaders(ctx context.Context) (*loaders.Loaders, error) {
	c, err := gqlserver.Claims(ctx)
	if err != nil {
		return nil, err
	}
	if l := loaders.FromContext(ctx); l != nil {
		return l, nil
	}
	return loaders.New(r.Store, c.OrgID), nil
}

// claims returns the caller's verified claims or ErrUnauthenticated.
func claims(ctx context.Context) (*auth.Claims, error) { return gqlserver.Claims(ctx) }
