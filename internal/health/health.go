// Package health serves a service's liveness (/health) and readiness (/ready)
// endpoints. Readiness runs every dependency check concurrently, each bounded
// by a timeout, and answers 503 when any of them fails.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"
)

// DefaultTimeout bounds a check whose Timeout is zero.
const DefaultTimeout = 2 * time.Second

// Check is one readiness dependency, e.g. {Name: "postgres", Fn: pool.Ping}.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
	// Timeout bounds Fn (DefaultTimeout when zero). Fn gets a context with
	// this deadline; a check that ignores its context is reported as failed
	// when the deadline passes (its goroutine finishes in the background).
	Timeout time.Duration
}

// Status values.
const (
	StatusOK   = "ok"
	StatusFail = "fail"
)

// Result is one check's outcome.
type Result struct {
	Status     string  `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
}

// Report is the body of /ready.
type Report struct {
	Status string            `json:"status"`
	Checks map[string]Result `json:"checks"`
}

// OK reports whether every check passed.
func (r Report) OK() bool { return r.Status == StatusOK }

// Health holds a service's readiness checks.
type Health struct {
	checks []Check
}

// New returns Health with the given readiness checks.
func New(checks ...Check) *Health {
	return &Health{checks: append([]Check(nil), checks...)}
}

// Names returns the check names, sorted.
func (h *Health) Names() []string {
	out := make([]string, 0, len(h.checks))
	for _, c := range h.checks {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

// Check runs every check concurrently and returns the report.
func (h *Health) Check(ctx context.Context) Report {
	rep := Report{Status: StatusOK, Checks: make(map[string]Result, len(h.checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range h.checks {
		wg.Go(func() {
			res := run(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			rep.Checks[c.Name] = res
			if res.Status != StatusOK {
				rep.Status = StatusFail
			}
		})
	}
	wg.Wait()
	return rep
}

func run(ctx context.Context, c Check) Result {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		if c.Fn == nil {
			done <- errors.New("no check function")
			return
		}
		done <- c.Fn(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("timed out after %s: %w", timeout, ctx.Err())
	}
	res := Result{Status: StatusOK, DurationMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		res.Status, res.Error = StatusFail, err.Error()
	}
	return res
}

// Live serves liveness: 200 {"status":"ok"} whenever the process can answer.
func (h *Health) Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": StatusOK})
	})
}

// Ready serves readiness: 200 with the report when every check passes, 503
// otherwise.
func (h *Health) Ready() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := h.Check(r.Context())
		code := http.StatusOK
		if !rep.OK() {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, rep)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
