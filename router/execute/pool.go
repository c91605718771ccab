package execute

import (
	"bytes"
	"sync/atomic"
)

// freeList is a pool bounded in count and in bytes that, unlike sync.Pool,
// survives garbage collections: a warm tree or buffer keeps its memory, so a
// steady load allocates almost nothing for reading, parsing and writing. What
// idle items hold together stays under the budget: one that would pass it
// (a tree that held a huge response, say) is left to the garbage collector.
type freeList[T any] struct {
	ch     chan pooled[T]
	fresh  func() T
	size   func(T) int
	budget int64
	held   atomic.Int64
}

type pooled[T any] struct {
	v T
	n int64
}

func newFreeList[T any](n int, budget int64, size func(T) int, fresh func() T) *freeList[T] {
	return &freeList[T]{ch: make(chan pooled[T], n), fresh: fresh, size: size, budget: budget}
}

func (l *freeList[T]) get() T {
	select {
	case p := <-l.ch:
		l.held.Add(-p.n)
		return p.v
	default:
		return l.fresh()
	}
}

func (l *freeList[T]) put(v T) {
	n := int64(l.size(v))
	if l.held.Add(n) > l.budget {
		l.held.Add(-n)
		return
	}
	select {
	case l.ch <- pooled[T]{v: v, n: n}:
	default: // full
		l.held.Add(-n)
	}
}

// outBuf holds the memory of a client's JSON between executions.
type outBuf struct{ b []byte }

func newBufferList(n int, budget int64) *freeList[*bytes.Buffer] {
	return newFreeList(n, budget, (*bytes.Buffer).Cap, func() *bytes.Buffer { return new(bytes.Buffer) })
}

// The pools of all executors: subgraph response bodies as read, subgraph
// request bodies, response trees and clients' JSON. Their budgets bound the
// memory an idle router keeps: 112 MiB at most.
var (
	readPool = newBufferList(128, 16<<20)
	bodyPool = newBufferList(128, 16<<20)
	treePool = newFreeList(64, 64<<20, (*tree).size, func() *tree { return new(tree) })
	outPool  = newFreeList(64, 16<<20, func(o *outBuf) int { return cap(o.b) }, func() *outBuf { return new(outBuf) })
)
