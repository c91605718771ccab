package transport

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// WithTracerProvider traces every subgraph call as a client span
// ("fetch <subgraph>") and sends its W3C trace context (traceparent,
// tracestate) to the subgraph instead of the client's. Not set: no spans, and
// the client's trace headers are forwarded as they came.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(t *Client) {
		if tp != nil {
			t.tracer = tp.Tracer("github.com/studio-platform/studio/router/transport")
		}
	}
}

var traceContext = propagation.TraceContext{}

// startFetch starts the span of one subgraph call and returns the headers
// to send, carrying its trace context.
func (t *Client) startFetch(ctx context.Context, sg *subgraph, hdr http.Header) (context.Context, trace.Span, http.Header) {
	ctx, span := t.tracer.Start(ctx, "fetch "+sg.name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("graphql.subgraph", sg.name), attribute.String("server.address", sg.url)))
	out := make(http.Header, len(hdr)+2)
	for k, v := range hdr {
		out[k] = v
	}
	delete(out, "Traceparent")
	delete(out, "Tracestate")
	traceContext.Inject(ctx, propagation.HeaderCarrier(out))
	return ctx, span, out
}

func endFetch(span trace.Span, status int, err error) {
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if err != nil {
		span.SetStatus(codes.Error, Describe(err))
		span.SetAttributes(attribute.String("graphql.error.code", Code(err)))
	}
	span.End()
}
