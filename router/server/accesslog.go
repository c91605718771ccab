package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/studio-platform/studio/router/clientip"
)

// WithAccessLog logs one line per GraphQL request to l, at INFO with the
// message "access": method, status, duration_ms, operation (the operation
// name, "" when unnamed), request_id, trace_id, bytes (written), client_ip.
// Never the document, the variables or any header (tokens stay out of logs).
func WithAccessLog(l *slog.Logger) Option { return func(c *config) { c.accessLog = l } }

type accessKey struct{}

// accessEntry is what the GraphQL handler tells the access log.
type accessEntry struct{ operation string }

func setOperationName(ctx context.Context, name string) {
	if e, ok := ctx.Value(accessKey{}).(*accessEntry); ok {
		e.operation = name
	}
}

func accessLog(l *slog.Logger, ips *clientip.Resolver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		e := &accessEntry{}
		rw := &countingWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), accessKey{}, e))
		next.ServeHTTP(rw, r)
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		id, _ := RequestIDFromContext(r.Context())
		l.LogAttrs(r.Context(), slog.LevelInfo, "access",
			slog.String("method", r.Method),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("operation", e.operation),
			slog.String("request_id", id),
			slog.String("trace_id", traceID(r)),
			slog.Int64("bytes", rw.bytes),
			slog.String("client_ip", ips.IP(r).String()),
		)
	})
}

// traceID is the request's trace: its span's when traced, else the one in
// its traceparent header, else "".
func traceID(r *http.Request) string {
	if sc := trace.SpanContextFromContext(r.Context()); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	// traceparent: version "-" trace-id (32 hex) "-" parent-id "-" flags
	if tp := r.Header.Get("Traceparent"); len(tp) >= 35 && tp[2] == '-' {
		if id, err := trace.TraceIDFromHex(tp[3:35]); err == nil {
			return id.String()
		}
	}
	return ""
}

// countingWriter records the status and counts the bytes written, keeping
// Flush working through http.ResponseController (Unwrap).
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
