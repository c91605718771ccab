package router

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/studio-platform/studio/router/gateway"
	"github.com/studio-platform/studio/router/supergraph"
	"github.com/studio-platform/studio/router/transport"
)

// state is one supergraph being served: its gateway (plan and document
// caches) and its subgraph transport (breakers, bulkheads). A request keeps
// the state it started with until it ends.
type state struct {
	gw   *gateway.Gateway
	tc   *transport.Client
	hash [sha256.Size]byte
}

// Do runs one request on the current supergraph (server.Executor).
func (r *Router) Do(ctx context.Context, req gateway.Request) *gateway.Response {
	return r.cur.Load().gw.Do(ctx, req)
}

// IsSubscription reports whether req is a subscription (subscribe.Source).
func (r *Router) IsSubscription(ctx context.Context, req gateway.Request) bool {
	return r.cur.Load().gw.IsSubscription(ctx, req)
}

// Subscribe prepares a subscription on the current supergraph
// (subscribe.Source); it keeps that supergraph until it ends.
func (r *Router) Subscribe(ctx context.Context, req gateway.Request) (*gateway.Subscription, *gateway.Response) {
	return r.cur.Load().gw.Subscribe(ctx, req)
}

// SubgraphURL is a subgraph's routing URL on the current supergraph
// (subscribe.Source).
func (r *Router) SubgraphURL(name string) string { return r.cur.Load().tc.URL(name) }

// ErrNoFile is returned by Reload for a router built from SupergraphSDL.
var ErrNoFile = errors.New("router: no supergraph file to reload")

// Reload reads the supergraph file again and, when it changed and is a valid
// supergraph, serves it: the gateway, its caches and the subgraph transport
// are swapped at once, requests in flight finish on the old ones. A file
// that does not parse is refused (logged, counted in
// supergraph_reloads_total{outcome="error"}) and the old supergraph kept.
// It reports whether a new supergraph is served.
func (r *Router) Reload(ctx context.Context) (bool, error) {
	if r.file == "" {
		return false, ErrNoFile
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := os.ReadFile(r.file)
	if err == nil && len(b) == 0 {
		err = errors.New("the file is empty")
	}
	var sg *supergraph.Supergraph
	if err == nil {
		if sum := sha256.Sum256(b); sum == r.cur.Load().hash {
			return false, nil
		}
		sg, err = supergraph.Parse(string(b))
	}
	if err != nil {
		r.reloads.WithLabelValues("error").Inc()
		r.log.ErrorContext(ctx, "supergraph reload refused: the old supergraph is kept", "file", r.file, "error", err)
		return false, fmt.Errorf("router: reload %s: %w", r.file, err)
	}
	st := r.build(sg)
	st.hash = sha256.Sum256(b)
	old := r.cur.Swap(st)
	r.reloads.WithLabelValues("ok").Inc()
	r.log.InfoContext(ctx, "supergraph reloaded", "file", r.file, "subgraphs", len(sg.Graphs))
	// Requests in flight on the old transport finish; its idle connections go.
	old.tc.CloseIdleConnections()
	return true, nil
}

// ReloadOn reloads the supergraph whenever one of sigs arrives (SIGHUP)
// until ctx ends.
func (r *Router) ReloadOn(ctx context.Context, sigs ...os.Signal) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			_, _ = r.Reload(ctx) // logged and counted there
		}
	}
}

// Watch reloads the supergraph whenever its file changes (its modification
// time or size, checked every interval; the content hash decides) until ctx
// ends. Polling works wherever the file comes from (an editor's rename, a
// Kubernetes ConfigMap's symlink swap), with no watcher to leak.
func (r *Router) Watch(ctx context.Context, interval time.Duration) {
	if r.file == "" {
		return
	}
	stamp := func() (time.Time, int64) {
		fi, err := os.Stat(r.file)
		if err != nil {
			return time.Time{}, -1
		}
		return fi.ModTime(), fi.Size()
	}
	// The first check reloads if the file changed since it was served (the
	// content hash decides).
	mod, size := time.Time{}, int64(-2)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, s := stamp()
		if m.Equal(mod) && s == size {
			continue
		}
		mod, size = m, s
		_, _ = r.Reload(ctx) // logged and counted there
	}
}
