// Package graph holds the documents subgraph's resolvers. The schema is
// schema/documents/*.graphqls; generated code is in generated/ and model/.
package graph

//go:generate go run ../../../internal/tools/subgraphgen documents

import (
	"github.com/studio-platform/studio/subgraphs/documents/loaders"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/documents/process"
	"github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Resolver is the root resolver; its dependencies are set by the composition root.
type Resolver struct {
	Store *store.Store
	// Objects is the object storage holding the documents' bytes.
	Objects *objects.Bucket
	// Limits bound uploads (size, allowed types).
	Limits Limits
	// Loaders are the per-request dataloaders, scoped by the caller's
	// organization (Loaders.Get answers UNAUTHENTICATED without a token).
	Loaders *kit.Loaders[loaders.Loaders]
	// Progress reads the progress stream for documentProcessing (nil without
	// NATS: the subscription is then SERVICE_UNAVAILABLE).
	Progress *process.Feed
}
