package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"
)

var (
	errIdle        = errors.New("no data from the server within the idle timeout")
	errCallTimeout = errors.New("the call timed out")
)

// remote is what the OpenAI and Gemini providers share: sending a JSON
// request with retries, timeouts, classified errors.
type remote struct {
	name string
	o    options
	// auth sets the credentials on a request.
	auth func(h http.Header)
	// parseError reads a provider's error body into an APIError (Kind
	// already set from the status; it may change it).
	parseError func(e *APIError, body []byte)
}

// call bounds a whole call by the configured timeout.
func (r *remote) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, r.o.timeout, errCallTimeout)
}

// result wraps a call's error for the caller: "openai chat: …". A context
// error caused by the call's own timeout (not the caller's) becomes
// ErrUnavailable.
func (r *remote) result(ctx, cctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *APIError
	if ctx.Err() == nil && !errors.As(err, &ae) && errors.Is(context.Cause(cctx), errCallTimeout) {
		err = &APIError{Provider: r.name, Kind: ErrUnavailable, Message: fmt.Sprintf("no answer within %s", r.o.timeout), Err: err}
	}
	return fmt.Errorf("%s %s: %w", r.name, op, err)
}

// attempt is one request whose 2xx response is being read. Body is guarded
// by the idle timeout.
type attempt struct {
	r      *remote
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	resp   *http.Response
	Body   io.Reader
}

// send POSTs body to url and returns the 2xx response, or an error: an
// *APIError (classified, with RetryAfter) or the context's error.
func (r *remote) send(ctx context.Context, url string, body []byte) (*attempt, error) {
	actx, cancel := context.WithCancelCause(ctx)
	idle := r.o.idleTimeout
	timer := time.AfterFunc(idle, func() { cancel(errIdle) })
	req, err := http.NewRequestWithContext(actx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		timer.Stop()
		cancel(nil)
		return nil, &APIError{Provider: r.name, Kind: ErrBadRequest, Message: "cannot build request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	r.auth(req.Header)
	resp, err := r.o.http.Do(req)
	if err != nil {
		timer.Stop()
		defer cancel(nil)
		return nil, r.transportError(ctx, actx, err)
	}
	a := &attempt{r: r, ctx: actx, cancel: cancel, timer: timer, resp: resp}
	a.Body = &idleReader{r: resp.Body, a: a}
	timer.Reset(idle)
	if resp.StatusCode/100 != 2 {
		defer a.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := &APIError{Provider: r.name, Kind: kindForStatus(resp.StatusCode), StatusCode: resp.StatusCode,
			RetryAfter: retryAfter(resp.Header, time.Now())}
		r.parseError(e, raw)
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		return nil, e
	}
	return a, nil
}

// Close releases the attempt.
func (a *attempt) Close() {
	a.timer.Stop()
	a.cancel(nil)
	a.resp.Body.Close()
}

// fail turns an error met while reading the body into an *APIError
// (stalled, cut, malformed) or the context's error.
func (a *attempt) fail(parent context.Context, err error) error {
	return a.r.transportError(parent, a.ctx, err)
}

func (r *remote) transportError(parent, actx context.Context, err error) error {
	if parent.Err() != nil {
		if errors.Is(context.Cause(parent), errCallTimeout) {
			return &APIError{Provider: r.name, Kind: ErrUnavailable, Message: fmt.Sprintf("no answer within %s", r.o.timeout), Err: parent.Err()}
		}
		return parent.Err()
	}
	if errors.Is(context.Cause(actx), errIdle) {
		return &APIError{Provider: r.name, Kind: ErrUnavailable, Message: fmt.Sprintf("no data for %s", r.o.idleTimeout)}
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	return &APIError{Provider: r.name, Kind: ErrUnavailable, Message: "connection failed", Err: err}
}

// idleReader restarts the idle timer whenever data arrives.
type idleReader struct {
	r io.Reader
	a *attempt
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.a.timer.Reset(ir.a.r.o.idleTimeout)
	}
	return n, err
}

// postJSON sends body, reads the whole 2xx response into out, retrying
// retryable failures (the request is idempotent: nothing was delivered).
func (r *remote) postJSON(ctx context.Context, url string, body any, out any, maxBytes int64) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return &APIError{Provider: r.name, Kind: ErrBadRequest, Message: "cannot encode request", Err: err}
	}
	return r.o.retry.do(ctx, func(ctx context.Context) (bool, error) {
		a, err := r.send(ctx, url, raw)
		if err != nil {
			return false, err
		}
		defer a.Close()
		data, err := io.ReadAll(io.LimitReader(a.Body, maxBytes+1))
		if err != nil {
			return false, a.fail(ctx, err)
		}
		if int64(len(data)) > maxBytes {
			return true, &APIError{Provider: r.name, Kind: ErrUnavailable, Message: fmt.Sprintf("response over %d bytes", maxBytes)}
		}
		if err := json.Unmarshal(data, out); err != nil {
			return false, &APIError{Provider: r.name, Kind: ErrUnavailable, Message: "malformed response", Err: err}
		}
		return false, nil
	})
}

// normalize scales v to unit length in place (a zero vector stays zero).
func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}
