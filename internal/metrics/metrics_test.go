package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestMiddlewareRecordsRequests(t *testing.T) {
	m := New("router")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok") // implicit 200
	})
	h := m.Middleware(mux)

	for _, tc := range []struct{ method, path string }{
		{"POST", "/graphql"}, {"POST", "/graphql"}, {"GET", "/health"}, {"GET", "/nope/123"}, {"BREW", "/health"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil))
	}

	require.Equal(t, 2.0, testutil.ToFloat64(m.requests.WithLabelValues("POST", "400", "POST /graphql")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("GET", "200", "GET /health")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("GET", "404", "unmatched")), "raw paths never become labels")
	require.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("OTHER", "405", "unmatched")))
	require.Equal(t, 4, testutil.CollectAndCount(m.requests))
	require.Equal(t, 4, testutil.CollectAndCount(m.duration))
	require.Equal(t, 0.0, testutil.ToFloat64(m.inFlight))
}

func TestMiddlewareInFlightAndPanic(t *testing.T) {
	m := New("svc")
	var during float64
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		during = testutil.ToFloat64(m.inFlight)
		panic("boom")
	}))
	require.Panics(t, func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	})
	require.Equal(t, 1.0, during)
	require.Equal(t, 0.0, testutil.ToFloat64(m.inFlight))
	require.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("GET", "500", "unmatched")))
}

func TestMiddlewareKeepsFlusher(t *testing.T) {
	m := New("svc")
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		require.True(t, ok)
		f.Flush()
		require.NoError(t, http.NewResponseController(w).Flush())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/events", nil))
	require.True(t, rec.Flushed)
}

func TestActiveConnectionsAndHandler(t *testing.T) {
	m := New("router")
	srv := httptest.NewUnstartedServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hi")
	})))
	srv.Config.ConnState = m.ConnState
	srv.Start()
	defer srv.Close()

	client := srv.Client()
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, 1.0, testutil.ToFloat64(m.conns), "keep-alive connection is still open")

	client.CloseIdleConnections()
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.conns) == 0 }, 5e9, 1e6)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	for _, want := range []string{
		`http_requests_total{code="200",method="GET",path="unmatched",service="router"} 1`,
		`http_request_duration_seconds_bucket{`,
		`active_connections{service="router"} 0`,
		`http_requests_in_flight{service="router"} 0`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		require.True(t, strings.Contains(body, want), "missing %q in:\n%s", want, body)
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New("a"), New("b") // would panic on duplicate registration with a global registry
	h := a.Middleware(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	require.Equal(t, 1, testutil.CollectAndCount(a.requests))
	require.Equal(t, 0, testutil.CollectAndCount(b.requests))
}

func TestWithPathLabel(t *testing.T) {
	m := New("svc", WithPathLabel(func(*http.Request) string { return "fixed" }))
	m.Middleware(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	require.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("GET", "404", "fixed")))
}
