// Package graph holds the policy subgraph's resolvers. The schema is
// schema/policy/*.graphqls; generated code is in generated/ and model/.
package graph

//go:generate go run ../../../internal/tools/subgraphgen policy

import (
	"github.com/studio-platform/studio/subgraphs/policy/decide"
	"github.com/studio-platform/studio/subgraphs/policy/expr"
	"github.com/studio-platform/studio/subgraphs/policy/store"
)

// Resolver is the root resolver; its dependencies are set by the composition root.
type Resolver struct {
	Store *store.Store
	// Env type-checks conditions when policies are written.
	Env *expr.Env
	// Engine answers authorize, authorizeBatch and authorizeMany, and the
	// resolvers' own permission checks.
	Engine *decide.Engine
}
