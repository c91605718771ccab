package provider_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/ai/provider"
)

// waits records the retry waits instead of sleeping them.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) wait(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// fastRetry retries up to n attempts and records the waits.
func fastRetry(n int) (provider.Option, *waits) {
	w := &waits{}
	return provider.WithRetry(provider.RetryPolicy{MaxAttempts: n, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, Wait: w.wait}), w
}

// recorded is one request a test server received.
type recorded struct {
	Path   string
	Query  string
	Header http.Header
	Body   map[string]any
}

// recorder collects the requests of a test server.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

// record reads r's JSON body and returns the attempt number (1-based).
func (rc *recorder) record(t *testing.T, r *http.Request) int {
	raw, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(raw, &body))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = append(rc.reqs, recorded{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	return len(rc.reqs)
}

func (rc *recorder) all() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.reqs...)
}

// await waits for a value from ch or fails after a generous bound (the
// other side never answered: e.g. the client did not stream).
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

var passages = []provider.Passage{
	{ID: "CC6.1", Title: "Logical access", Text: "The entity restricts logical access to production systems. Multi-factor authentication is required for every administrator login to the production environment."},
	{ID: "CC7.2", Title: "Monitoring", Text: "The entity monitors system components for anomalies. Security events are logged centrally and reviewed daily by the on-call engineer."},
	{ID: "CC8.1", Title: "Change management", Text: "Changes to infrastructure and software are authorized, tested and approved before deployment. Every pull request needs one approving review."},
	{ID: "doc-7#2", Title: "Backup policy", Text: "Backups of customer databases are encrypted with AES-256 and copied nightly to a second region. Restores are tested every quarter."},
}
