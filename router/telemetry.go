package router

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// NewTracerProvider returns an OpenTelemetry tracer provider that exports
// spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set — the exporter reads the other
// standard OTEL_EXPORTER_OTLP_* variables itself — and nil otherwise
// (tracing off, at no cost). shutdown flushes the spans still buffered.
func NewTracerProvider(ctx context.Context, service string) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("router: OTLP exporter: %w", err)
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	return p, p.Shutdown, nil
}

// WithTracerProvider traces requests (server span, parse, validate, plan,
// execute, one client span per subgraph fetch, W3C trace context sent to the
// subgraphs); nil or not set: no tracing.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tracer = tp } }

// WithAccessLog logs one JSON line per GraphQL request to l (see
// server.WithAccessLog); nil or not set: no access log.
func WithAccessLog(l *slog.Logger) Option { return func(o *options) { o.accessLog = l } }
