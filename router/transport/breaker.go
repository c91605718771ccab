package transport

import (
	"sync"
	"sync/atomic"
	"time"
)

type outcome int

const (
	outcomeNone outcome = iota // says nothing about the subgraph (the caller left)
	outcomeSuccess
	outcomeFailure
)

const (
	stateClosed int32 = iota
	stateOpen
	stateHalfOpen
)

// breaker is a consecutive-failures circuit breaker. Closed, it lets every
// request through and counts failures in a row; at the threshold it opens
// and refuses requests; after the cooldown it lets one probe through
// (half-open), whose success closes it and whose failure opens it again.
// The closed path is two atomic operations.
type breaker struct {
	threshold int32
	cooldown  time.Duration
	changed   func(open bool)

	state    atomic.Int32
	failures atomic.Int32

	mu       sync.Mutex
	openedAt time.Time
	probing  bool
}

func newBreaker(threshold int, cooldown time.Duration, changed func(open bool)) *breaker {
	return &breaker{threshold: int32(threshold), cooldown: cooldown, changed: changed}
}

func (b *breaker) isOpen() bool { return b.state.Load() != stateClosed }

// allow reports whether a request may go.
func (b *breaker) allow() bool {
	if b.state.Load() == stateClosed {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Load() {
	case stateClosed:
		return true
	case stateOpen:
		if time.Since(b.openedAt) < b.cooldown {
			return false
		}
		b.state.Store(stateHalfOpen)
		b.probing = true
		return true
	default: // half-open: one probe at a time
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
}

// record tells the outcome of a request allow let through.
func (b *breaker) record(o outcome) {
	if b.state.Load() == stateClosed {
		switch o {
		case outcomeSuccess:
			if b.failures.Load() != 0 {
				b.failures.Store(0)
			}
			return
		case outcomeNone:
			return
		}
		if b.failures.Add(1) < b.threshold {
			return
		}
	}
	b.mu.Lock()
	var changed, open bool
	switch b.state.Load() {
	case stateClosed:
		if o == outcomeFailure && b.failures.Load() >= b.threshold {
			b.state.Store(stateOpen)
			b.openedAt = time.Now()
			changed, open = true, true
		}
	case stateHalfOpen:
		switch o {
		case outcomeSuccess:
			b.state.Store(stateClosed)
			b.failures.Store(0)
			changed = true
		case outcomeFailure:
			b.state.Store(stateOpen)
			b.openedAt = time.Now()
		}
		b.probing = false
	}
	// Open: a request let through before the breaker opened; its outcome
	// changes nothing.
	b.mu.Unlock()
	if changed && b.changed != nil {
		b.changed(open)
	}
}
