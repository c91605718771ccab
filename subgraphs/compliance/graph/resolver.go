// Package graph holds the compliance subgraph's resolvers. The schema is
// schema/compliance/*.graphqls; generated code is in generated/ and model/.
package graph

//go:generate go run ../../../internal/tools/subgraphgen compliance

import (
	"github.com/studio-platform/studio/subgraphs/compliance/loaders"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Resolver is the root resolver; its dependencies are set by the composition root.
type Resolver struct {
	Store *store.Store
	// Loaders are the per-request dataloaders, scoped by the caller's
	// organization (Loaders.Get answers UNAUTHENTICATED without a token).
	Loaders *kit.Loaders[loaders.Loaders]
	// Graph is the compliance graph in Neo4j (nil when not configured): the
	// graph fields fail without it.
	Graph *projection.Projector
}
