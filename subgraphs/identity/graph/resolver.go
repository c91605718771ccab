// Package graph holds the identity subgraph's resolvers. The schema is
// schema/identity/*.graphqls; generated code is in generated/ and model/.
package graph

//go:generate go run ../../../internal/tools/subgraphgen identity

import (
	"time"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/identity/loaders"
	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Resolver is the root resolver; its dependencies are set by the composition root.
type Resolver struct {
	Store  *store.Store
	Signer *auth.Signer
	// Sessions is the Redis session store; nil only in tests without Redis
	// (then logout ends refresh tokens only).
	Sessions *auth.Sessions
	// PublicURL is identity's public URL (the SAML service provider's URLs);
	// SAML says whether SAML sign-in is served (set with PublicURL and Redis).
	PublicURL  string
	SAML       bool
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// Loaders are the per-request dataloaders. Relation fields are scoped by
	// their parent's organization: the root field or entity resolver that
	// produced the parent checked it against the caller's claims (or, for the
	// user of an AuthPayload, just authenticated it).
	Loaders *kit.Loaders[loaders.Loaders]
}
