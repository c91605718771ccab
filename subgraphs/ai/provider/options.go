package provider

import (
	"net/http"
	"time"
)

// Option configures a provider.
type Option func(*options)

type options struct {
	http        *http.Client
	retry       RetryPolicy
	limits      Limits
	timeout     time.Duration
	idleTimeout time.Duration
}

func buildOptions(opts []Option) options {
	o := options{retry: DefaultRetryPolicy(), limits: DefaultLimits(), timeout: 2 * time.Minute, idleTimeout: time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	o.retry = o.retry.withDefaults()
	o.limits = o.limits.withDefaults()
	if o.http == nil {
		var rt http.RoundTripper = http.DefaultTransport
		if t, ok := rt.(*http.Transport); ok {
			t = t.Clone()
			t.MaxIdleConnsPerHost = 16
			rt = t
		}
		o.http = &http.Client{Transport: rt}
	}
	return o
}

// WithHTTPClient sets the HTTP client of remote providers (default: a
// client of its own with keep-alive connections). Its Timeout should be 0:
// WithTimeout and WithIdleTimeout bound the calls.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.http = c } }

// WithRetry sets the retry policy (zero fields take the defaults).
func WithRetry(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithLimits sets the input bounds (zero fields take the defaults).
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

// WithTimeout bounds one whole call, retries and streaming included
// (default 2 min). Past it the call fails with ErrUnavailable.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithIdleTimeout bounds the silence of a remote provider: waiting for the
// response headers, or between two reads of a streaming body (default
// 1 min). Past it the attempt fails with ErrUnavailable (and is retried if
// no delta was delivered yet).
func WithIdleTimeout(d time.Duration) Option { return func(o *options) { o.idleTimeout = d } }
