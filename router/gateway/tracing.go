package gateway

import (
	"context"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
	"go.opentelemetry.io/otel/trace"
)

// WithTracerProvider traces each request's parse, validate, plan and
// execute steps as spans (none when not set: no cost).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(g *Gateway) {
		if tp != nil {
			g.tracer = tp.Tracer("github.com/studio-platform/studio/router/gateway")
		}
	}
}

var noEnd = func() {}

// span starts a span when tracing is on; end ends it.
func (g *Gateway) span(ctx context.Context, name string) (context.Context, func()) {
	if g.tracer == nil {
		return ctx, noEnd
	}
	ctx, s := g.tracer.Start(ctx, name)
	return ctx, func() { s.End() }
}

func (g *Gateway) validate(ctx context.Context, doc *ast.QueryDocument) gqlerror.List {
	_, end := g.span(ctx, "graphql.validate")
	defer end()
	return validator.Validate(g.sg.API, doc)
}
