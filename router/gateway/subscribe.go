package gateway

import (
	"context"
	"net/http"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/execute"
	"github.com/studio-platform/studio/router/plan"
)

// Subscription is a subscription operation checked, authorized and planned
// like a query: Subgraph and Payload open the stream at the subgraph that
// owns its root field; Complete turns each event into the client's result
// by running the rest of the plan (entity fetches to other subgraphs,
// batched as for a query).
type Subscription struct {
	g      *Gateway
	plan   *plan.Plan
	root   *plan.Fetch
	vars   map[string]any
	header http.Header
	opName string
}

// IsSubscription reports whether req's operation is a subscription (false
// for a document that does not parse or validate: Do reports why).
func (g *Gateway) IsSubscription(ctx context.Context, req Request) bool {
	if req.Query == "" {
		return false
	}
	pd := g.document(ctx, req.Query)
	if pd.kind != KindOK {
		return false
	}
	op, resp := selectOperation(pd.doc, req.OperationName)
	return resp == nil && op.Operation == ast.Subscription
}

// Subscribe checks, authorizes and plans a subscription request; a response
// when it cannot run (its errors are the ones Do would give).
func (g *Gateway) Subscribe(ctx context.Context, req Request) (*Subscription, *Response) {
	if req.Query == "" {
		return nil, requestError(KindBadRequest, "BAD_REQUEST", "the request has no query")
	}
	if !acquire(ctx, g.planSlots) {
		return nil, requestError(KindOK, "SERVICE_UNAVAILABLE", "the request ended while waiting to be planned: %v", ctx.Err())
	}
	op, vars, p, _, resp := g.prepare(ctx, req, true)
	<-g.planSlots
	if resp != nil {
		return nil, resp
	}
	if op.Operation != ast.Subscription {
		return nil, requestError(KindBadRequest, "BAD_REQUEST", "the operation is a %s, not a subscription", op.Operation)
	}
	root := rootFetch(p.Root)
	if root == nil {
		return nil, requestError(KindBadRequest, "BAD_REQUEST", "a subscription must select a field that a subgraph streams")
	}
	return &Subscription{g: g, plan: p, root: root, vars: vars, header: g.forwardHeaders(req.Header), opName: op.Name}, nil
}

// rootFetch is the fetch that opens the stream: the plan's first, to the
// subgraph of the one root field (validation allows one).
func rootFetch(n plan.Node) *plan.Fetch {
	switch n := n.(type) {
	case *plan.Fetch:
		if !n.Entity && n.OperationKind == string(ast.Subscription) {
			return n
		}
	case *plan.Sequence:
		if len(n.Nodes) > 0 {
			return rootFetch(n.Nodes[0])
		}
	}
	return nil
}

// Subgraph names the subgraph that streams the subscription.
func (s *Subscription) Subgraph() string { return s.root.ServiceName }

// Header is what the subgraph is sent (the forwarded headers).
func (s *Subscription) Header() http.Header { return s.header }

// Payload is the subscribe payload for the subgraph: its operation and the
// variables it uses.
func (s *Subscription) Payload() map[string]any {
	p := map[string]any{"query": s.root.Operation}
	if len(s.root.Variables) > 0 {
		vars := make(map[string]any, len(s.root.Variables))
		for _, name := range s.root.Variables {
			if v, ok := s.vars[name]; ok {
				vars[name] = v
			}
		}
		p["variables"] = vars
	}
	return p
}

// Complete resolves one event (the subgraph's {"data", "errors"}) into the
// client's result. The response holds pooled memory: Release it once written.
func (s *Subscription) Complete(ctx context.Context, event []byte) *Response {
	if !acquire(ctx, s.g.slots) {
		return requestError(KindOK, "SERVICE_UNAVAILABLE", "the subscription ended while waiting to execute: %v", ctx.Err())
	}
	defer func() { <-s.g.slots }()
	ctx, end := s.g.span(ctx, "graphql.execute")
	defer end()
	res := s.g.exec.Execute(ctx, &execute.Request{Plan: s.plan, Variables: s.vars, Header: s.header, OperationName: s.opName, Event: event})
	return &Response{Kind: KindOK, Data: res.Data, Errors: res.Errors, release: res.Release}
}
