package transport_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/router/transport"
)

// ok answers every request with a small GraphQL response.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"data":{"ok":true}}`))
})

func query() *transport.Request {
	return &transport.Request{Subgraph: "a", Body: []byte(`{"query":"{ ok }"}`)}
}

func TestBreakerOpensFailsFastAndClosesAfterAProbe(t *testing.T) {
	fault := testenv.NewFault(ok)
	url := testenv.Serve(t, fault)
	var states []bool
	var mu sync.Mutex
	c := transport.New(map[string]string{"a": url}, transport.WithBreaker(3, 200*time.Millisecond),
		transport.WithStateObserver(func(_ string, open bool) { mu.Lock(); states = append(states, open); mu.Unlock() }))
	var out bytes.Buffer

	fault.SetError(http.StatusBadGateway)
	for range 3 {
		status, err := c.Do(context.Background(), query(), &out)
		require.NoError(t, err)
		require.Equal(t, http.StatusBadGateway, status)
	}
	require.True(t, c.Open("a"))
	before := fault.Requests()
	start := time.Now()
	_, err := c.Do(context.Background(), query(), &out)
	require.ErrorIs(t, err, transport.ErrUnavailable)
	require.Equal(t, transport.CodeUnavailable, transport.Code(err))
	require.Contains(t, transport.Describe(err), "circuit breaker open")
	require.Less(t, time.Since(start), 50*time.Millisecond, "fails fast")
	require.Equal(t, before, fault.Requests(), "an open breaker sends nothing")

	fault.Reset()
	require.Eventually(t, func() bool {
		status, err := c.Do(context.Background(), query(), &out)
		return err == nil && status == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
	require.False(t, c.Open("a"))
	mu.Lock()
	require.Equal(t, []bool{true, false}, states)
	mu.Unlock()
}

func TestTimeoutIsClassified(t *testing.T) {
	fault := testenv.NewFault(ok)
	fault.SetDelay(time.Minute)
	c := transport.New(map[string]string{"a": testenv.Serve(t, fault)}, transport.WithSubgraphTimeout("a", 100*time.Millisecond))
	start := time.Now()
	_, err := c.Do(context.Background(), query(), &bytes.Buffer{})
	require.ErrorIs(t, err, transport.ErrTimeout)
	require.Equal(t, transport.CodeTimeout, transport.Code(err))
	require.Less(t, time.Since(start), 5*time.Second)
}

// A stalled subgraph holds at most its bulkhead's places; further requests
// fail with SUBGRAPH_UNAVAILABLE after the queue timeout, and other
// subgraphs are not affected.
func TestBulkheadBoundsAStalledSubgraph(t *testing.T) {
	stalled := testenv.NewFault(ok)
	stalled.SetDelay(time.Minute)
	c := transport.New(map[string]string{"a": testenv.Serve(t, stalled), "b": testenv.Serve(t, ok)},
		transport.WithMaxInFlight(2), transport.WithQueueTimeout(50*time.Millisecond), transport.WithBreaker(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _, _ = c.Do(ctx, query(), &bytes.Buffer{}) })
	}
	require.Eventually(t, func() bool { return stalled.Requests() == 2 }, 5*time.Second, time.Millisecond)
	_, err := c.Do(context.Background(), query(), &bytes.Buffer{})
	require.ErrorIs(t, err, transport.ErrUnavailable)
	require.Contains(t, transport.Describe(err), "2 requests in flight")
	status, err := c.Do(context.Background(), &transport.Request{Subgraph: "b", Body: []byte(`{}`)}, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	cancel()
	wg.Wait()
}

// A deduplicated request goes on for the others when its first caller leaves.
func TestDeduplicatedRequestOutlivesItsFirstCaller(t *testing.T) {
	release := make(chan struct{})
	var served atomic.Int32
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		ok(w, r)
	})
	c := transport.New(map[string]string{"a": testenv.Serve(t, slow)}, transport.WithDeduplication(true))
	first, cancelFirst := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := c.Do(first, query(), &bytes.Buffer{})
		firstErr <- err
	}()
	require.Eventually(t, func() bool { return served.Load() == 1 }, 5*time.Second, time.Millisecond)
	type result struct {
		status int
		body   string
		err    error
	}
	second := make(chan result, 1)
	go func() {
		var out bytes.Buffer
		status, err := c.Do(context.Background(), query(), &out)
		second <- result{status, out.String(), err}
	}()
	require.Eventually(t, func() bool { return c.SharedWaiters() == 1 }, 5*time.Second, time.Millisecond)
	cancelFirst()
	require.ErrorIs(t, <-firstErr, context.Canceled)
	close(release)
	r := <-second
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"data":{"ok":true}}`, r.body)
	require.EqualValues(t, 1, served.Load())
}

func TestMutationsAreNotDeduplicated(t *testing.T) {
	var served atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1); ok(w, r) })
	c := transport.New(map[string]string{"a": testenv.Serve(t, h)}, transport.WithDeduplication(true))
	for range 2 {
		_, err := c.Do(context.Background(), &transport.Request{Subgraph: "a", Body: []byte(`{}`), Mutation: true}, &bytes.Buffer{})
		require.NoError(t, err)
	}
	require.EqualValues(t, 2, served.Load())
}
