package gateway

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// cache is a least-recently-used cache bounded by entries and by the
// estimated bytes of its values: a flood of distinct junk operations evicts
// the oldest entries one by one instead of flushing what regular clients use.
type cache[V any] struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, entry[V]]
	bytes    int64
	maxBytes int64
}

type entry[V any] struct {
	v    V
	size int64
}

// newCache returns a cache of at most max entries and maxBytes estimated bytes
// (no byte bound when maxBytes is not positive).
func newCache[V any](max int, maxBytes int64) *cache[V] {
	if max <= 0 {
		max = 1
	}
	c := &cache[V]{maxBytes: maxBytes}
	c.lru, _ = simplelru.NewLRU(max, func(_ string, e entry[V]) { c.bytes -= e.size })
	return c
}

func (c *cache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	e, ok := c.lru.Get(k)
	c.mu.Unlock()
	return e.v, ok
}

// put adds a value with its estimated size in bytes; a value larger than the
// whole byte bound is not kept.
func (c *cache[V]) put(k string, v V, size int64) {
	if c.maxBytes > 0 && size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(k); ok {
		c.bytes -= old.size
	}
	c.lru.Add(k, entry[V]{v: v, size: size})
	c.bytes += size
	for c.maxBytes > 0 && c.bytes > c.maxBytes {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

func (c *cache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
