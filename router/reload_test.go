package router_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/router"
)

// accounts answers { me { name } } with a fixed name, after gate (if any) opens.
func accounts(t *testing.T, name string, gate chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{"me":{"name":"`+name+`"}}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeSupergraph(t *testing.T, file, accountsURL string) {
	sdl, err := os.ReadFile("plan/testdata/basic/supergraph.graphql")
	require.NoError(t, err)
	out := strings.Replace(string(sdl), "http://accounts.invalid/graphql", accountsURL, 1)
	tmp := file + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(out), 0o644))
	require.NoError(t, os.Rename(tmp, file)) // as editors and deploy tools do
}

func me(t *testing.T, url string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", strings.NewReader(`{"query":"{ me { name } }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A reload swaps the supergraph without dropping the requests in flight; a
// bad file is refused and the old supergraph kept.
func TestReloadKeepsRequestsInFlightAndRefusesBadFiles(t *testing.T) {
	gate := make(chan struct{})
	file := filepath.Join(t.TempDir(), "supergraph.graphql")
	writeSupergraph(t, file, accounts(t, "Ada", gate))
	r, err := router.New(context.Background(), router.Config{SupergraphFile: file})
	require.NoError(t, err)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	inFlight := make(chan string, 1)
	go func() {
		_, body := me(t, srv.URL)
		inFlight <- body
	}()
	require.Eventually(t, func() bool { return metric(t, srv.URL, "http_requests_in_flight") >= 1 }, 5*time.Second, time.Millisecond)

	writeSupergraph(t, file, accounts(t, "Grace", nil))
	changed, err := r.Reload(context.Background())
	require.NoError(t, err)
	require.True(t, changed)
	_, body := me(t, srv.URL)
	require.JSONEq(t, `{"data":{"me":{"name":"Grace"}}}`, body)
	close(gate)
	require.JSONEq(t, `{"data":{"me":{"name":"Ada"}}}`, <-inFlight, "the request in flight finished on the old supergraph")

	changed, err = r.Reload(context.Background())
	require.NoError(t, err)
	require.False(t, changed, "same content: nothing to do")

	require.NoError(t, os.WriteFile(file, []byte("type Query { broken"), 0o644))
	changed, err = r.Reload(context.Background())
	require.Error(t, err)
	require.False(t, changed)
	status, body := me(t, srv.URL)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"data":{"me":{"name":"Grace"}}}`, body, "the old supergraph is kept")
	require.Equal(t, 1.0, metric(t, srv.URL, `supergraph_reloads_total{outcome="error"}`))
	require.Equal(t, 1.0, metric(t, srv.URL, `supergraph_reloads_total{outcome="ok"}`))
}

// Watch reloads on a change of the file, ReloadOn on SIGHUP.
func TestReloadOnChangeAndOnSIGHUP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "supergraph.graphql")
	writeSupergraph(t, file, accounts(t, "Ada", nil))
	r, err := router.New(context.Background(), router.Config{SupergraphFile: file})
	require.NoError(t, err)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx, 10*time.Millisecond)

	writeSupergraph(t, file, accounts(t, "Grace", nil))
	require.Eventually(t, func() bool { _, b := me(t, srv.URL); return strings.Contains(b, "Grace") }, 5*time.Second, 10*time.Millisecond)
	cancel()

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go r.ReloadOn(ctx, syscall.SIGHUP)
	writeSupergraph(t, file, accounts(t, "Hopper", nil))
	require.Eventually(t, func() bool {
		_ = syscall.Kill(os.Getpid(), syscall.SIGHUP)
		_, b := me(t, srv.URL)
		return strings.Contains(b, "Hopper")
	}, 5*time.Second, 20*time.Millisecond)
}

// metric reads one value from /metrics (name with its labels, if any).
func metric(t *testing.T, url, series string) float64 {
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if ok && (name == series || strings.HasPrefix(name, series+"{") && !strings.Contains(series, "{")) {
			var v float64
			_, err := fmt.Sscan(value, &v)
			require.NoError(t, err)
			return v
		}
	}
	return -1
}
