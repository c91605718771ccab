package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type faultMode int

const (
	modeNone faultMode = iota
	modeError
	modeClose
	modeGarbage
)

// GarbageBody is what a Fault in garbage mode answers (200, application/json).
const GarbageBody = `{"data": {"this is": not json`

// Fault wraps an http.Handler (typically a subgraph) to inject failures. The zero
// state passes requests through. A delay combines with the other faults (wait, then
// fail or pass through); SetError, SetClose and SetGarbage replace each other. All
// methods are safe for concurrent use, also while requests are being served.
type Fault struct {
	next     http.Handler
	requests atomic.Int64

	mu     sync.Mutex
	delay  time.Duration
	mode   faultMode
	status int
}

// NewFault wraps next.
func NewFault(next http.Handler) *Fault { return &Fault{next: next} }

// SetDelay delays every request by d before answering (0 removes the delay). The wait
// ends early when the client goes away.
func (f *Fault) SetDelay(d time.Duration) {
	f.mu.Lock()
	f.delay = d
	f.mu.Unlock()
}

// SetError answers every request with status and a GraphQL-style JSON error body.
func (f *Fault) SetError(status int) {
	f.mu.Lock()
	f.mode, f.status = modeError, status
	f.mu.Unlock()
}

// SetClose closes the connection without answering.
func (f *Fault) SetClose() {
	f.mu.Lock()
	f.mode = modeClose
	f.mu.Unlock()
}

// SetGarbage answers 200 with a body that is not valid JSON (GarbageBody).
func (f *Fault) SetGarbage() {
	f.mu.Lock()
	f.mode = modeGarbage
	f.mu.Unlock()
}

// Reset removes every fault: requests pass through again.
func (f *Fault) Reset() {
	f.mu.Lock()
	f.delay, f.mode, f.status = 0, modeNone, 0
	f.mu.Unlock()
}

// Requests returns how many requests reached the Fault (faulted or not).
func (f *Fault) Requests() int64 { return f.requests.Load() }

// ServeHTTP implements http.Handler.
func (f *Fault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	delay, mode, status := f.delay, f.mode, f.status
	f.mu.Unlock()

	if delay > 0 {
		// Read the body first: only then does the server watch the connection
		// and cancel the request's context when the client goes away.
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch mode {
	case modeError:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"errors":[{"message":"testenv: injected fault: HTTP %d %s"}]}`, status, http.StatusText(status))
	case modeClose:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			// HTTP/2 or a recorder: abort the response instead.
			panic(http.ErrAbortHandler)
		}
		_ = conn.Close()
	case modeGarbage:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(GarbageBody))
	default:
		f.next.ServeHTTP(w, r)
	}
}

// Serve serves h on an ephemeral 127.0.0.1 port and returns its base URL
// ("http://127.0.0.1:<port>"). The server is closed when the test ends (open
// connections are cut first, so a delayed handler cannot block the cleanup).
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}
