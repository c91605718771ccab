package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ready(t *testing.T, h *Health) (int, Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.Ready().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var rep Report
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	return rec.Code, rep
}

func TestLive(t *testing.T) {
	rec := httptest.NewRecorder()
	New(Check{Name: "db", Fn: func(context.Context) error { return errors.New("down") }}).
		Live().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
}

func TestReadyAllOK(t *testing.T) {
	ok := func(context.Context) error { return nil }
	code, rep := ready(t, New(Check{Name: "postgres", Fn: ok}, Check{Name: "nats", Fn: ok}))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", rep.Status)
	require.Len(t, rep.Checks, 2)
	require.Equal(t, "ok", rep.Checks["postgres"].Status)
	require.Empty(t, rep.Checks["postgres"].Error)
}

func TestReadyNoChecks(t *testing.T) {
	code, rep := ready(t, New())
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", rep.Status)
}

func TestReadyFailureAndTimeoutRunConcurrently(t *testing.T) {
	slow := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	block := make(chan struct{})
	defer close(block)
	stuck := func(context.Context) error { <-block; return nil } // ignores ctx
	h := New(
		Check{Name: "postgres", Fn: func(context.Context) error { return nil }},
		Check{Name: "redis", Fn: func(context.Context) error { return errors.New("connection refused") }},
		Check{Name: "neo4j", Fn: slow, Timeout: 100 * time.Millisecond},
		Check{Name: "minio", Fn: stuck, Timeout: 100 * time.Millisecond},
		Check{Name: "broken", Fn: func(context.Context) error { panic("oops") }},
	)
	start := time.Now()
	code, rep := ready(t, h)
	require.Less(t, time.Since(start), 900*time.Millisecond, "checks run concurrently and are bounded")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "fail", rep.Status)
	require.Equal(t, "ok", rep.Checks["postgres"].Status)
	require.Equal(t, Result{Status: "fail", DurationMS: rep.Checks["redis"].DurationMS, Error: "connection refused"}, rep.Checks["redis"])
	require.Equal(t, "fail", rep.Checks["neo4j"].Status)
	require.GreaterOrEqual(t, rep.Checks["neo4j"].DurationMS, 100.0)
	require.Contains(t, rep.Checks["minio"].Error, "timed out")
	require.Contains(t, rep.Checks["broken"].Error, "panicked")
	require.Equal(t, []string{"broken", "minio", "neo4j", "postgres", "redis"}, h.Names())
}
