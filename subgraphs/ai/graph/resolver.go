// Package graph holds the ai subgraph's resolvers. The schema is
// schema/ai/*.graphqls; generated code is in generated/ and model/.
package graph

//go:generate go run ../../../internal/tools/subgraphgen ai

import (
	"github.com/studio-platform/studio/subgraphs/ai/assistant"
	"github.com/studio-platform/studio/subgraphs/ai/loaders"
	"github.com/studio-platform/studio/subgraphs/ai/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Resolver is the root resolver; its dependencies are set by the composition root.
type Resolver struct {
	Store *store.Store
	// Assistant answers chat messages (retrieval, the provider, the token
	// stream) and checks what a request names against the compliance graph.
	Assistant *assistant.Assistant
	// Loaders are the per-request dataloaders, scoped by the caller's
	// organization (Loaders.Get answers UNAUTHENTICATED without a token).
	Loaders *kit.Loaders[loaders.Loaders]
}
