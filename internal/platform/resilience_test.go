package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/subgraphs/compliance"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/identity"
)

// startWith starts the platform with router settings and per-subgraph faults.
func startWith(t *testing.T, cfg func(*router.Config), opts ...platform.Option) *graph {
	t.Helper()
	if cfg != nil {
		opts = append(opts, platform.WithRouterConfig(cfg))
	}
	p, err := platform.Start(context.Background(), platform.Config{
		DatabaseURL:    testenv.Database(t),
		RedisURL:       testenv.Stack(t).RedisURL,
		NatsURL:        testenv.Stack(t).NatsURL, // policy's Redis cache needs its invalidation events
		SupergraphFile: "../../schema/supergraph.graphql",
		RouterAddr:     "127.0.0.1:0",
		IdentityAddr:   "127.0.0.1:0",
		ComplianceAddr: "127.0.0.1:0",
		DocumentsAddr:  "127.0.0.1:0",
		S3:             testS3(t),
		PolicyAddr:     "127.0.0.1:0",
		Seed:           true,
	}, opts...)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return &graph{p: p}
}

// raw posts a request and returns the status and body.
func (g *graph) raw(ctx context.Context, t *testing.T, token, query string, vars map[string]any, hdr http.Header) (int, []byte) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.p.RouterURL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// Headers allowed at the HTTP layer reach the subgraph through the real gateway.
func TestForwardHeadersReachTheSubgraph(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/graphql" {
				mu.Lock()
				seen = append(seen, r.Header.Clone())
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	g := startWith(t, func(c *router.Config) { c.ForwardHeaders = []string{"X-Tenant"} },
		platform.WithMiddleware(identity.Name, record))
	token := g.login(t, demo.DemoUser.Email)
	mu.Lock()
	seen = nil
	mu.Unlock()
	status, body := g.raw(context.Background(), t, token, `{ me { email } }`, nil,
		http.Header{"X-Tenant": {"t1"}, "Cookie": {"session=secret"}, "X-Other": {"no"}})
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), demo.DemoUser.Email)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 1)
	require.Equal(t, "t1", seen[0].Get("X-Tenant"))
	require.Equal(t, "Bearer "+token, seen[0].Get("Authorization"))
	require.NotEmpty(t, seen[0].Get("X-Request-Id"))
	require.Empty(t, seen[0].Get("Cookie"))
	require.Empty(t, seen[0].Get("X-Other"))
}

// A failed mutation field nulls only what the spec's null propagation says,
// with its own error and no invented one, and the other fields still commit.
func TestFailedMutationFieldHasOnlyItsOwnError(t *testing.T) {
	g := startWith(t, nil)
	token := g.login(t, demo.DemoUser.Email)
	status, body := g.raw(context.Background(), t, token, `mutation {
		a: createProject(input: {name: "Alpha"}) { id }
		b: addControl(input: {projectId: "00000000-0000-0000-0000-000000000000", code: "X", title: "t"}) { id }
		c: createProject(input: {name: "Gamma"}) { id } }`, nil, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	var resp gqlResponse
	require.NoError(t, json.Unmarshal(body, &resp))
	// addControl is Control!: its null reaches the root (data: null), and only its error is reported.
	require.Nil(t, resp.Data, string(body))
	require.Len(t, resp.Errors, 1, string(body))
	require.Equal(t, []any{"b"}, resp.Errors[0].Path)
	require.Equal(t, "compliance", resp.Errors[0].Extensions["serviceName"])
	// Mutation fields run one after the other: a and c were committed.
	list := g.post(t, token, `{ projects { nodes { name } } }`, nil)
	require.Contains(t, string(list.Data["projects"]), `"Alpha"`)
	require.Contains(t, string(list.Data["projects"]), `"Gamma"`)
}

// A NUL character is bad user input, never an internal error.
func TestNULCharacterIsBadUserInput(t *testing.T) {
	g := startWith(t, nil)
	token := g.login(t, demo.DemoUser.Email)
	status, body := g.raw(context.Background(), t, token, `mutation($n: String!) { createProject(input: {name: $n}) { id } }`,
		map[string]any{"n": "a\x00b"}, nil)
	require.Equal(t, http.StatusBadRequest, status, string(body))
	require.Contains(t, string(body), `"BAD_USER_INPUT"`)
	require.Contains(t, string(body), "NUL")

	// In the document itself, the subgraph refuses it as bad input.
	status, body = g.raw(context.Background(), t, token, `mutation { createProject(input: {name: "a\u0000b"}) { id } }`, nil, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), `"BAD_USER_INPUT"`)
	require.NotContains(t, string(body), "INTERNAL")
}

// A stalled subgraph holds at most its bulkhead's executions: { __typename }
// needs no slot at all, the other subgraph keeps answering, requests to the
// stalled one time out with SUBGRAPH_TIMEOUT, and once its breaker opens
// they fail fast with SUBGRAPH_UNAVAILABLE and the other subgraph's data.
func TestStalledSubgraphLeavesTheRouterServing(t *testing.T) {
	var stalled *testenv.Fault
	g := startWith(t, func(c *router.Config) {
		c.MaxConcurrentExecutions = 8
		c.SubgraphTimeout = 5 * time.Second
		c.BreakerFailures = 3
		c.BreakerCooldown = time.Minute
	}, platform.WithMiddleware(compliance.Name, func(next http.Handler) http.Handler {
		stalled = testenv.NewFault(next)
		return stalled
	}))
	token := g.login(t, demo.DemoUser.Email)
	stalled.SetDelay(time.Minute)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := make(chan []byte, 40)
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			_, body := g.raw(ctx, t, token, `{ projects { nodes { name } } }`, nil, nil)
			results <- body
		})
	}
	// The stalled subgraph holds its 6 places (3/4 of 8 executions).
	require.Eventually(t, func() bool { return stalled.Requests() >= 6 }, 10*time.Second, 5*time.Millisecond)

	status, body := g.raw(context.Background(), t, "", `{ __typename }`, nil, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.JSONEq(t, `{"data":{"__typename":"Query"}}`, string(body))
	status, body = g.raw(context.Background(), t, token, `{ me { email } }`, nil, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), demo.DemoUser.Email)
	// Served while the stalled requests still wait (none has timed out yet).
	var early [][]byte
	for len(results) > 0 {
		early = append(early, <-results)
	}
	for _, b := range early {
		require.NotContains(t, string(b), "SUBGRAPH_TIMEOUT")
	}

	wg.Wait()
	close(results)
	codes := map[string]int{}
	for _, b := range early {
		for _, c := range regexp.MustCompile(`"code":"([A-Z_]+)"`).FindAllSubmatch(b, -1) {
			codes[string(c[1])]++
		}
	}
	for b := range results {
		for _, c := range regexp.MustCompile(`"code":"([A-Z_]+)"`).FindAllSubmatch(b, -1) {
			codes[string(c[1])]++
		}
	}
	require.Positive(t, codes["SUBGRAPH_TIMEOUT"], "%v", codes)

	// The breaker is open: fail fast, with the other subgraph's data.
	start := time.Now()
	status, body = g.raw(context.Background(), t, token, `{ me { email } project(id: "00000000-0000-0000-0000-000000000000") { name } }`, nil, nil)
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, http.StatusOK, status, string(body))
	var resp gqlResponse
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Contains(t, string(resp.Data["me"]), demo.DemoUser.Email)
	require.Equal(t, "null", string(resp.Data["project"]))
	require.Len(t, resp.Errors, 1)
	require.Equal(t, "SUBGRAPH_UNAVAILABLE", resp.Errors[0].Extensions["code"])
	require.Equal(t, "compliance", resp.Errors[0].Extensions["serviceName"])

	// /ready says the router cannot serve compliance.
	hr, err := http.Get(g.p.RouterURL + "/ready")
	require.NoError(t, err)
	defer hr.Body.Close()
	ready, _ := io.ReadAll(hr.Body)
	require.Equal(t, http.StatusServiceUnavailable, hr.StatusCode, string(ready))
	require.Contains(t, string(ready), "circuit breaker open")
	require.Contains(t, string(ready), "duration_ms")
}

// A deduplicated execution goes on for the others when its first client leaves.
func TestDeduplicatedExecutionOutlivesItsFirstClient(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	var held int
	hold := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte("users")) {
				mu.Lock()
				held++
				mu.Unlock()
				<-gate
			}
			next.ServeHTTP(w, r)
		})
	}
	g := startWith(t, func(c *router.Config) { c.DedupRequests = true }, platform.WithMiddleware(identity.Name, hold))
	token := g.login(t, demo.DemoUser.Email)
	query := `{ users { nodes { email } } }`

	first, cancelFirst := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.raw(first, t, token, query, nil, nil)
	}()
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return held == 1 }, 10*time.Second, time.Millisecond)
	second := make(chan []byte, 1)
	go func() {
		_, body := g.raw(context.Background(), t, token, query, nil, nil)
		second <- body
	}()
	require.Eventually(t, func() bool { return metric(t, g, "shared_waiters") == 1 }, 10*time.Second, 5*time.Millisecond)
	cancelFirst()
	<-done
	close(gate)
	body := <-second
	require.Contains(t, string(body), demo.DemoUser.Email)
	require.NotContains(t, string(body), "errors")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, held, "one execution for both clients")
}

// metric reads one unlabelled value from the router's /metrics.
func metric(t *testing.T, g *graph, name string) float64 {
	t.Helper()
	resp, err := http.Get(g.p.RouterURL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + `(?:\{[^}]*\})? (\S+)$`).FindSubmatch(raw)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// active_connections counts open client connections.
func TestActiveConnectionsAreCounted(t *testing.T) {
	g := startWith(t, nil)
	addr := strings.TrimPrefix(g.p.RouterURL, "http://")
	var conns []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	require.Eventually(t, func() bool { return metric(t, g, "active_connections") >= 20 }, 10*time.Second, 10*time.Millisecond)
	for _, c := range conns {
		c.Close()
	}
	require.Eventually(t, func() bool { return metric(t, g, "active_connections") <= 1 }, 10*time.Second, 10*time.Millisecond)
}

// The subgraphs refuse bodies over their limit themselves.
func TestSubgraphRefusesLargeBodies(t *testing.T) {
	g := startWith(t, nil)
	big := `{"query":"{ __typename }","variables":{"x":"` + strings.Repeat("a", 5<<20) + `"}}`
	resp, err := http.Post(g.p.ComplianceURL+"/graphql", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(raw))
	require.Contains(t, string(raw), "PAYLOAD_TOO_LARGE")
}
