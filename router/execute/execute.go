// Package execute runs a query plan against the subgraphs: sibling fetches in
// parallel, all representations of one entity fetch in one deduplicated
// _entities call, results merged into one tree, subgraph errors rewritten to the
// client's paths, and the response written in the client's shape with GraphQL
// null propagation.
package execute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sync/singleflight"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/supergraph"
)

// Error is a GraphQL error as it goes to the client.
type Error struct {
	Message    string         `json:"message"`
	Locations  []Location     `json:"locations,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// Location is a position in the operation document.
type Location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// ErrSubgraph classifies a failed subgraph request.
var ErrSubgraph = errors.New("subgraph request failed")

// FetchObserver is told about every subgraph fetch (for metrics).
type FetchObserver func(service string, d time.Duration, err error)

// Executor runs plans. It is safe for concurrent use.
type Executor struct {
	client       *http.Client
	urls         map[string]string
	observe      FetchObserver
	maxBodyBytes int64
	localFields  LocalResolver
	schema       *ast.Schema
	timeout      time.Duration
	// dedup shares one subgraph request among identical query requests in flight.
	dedup   bool
	flight  singleflight.Group
	workers *workers
	h2c     bool
}

// LocalResolver answers root fields the router owns (introspection).
type LocalResolver func(f *plan.Field, vars map[string]any) (any, error)

// Option configures an Executor.
type Option func(*Executor)

// WithHTTPClient sets the client used for subgraph requests.
func WithHTTPClient(c *http.Client) Option { return func(e *Executor) { e.client = c } }

// WithFetchObserver sets a callback run after every subgraph fetch.
func WithFetchObserver(o FetchObserver) Option { return func(e *Executor) { e.observe = o } }

// WithSubgraphURL overrides the routing URL of one subgraph.
func WithSubgraphURL(name, url string) Option { return func(e *Executor) { e.urls[name] = url } }

// WithLocalResolver sets the resolver for router-owned root fields (__schema, __type).
func WithLocalResolver(r LocalResolver) Option { return func(e *Executor) { e.localFields = r } }

// WithSubgraphTimeout bounds each subgraph request (default 30 s).
func WithSubgraphTimeout(d time.Duration) Option { return func(e *Executor) { e.timeout = d } }

// WithDeduplication makes identical subgraph query requests in flight (same
// subgraph, body and forwarded headers) share one request. Off by default.
func WithDeduplication(on bool) Option { return func(e *Executor) { e.dedup = on } }

// WithCleartextHTTP2 speaks HTTP/2 without TLS (h2c, prior knowledge) to
// subgraphs at http:// URLs; every such subgraph must accept it. Subgraphs at
// https:// URLs get HTTP/2 whenever they offer it, with or without this
// option. It applies to the executor's own transport (not to a client set
// with WithHTTPClient).
func WithCleartextHTTP2(on bool) Option { return func(e *Executor) { e.h2c = on } }

// WithMaxResponseBytes limits the size of one subgraph response.
func WithMaxResponseBytes(n int64) Option { return func(e *Executor) { e.maxBodyBytes = n } }

// NewTransport returns the keep-alive transport used for subgraphs by default.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.ForceAttemptHTTP2 = true
	return t
}

// New returns an Executor for the subgraphs of a supergraph.
func New(sg *supergraph.Supergraph, opts ...Option) *Executor {
	e := &Executor{
		client:       &http.Client{Transport: NewTransport()},
		urls:         map[string]string{},
		maxBodyBytes: 64 << 20,
		schema:       sg.API,
		timeout:      30 * time.Second,
		workers:      newWorkers(10 * time.Second),
	}
	for _, g := range sg.Graphs {
		e.urls[g.Name] = g.URL
	}
	own := e.client
	for _, o := range opts {
		o(e)
	}
	if e.h2c && e.client == own {
		var p http.Protocols
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		e.client.Transport.(*http.Transport).Protocols = &p
	}
	return e
}

// Request is one execution.
type Request struct {
	Plan          *plan.Plan
	Variables     map[string]any
	Header        http.Header
	OperationName string
}

// Result is the outcome of an execution.
type Result struct {
	// Data is the client's data JSON ("null" when null propagation reached the root).
	Data   json.RawMessage
	Errors []Error
	buf    *outBuf // pooled memory of Data
}

// Release gives the memory of Data back for reuse: call it once Data is
// written, and use Data no more. Not calling it is fine (the garbage collector
// takes the memory).
func (r *Result) Release() {
	if r.buf != nil {
		outPool.put(r.buf)
		r.buf, r.Data = nil, nil
	}
}

type run struct {
	e      *Executor
	req    *Request
	mu     sync.Mutex
	errors []Error
	// The response tree: the subgraph responses, merged (node 0 is the root
	// object). It goes back to the pool when the response is written.
	*tree
}

// Execute runs the plan and writes the response data.
func (e *Executor) Execute(ctx context.Context, req *Request) *Result {
	r := &run{e: e, req: req, tree: newTree()}
	defer r.tree.release()
	if req.Plan.Root != nil {
		r.node(ctx, req.Plan.Root)
	}
	r.local(req.Plan.Selection)
	data, buf := r.shape(req.Plan.Selection)
	return &Result{Data: data, Errors: r.errors, buf: buf}
}

func (r *run) addError(e Error) {
	r.mu.Lock()
	r.errors = append(r.errors, e)
	r.mu.Unlock()
}

func (r *run) node(ctx context.Context, n plan.Node) {
	switch n := n.(type) {
	case *plan.Sequence:
		for _, c := range n.Nodes {
			r.node(ctx, c)
		}
	case *plan.Parallel:
		var wg sync.WaitGroup
		for _, c := range n.Nodes[1:] {
			wg.Add(1)
			r.e.workers.run(func() {
				defer wg.Done()
				r.node(ctx, c)
			})
		}
		r.node(ctx, n.Nodes[0])
		wg.Wait()
	case *plan.Flatten:
		if f, ok := n.Node.(*plan.Fetch); ok {
			r.entityFetch(ctx, f, n.Path)
		} else {
			r.node(ctx, n.Node)
		}
	case *plan.Fetch:
		r.rootFetch(ctx, n)
	}
}

func (r *run) rootFetch(ctx context.Context, f *plan.Fetch) {
	err := r.fetch(ctx, f, nil, func(resp *subgraphResponse) {
		if resp.hasData {
			r.merge(0, resp.data)
		}
		for _, se := range resp.errors {
			r.errors = append(r.errors, se.rewrite(f.ServiceName, nil))
		}
	})
	if err != nil {
		r.fetchFailed(f, err)
	}
}

func (r *run) entityFetch(ctx context.Context, f *plan.Fetch, path []string) {
	r.mu.Lock()
	targets := r.collect(0, path, nil)
	// groupOf[k] is the representation of targets[k] (-1: none); identical
	// representations are sent once.
	groupOf := make([]int32, len(targets))
	reps := make([][]byte, 0, len(targets))
	index := r.repIndex()
	var buf []byte
	for k, t := range targets {
		start := len(buf)
		var ok bool
		buf, ok = r.appendRepresentation(buf, t, f.Requires)
		if !ok {
			buf = buf[:start]
			groupOf[k] = -1
			continue
		}
		rep := buf[start:]
		// The bytes of a kept representation are never written again (only a
		// duplicate's are, after the truncation below), so the key may alias them.
		key := unsafe.String(unsafe.SliceData(rep), len(rep))
		i, seen := index[key]
		if !seen {
			i = int32(len(reps))
			index[key] = i
			reps = append(reps, rep)
		} else {
			buf = buf[:start]
		}
		groupOf[k] = i
	}
	r.mu.Unlock()
	if len(reps) == 0 {
		return
	}
	err := r.fetch(ctx, f, reps, func(resp *subgraphResponse) {
		r.mergeEntities(resp, targets, groupOf, len(reps))
		if len(resp.errors) > 0 {
			r.entityErrors(f, path, resp, targets, groupOf, len(reps))
		}
	})
	if err != nil {
		r.fetchFailed(f, err)
	}
}

// repIndex returns the tree's empty map of representations (kept with the
// pooled tree: a warm map allocates nothing). Called with r.mu held.
func (r *run) repIndex() map[string]int32 {
	if r.index == nil {
		r.index = make(map[string]int32)
	}
	clear(r.index)
	return r.index
}

// mergeEntities merges each entity into the objects its representation came from.
func (r *run) mergeEntities(resp *subgraphResponse, targets []uint32, groupOf []int32, n int) {
	if !resp.hasData {
		return
	}
	list, ok := r.get(resp.data, "_entities")
	if !ok || r.kind(list) != kindArray {
		return
	}
	ents := make([]uint32, 0, n)
	r.items(list, func(i int, ent uint32) bool {
		ents = append(ents, ent)
		return i+1 < n
	})
	for k, t := range targets {
		if g := groupOf[k]; g >= 0 && int(g) < len(ents) && r.kind(ents[g]) == kindObject {
			r.merge(t, ents[g])
		}
	}
}

// entityErrors maps _entities errors back to the client's paths.
func (r *run) entityErrors(f *plan.Fetch, path []string, resp *subgraphResponse, targets []uint32, groupOf []int32, n int) {
	var paths [][]any
	pathOf := map[uint32][]any{}
	for i, t := range r.collect(0, path, &paths) {
		pathOf[t] = paths[i]
	}
	for _, se := range resp.errors {
		if len(se.Path) >= 2 && se.Path[0] == "_entities" {
			if num, ok := se.Path[1].(json.Number); ok {
				if i, err := num.Int64(); err == nil && i >= 0 && int(i) < n {
					for k, t := range targets {
						if int64(groupOf[k]) == i {
							r.errors = append(r.errors, se.rewrite(f.ServiceName, append(append([]any(nil), pathOf[t]...), normalizePath(se.Path[2:])...)))
						}
					}
					continue
				}
			}
		}
		r.errors = append(r.errors, se.rewrite(f.ServiceName, nil))
	}
}

func (r *run) fetchFailed(f *plan.Fetch, err error) {
	r.addError(Error{
		Message:    fmt.Sprintf("request to subgraph %q failed: %s", f.ServiceName, describe(err)),
		Extensions: map[string]any{"code": "SUBREQUEST_HTTP_ERROR", "serviceName": f.ServiceName},
	})
}

// describe says what went wrong with a subgraph request without leaking
// addresses or internals to the client.
func describe(err error) string {
	var opErr *net.OpError
	var fail *failure
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded (timed out)"
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	case errors.As(err, &fail):
		return fail.msg
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

func failf(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrSubgraph, &failure{msg: fmt.Sprintf(format, args...)})
}

// subgraphError is an error as a subgraph returned it.
type subgraphError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (se subgraphError) rewrite(service string, path []any) Error {
	ext := make(map[string]any, len(se.Extensions)+1)
	for k, v := range se.Extensions {
		ext[k] = v
	}
	ext["serviceName"] = service
	if path == nil && len(se.Path) > 0 && se.Path[0] != "_entities" {
		path = normalizePath(se.Path)
	}
	return Error{Message: se.Message, Path: path, Extensions: ext}
}

func normalizePath(p []any) []any {
	out := make([]any, len(p))
	for i, e := range p {
		if n, ok := e.(json.Number); ok {
			if v, err := n.Int64(); err == nil {
				out[i] = int(v)
				continue
			}
		}
		out[i] = e
	}
	return out
}

type subgraphResponse struct {
	data    uint32 // node of the data object in the run's tree
	hasData bool
	errors  []subgraphError
}

// requestBody writes the subgraph request: the operation (escaped once, in the
// plan), the client variables it uses and the representations.
func requestBody(buf *bytes.Buffer, f *plan.Fetch, vars map[string]any, reps [][]byte) error {
	buf.WriteString(`{"query":`)
	buf.Write(f.OperationJSON())
	if len(f.Variables) == 0 && reps == nil {
		buf.WriteByte('}')
		return nil
	}
	buf.WriteString(`,"variables":{`)
	n := 0
	if reps != nil {
		buf.WriteString(`"representations":[`)
		for i, rep := range reps {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(rep)
		}
		buf.WriteByte(']')
		n++
	}
	for _, name := range f.Variables {
		v, ok := vars[name]
		if !ok {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		writeString(buf, name)
		buf.WriteByte(':')
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	buf.WriteString("}}")
	return nil
}

// fetch sends one subgraph request and, holding r.mu, adds the response to the
// tree and hands it to use.
func (r *run) fetch(ctx context.Context, f *plan.Fetch, reps [][]byte, use func(*subgraphResponse)) (err error) {
	e := r.e
	start := time.Now()
	defer func() {
		if e.observe != nil {
			e.observe(f.ServiceName, time.Since(start), err)
		}
	}()
	raw := readPool.get()
	defer readPool.put(raw)
	status, err := e.send(ctx, f, r.req, reps, raw)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	resp, err := r.decodeResponse(raw.Bytes(), status)
	if err != nil {
		return err
	}
	use(resp)
	return nil
}

// send sends one subgraph request and reads the response into out.
func (e *Executor) send(ctx context.Context, f *plan.Fetch, req *Request, reps [][]byte, out *bytes.Buffer) (int, error) {
	url, ok := e.urls[f.ServiceName]
	if !ok || url == "" {
		return 0, failf("no URL for subgraph %q", f.ServiceName)
	}
	body := bodyPool.get()
	body.Reset()
	defer bodyPool.put(body)
	if err := requestBody(body, f, req.Variables, reps); err != nil {
		return 0, failf("could not encode the request: %v", err)
	}
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	if e.dedup && f.OperationKind != "mutation" {
		return e.shared(ctx, f, url, body.Bytes(), req.Header, out)
	}
	return e.postRetry(ctx, f, url, body.Bytes(), req.Header, out)
}

// decodeResponse adds a subgraph response to the tree and checks its shape.
func (t *tree) decodeResponse(raw []byte, status int) (*subgraphResponse, error) {
	root, perr := t.parse(raw)
	if perr != nil || t.kind(root) != kindObject {
		if status >= 300 {
			return nil, failf("HTTP %d", status)
		}
		if perr != nil {
			return nil, failf("invalid JSON response: %v", perr)
		}
		return nil, failf("invalid JSON response: not an object")
	}
	out := &subgraphResponse{}
	if i, ok := t.member(root, "data"); ok && t.kind(i) == kindObject {
		out.data, out.hasData = i, true
	}
	if i, ok := t.member(root, "errors"); ok && t.kind(i) == kindArray {
		dec := json.NewDecoder(bytes.NewReader(t.bytes(&t.nodes[i])))
		dec.UseNumber()
		if err := dec.Decode(&out.errors); err != nil {
			return nil, failf("invalid errors in response: %v", err)
		}
	}
	if !out.hasData && len(out.errors) == 0 {
		if status >= 300 {
			return nil, failf("HTTP %d", status)
		}
		return nil, failf("response has neither data nor errors")
	}
	return out, nil
}

func (e *Executor) postRetry(ctx context.Context, f *plan.Fetch, url string, body []byte, hdr http.Header, out *bytes.Buffer) (int, error) {
	status, err := e.post(ctx, url, body, hdr, out)
	if err != nil && f.OperationKind != "mutation" && retryable(err) {
		// A keep-alive connection the subgraph closed meanwhile: queries are safe to resend.
		status, err = e.post(ctx, url, body, hdr, out)
	}
	return status, err
}

type sharedResponse struct {
	body   []byte
	status int
}

// shared sends the request once for all identical requests in flight.
func (e *Executor) shared(ctx context.Context, f *plan.Fetch, url string, body []byte, hdr http.Header, out *bytes.Buffer) (int, error) {
	var key bytes.Buffer
	key.WriteString(url)
	for _, name := range sortedKeys(hdr) {
		key.WriteString("\x00" + name + "\x00" + strings.Join(hdr[name], "\x00"))
	}
	key.WriteByte(0)
	key.Write(body)
	v, err, _ := e.flight.Do(key.String(), func() (any, error) {
		var buf bytes.Buffer
		status, err := e.postRetry(ctx, f, url, body, hdr, &buf)
		return sharedResponse{body: buf.Bytes(), status: status}, err
	})
	if err != nil {
		return 0, err
	}
	r := v.(sharedResponse)
	out.Reset()
	out.Write(r.body)
	return r.status, nil
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// post sends one request and reads the whole response body into out.
func (e *Executor) post(ctx context.Context, url string, body []byte, hdr http.Header, out *bytes.Buffer) (int, error) {
	out.Reset()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSubgraph, err)
	}
	h := make(http.Header, len(hdr)+2)
	for k, vs := range hdr {
		h[k] = vs
	}
	// Shared, never-modified values: no allocation per request.
	h["Content-Type"] = contentTypeJSON
	h["Accept"] = acceptGraphQL
	hreq.Header = h
	hresp, err := e.client.Do(hreq)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSubgraph, err)
	}
	defer hresp.Body.Close()
	if _, err := out.ReadFrom(io.LimitReader(hresp.Body, e.maxBodyBytes+1)); err != nil {
		return 0, fmt.Errorf("%w: read response: %w", ErrSubgraph, err)
	}
	if int64(out.Len()) > e.maxBodyBytes {
		return 0, failf("response larger than %d bytes", e.maxBodyBytes)
	}
	return hresp.StatusCode, nil
}

var (
	contentTypeJSON = []string{"application/json"}
	acceptGraphQL   = []string{"application/graphql-response+json, application/json"}
)

// retryable reports a failure of a reused connection before any response.
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
