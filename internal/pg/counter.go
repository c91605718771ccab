package pg

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// QueryCounter is a pgx.QueryTracer that counts the queries run through the
// connections it traces (and remembers their SQL, for test failure messages).
// It is safe for concurrent use; the zero value is ready.
type QueryCounter struct {
	n  atomic.Int64
	mu sync.Mutex
	qs []string
}

var _ pgx.QueryTracer = (*QueryCounter)(nil)

// TraceQueryStart implements pgx.QueryTracer.
func (c *QueryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	c.mu.Lock()
	c.qs = append(c.qs, data.SQL)
	c.mu.Unlock()
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (c *QueryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Count returns the number of queries since creation or the last Reset.
func (c *QueryCounter) Count() int64 { return c.n.Load() }

// Queries returns the SQL of the counted queries, oldest first.
func (c *QueryCounter) Queries() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.qs...)
}

// Reset sets the count to zero and forgets the recorded queries.
func (c *QueryCounter) Reset() {
	c.mu.Lock()
	c.n.Store(0)
	c.qs = nil
	c.mu.Unlock()
}
