// Package flight shares one call among identical callers in flight, like
// golang.org/x/sync/singleflight, except that a caller who goes away does not
// cancel the call for the others: the call runs on a context detached from
// its first caller (context.WithoutCancel, keeping its values and deadline)
// and is cancelled only when the last caller waiting for it has gone.
package flight

import (
	"context"
	"sync"
)

// Group shares calls by key. The zero value is ready to use.
type Group[V any] struct {
	mu    sync.Mutex
	calls map[string]*call[V]
}

type call[V any] struct {
	key    string
	done   chan struct{}
	cancel context.CancelFunc
	waiter int // callers waiting, guarded by Group.mu
	val    V
	err    error
}

// Do runs fn once for all callers of the same key in flight and gives each of
// them its result; shared is true for a caller that joined a call another
// started. fn's context keeps the first caller's values and deadline but not
// its cancellation: it ends when fn returns or when every caller has left
// early (each one's ctx done; such a caller gets ctx.Err()).
func (g *Group[V]) Do(ctx context.Context, key string, fn func(context.Context) (V, error)) (v V, shared bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*call[V]{}
	}
	c, shared := g.calls[key]
	if !shared {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		if d, ok := ctx.Deadline(); ok {
			var cancelDeadline context.CancelFunc
			cctx, cancelDeadline = context.WithDeadline(cctx, d)
			cancelParent := cancel
			cancel = func() { cancelDeadline(); cancelParent() }
		}
		c = &call[V]{key: key, done: make(chan struct{}), cancel: cancel}
		g.calls[key] = c
		go g.run(cctx, c, fn)
	}
	c.waiter++
	g.mu.Unlock()

	select {
	case <-c.done:
		g.leave(c)
		return c.val, shared, c.err
	case <-ctx.Done():
		g.leave(c)
		var zero V
		return zero, shared, ctx.Err()
	}
}

// Waiters returns how many callers wait for the call of key in flight.
func (g *Group[V]) Waiters(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiter
	}
	return 0
}

// Joined returns how many callers wait, over all calls in flight, besides
// one per call: the callers spared a call of their own.
func (g *Group[V]) Joined() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.calls {
		n += max(c.waiter-1, 0)
	}
	return n
}

func (g *Group[V]) run(ctx context.Context, c *call[V], fn func(context.Context) (V, error)) {
	defer c.cancel()
	c.val, c.err = fn(ctx)
	g.mu.Lock()
	if g.calls[c.key] == c {
		delete(g.calls, c.key)
	}
	g.mu.Unlock()
	close(c.done)
}

// leave counts one caller out; the last one out of an unfinished call
// cancels it (later callers start a fresh call).
func (g *Group[V]) leave(c *call[V]) {
	g.mu.Lock()
	c.waiter--
	abandon := false
	if c.waiter == 0 {
		select {
		case <-c.done:
		default:
			abandon = true
			if g.calls[c.key] == c {
				delete(g.calls, c.key)
			}
		}
	}
	g.mu.Unlock()
	if abandon {
		c.cancel()
	}
}
