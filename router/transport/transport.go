// Package transport sends the router's requests to its subgraphs over HTTP:
// keep-alive connections (or HTTP/2 without TLS), a timeout per subgraph, one
// resend of a query whose reused connection was dropped, deduplication of
// identical queries in flight, and per subgraph a bulkhead (a bound on the
// requests in flight) and a circuit breaker that fails fast while a subgraph
// is down. It knows nothing of GraphQL beyond the request body it is given
// and the status and body it hands back; router/execute builds the one and
// reads the other.
package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/studio-platform/studio/router/flight"
)

// Error codes (extensions.code) of failed subgraph requests.
const (
	// CodeHTTPError: the request failed or the response was unusable.
	CodeHTTPError = "SUBREQUEST_HTTP_ERROR"
	// CodeTimeout: the subgraph did not answer within its timeout (or the request's deadline).
	CodeTimeout = "SUBGRAPH_TIMEOUT"
	// CodeUnavailable: not sent: the subgraph's circuit breaker is open or its bulkhead is full.
	CodeUnavailable = "SUBGRAPH_UNAVAILABLE"
)

var (
	// ErrSubgraph classifies every failed subgraph request.
	ErrSubgraph = errors.New("subgraph request failed")
	// ErrTimeout classifies a subgraph request that timed out (also ErrSubgraph).
	ErrTimeout = fmt.Errorf("%w: timed out", ErrSubgraph)
	// ErrUnavailable classifies a request not sent because the subgraph's
	// breaker is open or its bulkhead full (also ErrSubgraph).
	ErrUnavailable = fmt.Errorf("%w: subgraph unavailable", ErrSubgraph)
)

// Defaults.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 64 << 20
	DefaultQueueTimeout     = 100 * time.Millisecond
	DefaultBreakerFailures  = 5
	DefaultBreakerCooldown  = 5 * time.Second
)

// Observer is told about every subgraph call (for metrics): its duration and
// its error (nil when a response came back, whatever its status).
type Observer func(subgraph string, d time.Duration, err error)

// StateObserver is told when a subgraph's breaker opens (true) or closes (false).
type StateObserver func(subgraph string, open bool)

// Request is one subgraph request.
type Request struct {
	// Subgraph names the subgraph (its name in the supergraph).
	Subgraph string
	// Body is the JSON request body.
	Body []byte
	// Header holds the headers to forward (Content-Type and Accept are set here).
	Header http.Header
	// Mutation requests are never resent nor deduplicated.
	Mutation bool
	// Upload, when set, sends the request as a GraphQL multipart request
	// (Body is its operations field) whose files are streamed as they are
	// written: never resent nor deduplicated, and bounded by the caller's
	// context rather than the subgraph timeout (a large file takes long).
	Upload *Upload
}

// Upload is the rest of a GraphQL multipart request: the map field and the
// file parts.
type Upload struct {
	// Map is the map field (JSON: file names to lists of paths).
	Map []byte
	// WriteFiles writes the file parts, in the map's order, as the request
	// body is sent; its error aborts the request (and is returned by Do).
	WriteFiles func(mw *multipart.Writer) error
}

// Client sends subgraph requests. It is safe for concurrent use.
type Client struct {
	http         *http.Client
	own          bool
	subgraphs    map[string]*subgraph
	timeout      time.Duration
	timeouts     map[string]time.Duration
	maxBody      int64
	maxInFlight  int
	queueTimeout time.Duration
	failures     int
	cooldown     time.Duration
	dedup        bool
	h2c          bool
	flight       flight.Group[sharedResponse]
	observe      Observer
	observeState StateObserver
	tracer       trace.Tracer // nil: not traced
	urls         map[string]string
}

type subgraph struct {
	name    string
	url     string
	timeout time.Duration
	slots   chan struct{} // nil: no bound
	breaker *breaker      // nil: no breaker
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one of its own on NewHTTPTransport).
func WithHTTPClient(c *http.Client) Option { return func(t *Client) { t.http = c } }

// WithURL overrides the routing URL of one subgraph.
func WithURL(subgraph, url string) Option { return func(t *Client) { t.urls[subgraph] = url } }

// WithTimeout bounds each subgraph request (DefaultTimeout; 0 for none).
func WithTimeout(d time.Duration) Option { return func(t *Client) { t.timeout = d } }

// WithSubgraphTimeout bounds the requests to one subgraph, instead of WithTimeout's.
func WithSubgraphTimeout(subgraph string, d time.Duration) Option {
	return func(t *Client) { t.timeouts[subgraph] = d }
}

// WithMaxResponseBytes limits the size of one subgraph response (DefaultMaxResponseBytes).
func WithMaxResponseBytes(n int64) Option { return func(t *Client) { t.maxBody = n } }

// WithMaxInFlight bounds the requests in flight to each subgraph (a
// bulkhead; 0, the default, for no bound). A request that finds every place
// taken waits up to the queue timeout, then fails with ErrUnavailable, so
// that one stalled subgraph holds at most n of the router's executions.
func WithMaxInFlight(n int) Option { return func(t *Client) { t.maxInFlight = n } }

// WithQueueTimeout bounds the wait for a place in a full bulkhead (DefaultQueueTimeout).
func WithQueueTimeout(d time.Duration) Option { return func(t *Client) { t.queueTimeout = d } }

// WithBreaker sets each subgraph's circuit breaker: after failures
// consecutive failed requests (no response, a timeout, or a 5xx status) it
// opens and requests fail at once with ErrUnavailable; after cooldown one
// request goes through as a probe, and its success closes the breaker again.
// failures 0 switches breakers off. Default DefaultBreakerFailures, DefaultBreakerCooldown.
func WithBreaker(failures int, cooldown time.Duration) Option {
	return func(t *Client) { t.failures, t.cooldown = failures, cooldown }
}

// WithDeduplication makes identical subgraph query requests in flight (same
// subgraph, body and forwarded headers) share one request. Off by default.
// The shared request is cancelled only when every caller has gone.
func WithDeduplication(on bool) Option { return func(t *Client) { t.dedup = on } }

// WithCleartextHTTP2 speaks HTTP/2 without TLS (h2c, prior knowledge) to
// subgraphs at http:// URLs; every such subgraph must accept it. Subgraphs at
// https:// URLs get HTTP/2 whenever they offer it, with or without this
// option. It applies to the client's own transport (not to one set with
// WithHTTPClient).
func WithCleartextHTTP2(on bool) Option { return func(t *Client) { t.h2c = on } }

// WithObserver sets a callback run after every subgraph call.
func WithObserver(o Observer) Option { return func(t *Client) { t.observe = o } }

// WithStateObserver sets a callback run when a breaker opens or closes.
func WithStateObserver(o StateObserver) Option { return func(t *Client) { t.observeState = o } }

// NewHTTPTransport returns the keep-alive transport used for subgraphs by default.
func NewHTTPTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.ForceAttemptHTTP2 = true
	return t
}

// New returns a Client for the subgraphs named in urls (name to routing URL).
func New(urls map[string]string, opts ...Option) *Client {
	t := &Client{
		http:         &http.Client{Transport: NewHTTPTransport()},
		own:          true,
		subgraphs:    map[string]*subgraph{},
		timeout:      DefaultTimeout,
		timeouts:     map[string]time.Duration{},
		maxBody:      DefaultMaxResponseBytes,
		queueTimeout: DefaultQueueTimeout,
		failures:     DefaultBreakerFailures,
		cooldown:     DefaultBreakerCooldown,
		urls:         map[string]string{},
	}
	own := t.http
	for _, o := range opts {
		o(t)
	}
	t.own = t.http == own
	if t.h2c && t.own {
		var p http.Protocols
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		t.http.Transport.(*http.Transport).Protocols = &p
	}
	for name, url := range urls {
		if _, ok := t.urls[name]; !ok {
			t.urls[name] = url
		}
	}
	for name, url := range t.urls {
		sg := &subgraph{name: name, url: url, timeout: t.timeout}
		if d, ok := t.timeouts[name]; ok {
			sg.timeout = d
		}
		if t.maxInFlight > 0 {
			sg.slots = make(chan struct{}, t.maxInFlight)
		}
		if t.failures > 0 {
			sg.breaker = newBreaker(t.failures, t.cooldown, func(open bool) {
				if t.observeState != nil {
					t.observeState(name, open)
				}
			})
		}
		t.subgraphs[name] = sg
	}
	return t
}

// HTTPClient returns the HTTP client the requests go through.
func (t *Client) HTTPClient() *http.Client { return t.http }

// URL returns the routing URL of a subgraph ("" when unknown).
func (t *Client) URL(subgraph string) string { return t.urls[subgraph] }

// Open reports whether a subgraph's breaker is open (its requests fail fast).
func (t *Client) Open(subgraph string) bool {
	sg := t.subgraphs[subgraph]
	return sg != nil && sg.breaker != nil && sg.breaker.isOpen()
}

// SharedWaiters returns how many callers wait for a deduplicated request
// another caller started.
func (t *Client) SharedWaiters() int { return t.flight.Joined() }

// CloseIdleConnections closes the idle connections of the client's own
// transport (a client set with WithHTTPClient is left alone).
func (t *Client) CloseIdleConnections() {
	if t.own {
		t.http.CloseIdleConnections()
	}
}

// Do sends one request and reads the whole response body into out; it
// returns the HTTP status. Errors wrap ErrSubgraph (ErrTimeout,
// ErrUnavailable); Code and Describe classify them for clients.
func (t *Client) Do(ctx context.Context, req *Request, out *bytes.Buffer) (status int, err error) {
	sg := t.subgraphs[req.Subgraph]
	if sg == nil || sg.url == "" {
		return 0, Failf("no URL for subgraph %q", req.Subgraph)
	}
	if sg.breaker != nil && !sg.breaker.allow() {
		err = unavailable("circuit breaker open after repeated failures")
		if t.observe != nil {
			t.observe(sg.name, 0, err)
		}
		return 0, err
	}
	start := time.Now()
	if t.tracer != nil {
		var span trace.Span
		var hdr http.Header
		ctx, span, hdr = t.startFetch(ctx, sg, req.Header)
		traced := *req
		traced.Header = hdr
		req = &traced
		defer func() { endFetch(span, status, err) }()
	}
	if t.dedup && !req.Mutation && req.Upload == nil {
		status, err = t.shared(ctx, sg, req, out)
	} else {
		status, err = t.call(ctx, sg, req, out)
	}
	if t.observe != nil {
		t.observe(sg.name, time.Since(start), err)
	}
	return status, err
}

// call sends the request through the bulkhead and records its outcome in the breaker.
func (t *Client) call(ctx context.Context, sg *subgraph, req *Request, out *bytes.Buffer) (int, error) {
	if sg.slots != nil {
		if err := t.acquire(ctx, sg); err != nil {
			if sg.breaker != nil {
				sg.breaker.record(outcomeNone)
			}
			return 0, err
		}
		defer func() { <-sg.slots }()
	}
	if sg.timeout > 0 && req.Upload == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, sg.timeout)
		defer cancel()
	}
	status, err := t.post(ctx, sg.url, req, out)
	if err != nil && !req.Mutation && req.Upload == nil && retryable(err) {
		// A keep-alive connection the subgraph closed meanwhile: queries are safe to resend.
		status, err = t.post(ctx, sg.url, req, out)
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	if sg.breaker != nil {
		switch {
		case err == nil && status < 500:
			sg.breaker.record(outcomeSuccess)
		case errors.Is(err, context.Canceled):
			sg.breaker.record(outcomeNone) // the caller left: says nothing of the subgraph
		default:
			sg.breaker.record(outcomeFailure)
		}
	}
	return status, err
}

// acquire takes a place in the subgraph's bulkhead, waiting at most the queue timeout.
func (t *Client) acquire(ctx context.Context, sg *subgraph) error {
	select {
	case sg.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(t.queueTimeout)
	defer timer.Stop()
	select {
	case sg.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return unavailable("%d requests in flight already", cap(sg.slots))
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrSubgraph, ctx.Err())
	}
}

type sharedResponse struct {
	body   []byte
	status int
}

// shared sends the request once for all identical requests in flight.
func (t *Client) shared(ctx context.Context, sg *subgraph, req *Request, out *bytes.Buffer) (int, error) {
	var key bytes.Buffer
	key.WriteString(sg.name)
	for _, name := range sortedKeys(req.Header) {
		if perRequest[name] {
			continue
		}
		key.WriteString("\x00" + name + "\x00" + strings.Join(req.Header[name], "\x00"))
	}
	key.WriteByte(0)
	key.Write(req.Body)
	shared := *req // the call may outlive this caller: req must not escape
	r, _, err := t.flight.Do(ctx, key.String(), func(ctx context.Context) (sharedResponse, error) {
		var buf bytes.Buffer
		status, err := t.call(ctx, sg, &shared, &buf)
		return sharedResponse{body: buf.Bytes(), status: status}, err
	})
	if err != nil {
		if !errors.Is(err, ErrSubgraph) {
			err = fmt.Errorf("%w: %w", ErrSubgraph, err) // this caller's context ended
		}
		return 0, err
	}
	out.Reset()
	out.Write(r.body)
	return r.status, nil
}

// perRequest are forwarded headers that differ for every request without
// changing its result: not part of a deduplication key (the shared request
// carries the first caller's).
var perRequest = map[string]bool{"X-Request-Id": true, "Traceparent": true, "Tracestate": true}

// PerRequestHeader reports whether a header differs for every request without
// changing its result (request id, trace context).
func PerRequestHeader(name string) bool { return perRequest[http.CanonicalHeaderKey(name)] }

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// post sends one request and reads the whole response body into out.
func (t *Client) post(ctx context.Context, url string, req *Request, out *bytes.Buffer) (int, error) {
	out.Reset()
	var body io.Reader = bytes.NewReader(req.Body)
	contentType := contentTypeJSON
	var streamed <-chan error
	if req.Upload != nil {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		contentType = []string{mw.FormDataContentType()}
		done := make(chan error, 1)
		go func() {
			err := writeMultipart(mw, req)
			pw.CloseWithError(err)
			done <- err
		}()
		defer pr.Close() // the writer stops if the subgraph answered early
		body, streamed = pr, done
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSubgraph, err)
	}
	h := make(http.Header, len(req.Header)+2)
	for k, vs := range req.Header {
		h[k] = vs
	}
	// Shared, never-modified values: no allocation per request.
	h["Content-Type"] = contentType
	h["Accept"] = acceptGraphQL
	hreq.Header = h
	hresp, err := t.http.Do(hreq)
	if streamed != nil {
		// Wait for the writer (it reads the caller's body and buffers): its
		// failure, if any, is the cause of the request's.
		if hresp != nil {
			defer func() { _ = hresp.Body.Close() }()
		}
		if werr := waitWriter(body.(*io.PipeReader), streamed, err == nil); werr != nil {
			return 0, fmt.Errorf("%w: %w", ErrSubgraph, werr)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSubgraph, err)
	}
	defer hresp.Body.Close()
	if _, err := out.ReadFrom(io.LimitReader(hresp.Body, t.maxBody+1)); err != nil {
		return 0, fmt.Errorf("%w: read response: %w", ErrSubgraph, err)
	}
	if int64(out.Len()) > t.maxBody {
		return 0, Failf("response larger than %d bytes", t.maxBody)
	}
	return hresp.StatusCode, nil
}

// writeMultipart writes a GraphQL multipart request: operations, map, files.
func writeMultipart(mw *multipart.Writer, req *Request) error {
	for _, f := range []struct {
		name  string
		value []byte
	}{{"operations", req.Body}, {"map", req.Upload.Map}} {
		w, err := mw.CreateFormField(f.name)
		if err != nil {
			return err
		}
		if _, err := w.Write(f.value); err != nil {
			return err
		}
	}
	if err := req.Upload.WriteFiles(mw); err != nil {
		return err
	}
	return mw.Close()
}

// waitWriter waits for a multipart writer to end. When the subgraph answered
// (answered), the writer is let finish: the subgraph read the whole body, or
// answered early and the pipe is closed to stop it. Only the writer's own
// failures are returned (not the closed pipe's).
func waitWriter(pr *io.PipeReader, done <-chan error, answered bool) error {
	var err error
	select {
	case err = <-done:
	default:
		pr.CloseWithError(errAnswered)
		err = <-done
	}
	if errors.Is(err, errAnswered) || (answered && errors.Is(err, io.ErrClosedPipe)) {
		return nil
	}
	return err
}

var errAnswered = errors.New("the subgraph answered before the upload was sent")

var (
	contentTypeJSON = []string{"application/json"}
	acceptGraphQL   = []string{"application/graphql-response+json, application/json"}
)

// retryable reports a failure of a reused connection before any response.
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// Code is the extensions.code of a failed subgraph request.
func Code(err error) string {
	switch {
	case errors.Is(err, ErrUnavailable):
		return CodeUnavailable
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	default:
		return CodeHTTPError
	}
}

// Describe says what went wrong with a subgraph request without leaking
// addresses or internals to the client.
func Describe(err error) string {
	var opErr *net.OpError
	var fail *failure
	switch {
	case errors.As(err, &fail):
		return fail.msg
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded (timed out)"
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "could not connect"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed before a response"
	default:
		return "network error"
	}
}

// failure is a subgraph failure whose message is safe to show to clients.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, &failure{msg: "subgraph unavailable: " + fmt.Sprintf(format, args...)})
}

// Failf returns an ErrSubgraph whose message is safe to show to clients.
func Failf(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrSubgraph, &failure{msg: fmt.Sprintf(format, args...)})
}
