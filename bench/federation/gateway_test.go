package federation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/bench/federation"
	"github.com/studio-platform/studio/bench/federation/internal/fedsub"
	"github.com/studio-platform/studio/router/execute"
	"github.com/studio-platform/studio/router/gateway"
	"github.com/studio-platform/studio/router/supergraph"
	"github.com/studio-platform/studio/router/transport"
)

// setup serves the four benchmark subgraphs in-process and builds a gateway for them.
func setup(tb testing.TB, opts ...gateway.Option) (*gateway.Gateway, string, *fedsub.Store) {
	tb.Helper()
	st := fedsub.NewStore()
	ctors := map[string]func(*fedsub.Store, string) *fedsub.Schema{
		"accounts": fedsub.Accounts, "products": fedsub.Products, "reviews": fedsub.Reviews, "inventory": fedsub.Inventory,
	}
	var execOpts []execute.Option
	for name, ctor := range ctors {
		sdl, err := federation.Schemas.ReadFile("schemas/" + name + ".graphql")
		require.NoError(tb, err)
		// The response cache is off: every request is executed, as a real subgraph would.
		srv := httptest.NewServer(&fedsub.Handler{Schema: ctor(st, string(sdl)), RequireAuth: true})
		tb.Cleanup(srv.Close)
		execOpts = append(execOpts, execute.WithSubgraphURL(name, srv.URL+"/graphql"))
	}
	sdl, err := os.ReadFile("supergraph.graphql")
	require.NoError(tb, err)
	sg, err := supergraph.Parse(string(sdl))
	require.NoError(tb, err)
	query, err := os.ReadFile("query.graphql")
	require.NoError(tb, err)
	gw := gateway.New(sg, append([]gateway.Option{gateway.WithExecutorOptions(execOpts...)}, opts...)...)
	return gw, string(query), st
}

func request(query, token string) gateway.Request {
	return gateway.Request{Query: query, Header: http.Header{"Authorization": {"Bearer " + token}}}
}

// TestGatewayMatchesMonolith runs the benchmark query through the router and
// compares it with the same query executed on the four schemas merged into one.
func TestGatewayMatchesMonolith(t *testing.T) {
	gw, query, st := setup(t)
	resp := gw.Do(context.Background(), request(query, "t1"))
	require.Equal(t, gateway.KindOK, resp.Kind)
	require.Empty(t, resp.Errors)
	var want struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(fedsub.Monolith(st).Execute(query, "", nil), &want))
	require.JSONEq(t, string(want.Data), string(resp.Data))
	require.Greater(t, len(resp.Data), 80_000, "the benchmark response is about 87 KB")
}

// BenchmarkGateway measures one execution of the benchmark query (planning is
// cached), subgraphs in-process over loopback HTTP.
//
//	go test ./bench/federation -run XXX -bench Gateway -benchmem -count 6 | tee new.txt; benchstat old.txt new.txt
func BenchmarkGateway(b *testing.B) {
	gw, query, _ := setup(b)
	b.ReportAllocs()
	for b.Loop() {
		resp := gw.Do(context.Background(), request(query, "bench"))
		if len(resp.Errors) > 0 {
			b.Fatal(resp.Errors)
		}
		resp.Release() // as the server does once the response is written
	}
}

// BenchmarkGatewayParallel runs the benchmark query from 50 goroutines at once (the
// load of bench/federation/run.sh) and reports the peak heap of live and
// not-yet-collected objects, sampled every millisecond: what executions in
// progress hold. The in-process subgraphs count too.
func BenchmarkGatewayParallel(b *testing.B) {
	gw, query, _ := setup(b)
	b.ReportAllocs()
	b.SetParallelism((50 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				metrics.Read(sample)
				if v := sample[0].Value.Uint64(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp := gw.Do(context.Background(), request(query, "bench"))
			if len(resp.Errors) > 0 {
				b.Error(resp.Errors)
				return
			}
			resp.Release()
		}
	})
	close(stop)
	<-done
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}

// memoryTransport answers each subgraph request with the response the real
// subgraph gave to the same URL and body the first time: what remains is the
// executor's own work (planning is cached), without sockets or subgraphs, so
// its measurements vary far less than BenchmarkGateway's.
type memoryTransport struct {
	next http.RoundTripper
	mu   sync.RWMutex
	seen map[string][]byte
}

func (m *memoryTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	key := r.URL.String() + "\x00" + string(body)
	m.mu.RLock()
	resp, ok := m.seen[key]
	m.mu.RUnlock()
	if !ok {
		fwd := r.Clone(r.Context())
		fwd.Body = io.NopCloser(bytes.NewReader(body))
		res, err := m.next.RoundTrip(fwd)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		if resp, err = io.ReadAll(res.Body); err != nil {
			return nil, err
		}
		m.mu.Lock()
		m.seen[key] = resp
		m.mu.Unlock()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: int64(len(resp)),
		Body: io.NopCloser(bytes.NewReader(resp)), Request: r,
	}, nil
}

// BenchmarkExecutor runs the benchmark query with every subgraph response
// served from memory (see memoryTransport), one query at a time.
func BenchmarkExecutor(b *testing.B) {
	mem := &memoryTransport{next: transport.NewHTTPTransport(), seen: map[string][]byte{}}
	gw, query, st := setup(b, gateway.WithExecutorOptions(execute.WithHTTPClient(&http.Client{Transport: mem})))
	var want struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(b, json.Unmarshal(fedsub.Monolith(st).Execute(query, "", nil), &want))
	first := gw.Do(context.Background(), request(query, "bench"))
	require.Empty(b, first.Errors)
	require.JSONEq(b, string(want.Data), string(first.Data))
	b.ReportAllocs()
	for b.Loop() {
		resp := gw.Do(context.Background(), request(query, "bench"))
		if len(resp.Errors) > 0 {
			b.Fatal(resp.Errors)
		}
		resp.Release()
	}
}
