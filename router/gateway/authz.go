package gateway

import (
	"context"
	"net/http"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/router/authz"
	"github.com/studio-platform/studio/router/plan"
)

// WithAuthorization configures the enforcement of @authenticated, @requiresScopes
// and @policy (e.g. authz.WithPolicyDecider). Without a decider every @policy is
// denied.
func WithAuthorization(opts ...authz.Option) Option {
	return func(g *Gateway) { g.authzOpts = append(g.authzOpts, opts...) }
}

// authorize decides what the request may see of the operation planned under
// planKey: the operation is analysed once (cached; size estimates the analysis,
// which holds the normalized operation), the decision is per request.
func (g *Gateway) authorize(ctx context.Context, planKey string, in plan.Input, hdr http.Header, size int64) (authz.Decision, *authz.Guards, error) {
	guards, ok := g.guards.get(planKey)
	if !ok {
		sel, err := plan.Normalize(g.sg.API, in.Document, in.Operation, in.Conditions)
		if err != nil {
			return authz.Decision{}, nil, err
		}
		guards = g.authz.Analyze(sel)
		g.guards.put(planKey, guards, size)
	}
	if guards.Len() == 0 {
		return authz.Decision{}, guards, nil
	}
	claims, _ := auth.ClaimsFromContext(ctx)
	ctx = authz.WithAuthorization(ctx, hdr.Get("Authorization"))
	return g.authz.Decide(ctx, claims, guards), guards, nil
}
