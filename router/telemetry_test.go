package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/studio-platform/studio/router"
)

// One traced request: the client's trace continues through the router's
// spans to the subgraph, and the access log has one line without secrets.
func TestTracingAndAccessLog(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{"me":{"name":"Ada"}}}`)
	}))
	defer sub.Close()
	sdl, err := os.ReadFile("plan/testdata/basic/supergraph.graphql")
	require.NoError(t, err)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var logs bytes.Buffer
	r, err := router.New(context.Background(), router.Config{SupergraphSDL: string(sdl), SubgraphURLs: map[string]string{"accounts": sub.URL}},
		router.WithTracerProvider(tp), router.WithAccessLog(slog.New(slog.NewJSONHandler(&logs, nil))))
	require.NoError(t, err)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql",
		strings.NewReader(`{"query":"query Me($secretVariable: Boolean!) { me @include(if: $secretVariable) { name } }","operationName":"Me","variables":{"secretVariable":true}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer secret-token")
	req.Header.Set("Traceparent", "00-"+clientTrace+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.JSONEq(t, `{"data":{"me":{"name":"Ada"}}}`, string(body))

	names := map[string]string{}
	var fetchSpanID string
	for _, s := range rec.Ended() {
		require.Equal(t, clientTrace, s.SpanContext().TraceID().String(), s.Name())
		names[s.Name()] = s.Parent().SpanID().String()
		if s.Name() == "fetch accounts" {
			fetchSpanID = s.SpanContext().SpanID().String()
		}
	}
	for _, n := range []string{"POST /graphql", "graphql.parse", "graphql.validate", "graphql.plan", "graphql.execute", "fetch accounts"} {
		require.Contains(t, names, n)
	}
	require.Equal(t, "00f067aa0ba902b7", names["POST /graphql"], "child of the client's span")
	mu.Lock()
	require.Equal(t, "00-"+clientTrace+"-"+fetchSpanID+"-01", got.Get("Traceparent"), "the subgraph continues the fetch span")
	mu.Unlock()

	var line map[string]any
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line), logs.String())
	require.Equal(t, "access", line["msg"])
	require.Equal(t, "POST", line["method"])
	require.EqualValues(t, 200, line["status"])
	require.Equal(t, "Me", line["operation"])
	require.Equal(t, clientTrace, line["trace_id"])
	require.NotEmpty(t, line["request_id"])
	require.EqualValues(t, len(body), line["bytes"])
	require.Equal(t, "127.0.0.1", line["client_ip"])
	require.Contains(t, line, "duration_ms")
	require.NotContains(t, logs.String(), "secret", "no document, variables or token in the log")
}
