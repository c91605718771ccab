package provider

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy says how a failed request is sent again. Only requests that
// failed with ErrRateLimited or ErrUnavailable (429, 408, 5xx, connection
// errors, a stream that broke before its first delta) are retried; a
// completion whose first delta was delivered never is.
type RetryPolicy struct {
	// MaxAttempts is the number of requests sent at most, the first
	// included (default 3; 1 disables retries).
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt; it doubles each
	// attempt, with jitter (a random half of it), up to MaxDelay.
	// Defaults 500 ms and 10 s.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter is the longest server-requested wait (Retry-After,
	// retry-after-ms) that is waited for (default 30 s); a longer one ends
	// the call with ErrRateLimited and the wait in APIError.RetryAfter, for
	// the caller to reschedule.
	MaxRetryAfter time.Duration
	// Wait waits d or until ctx is done (default: a timer). Tests replace
	// it to record the waits.
	Wait func(ctx context.Context, d time.Duration) error
}

// DefaultRetryPolicy is used unless WithRetry says otherwise.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, BaseDelay: 500 * time.Millisecond, MaxDelay: 10 * time.Second, MaxRetryAfter: 30 * time.Second}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.Wait == nil {
		p.Wait = sleep
	}
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff is the wait before attempt n+1 (n ≥ 1) when the server named none.
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay << (n - 1)
	if d > p.MaxDelay || d <= 0 {
		d = p.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// do runs op until it succeeds, fails for good, or MaxAttempts is reached.
// op reports final=true when its error must not be retried whatever it is
// (a delta was already delivered).
func (p RetryPolicy) do(ctx context.Context, op func(ctx context.Context) (final bool, err error)) error {
	for attempt := 1; ; attempt++ {
		final, err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			return err
		}
		ae.Attempts = attempt
		if final || !ae.retryable() || attempt >= p.MaxAttempts {
			return err
		}
		wait := ae.RetryAfter
		if wait > p.MaxRetryAfter {
			return err
		}
		if wait <= 0 {
			wait = p.backoff(attempt)
		}
		if werr := p.Wait(ctx, wait); werr != nil {
			return werr
		}
	}
}

// retryAfter reads the server's requested wait: OpenAI's retry-after-ms,
// then the standard Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
