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
	"fmt"
	"net/http"
	"sync"
	"time"
	"unsafe"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/supergraph"
	"github.com/studio-platform/studio/router/transport"
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
var ErrSubgraph = transport.ErrSubgraph

// FetchObserver is told about every subgraph fetch (for metrics).
type FetchObserver = transport.Observer

// Executor runs plans. It is safe for concurrent use.
type Executor struct {
	transport   *transport.Client
	topts       []transport.Option
	localFields LocalResolver
	schema      *ast.Schema
	workers     *workers
}

// LocalResolver answers root fields the router owns (introspection).
type LocalResolver func(f *plan.Field, vars map[string]any) (any, error)

// Option configures an Executor.
type Option func(*Executor)

// WithTransport sends subgraph requests through c (instead of a client
// built from the transport options below).
func WithTransport(c *transport.Client) Option { return func(e *Executor) { e.transport = c } }

// WithTransportOptions configures the executor's own subgraph transport.
func WithTransportOptions(opts ...transport.Option) Option {
	return func(e *Executor) { e.topts = append(e.topts, opts...) }
}

// WithHTTPClient sets the client used for subgraph requests (transport.WithHTTPClient).
func WithHTTPClient(c *http.Client) Option { return WithTransportOptions(transport.WithHTTPClient(c)) }

// WithFetchObserver sets a callback run after every subgraph fetch (transport.WithObserver).
func WithFetchObserver(o FetchObserver) Option {
	return WithTransportOptions(transport.WithObserver(o))
}

// WithSubgraphURL overrides the routing URL of one subgraph (transport.WithURL).
func WithSubgraphURL(name, url string) Option {
	return WithTransportOptions(transport.WithURL(name, url))
}

// WithLocalResolver sets the resolver for router-owned root fields (__schema, __type).
func WithLocalResolver(r LocalResolver) Option { return func(e *Executor) { e.localFields = r } }

// WithSubgraphTimeout bounds each subgraph request (transport.WithTimeout).
func WithSubgraphTimeout(d time.Duration) Option {
	return WithTransportOptions(transport.WithTimeout(d))
}

// WithDeduplication shares identical subgraph query requests in flight
// (transport.WithDeduplication).
func WithDeduplication(on bool) Option { return WithTransportOptions(transport.WithDeduplication(on)) }

// WithCleartextHTTP2 speaks h2c to http:// subgraphs (transport.WithCleartextHTTP2).
func WithCleartextHTTP2(on bool) Option {
	return WithTransportOptions(transport.WithCleartextHTTP2(on))
}

// WithMaxResponseBytes limits the size of one subgraph response (transport.WithMaxResponseBytes).
func WithMaxResponseBytes(n int64) Option {
	return WithTransportOptions(transport.WithMaxResponseBytes(n))
}

// New returns an Executor for the subgraphs of a supergraph.
func New(sg *supergraph.Supergraph, opts ...Option) *Executor {
	e := &Executor{
		schema:  sg.API,
		workers: newWorkers(10 * time.Second),
	}
	for _, o := range opts {
		o(e)
	}
	if e.transport == nil {
		e.transport = transport.New(SubgraphURLs(sg), e.topts...)
	}
	return e
}

// SubgraphURLs returns the routing URL of each subgraph of a supergraph.
func SubgraphURLs(sg *supergraph.Supergraph) map[string]string {
	urls := make(map[string]string, len(sg.Graphs))
	for _, g := range sg.Graphs {
		urls[g.Name] = g.URL
	}
	return urls
}

// Transport returns the client subgraph requests go through.
func (e *Executor) Transport() *transport.Client { return e.transport }

// Request is one execution.
type Request struct {
	Plan          *plan.Plan
	Variables     map[string]any
	Header        http.Header
	OperationName string
	// Uploads, when set, gives the fetches that carry files of a GraphQL
	// multipart request what makes their requests multipart (router/upload).
	Uploads Uploads
	// Event, for a subscription, is one result the owning subgraph streamed
	// ({"data", "errors"}): it stands for the plan's root fetch, and the rest
	// of the plan (entity fetches to other subgraphs) completes it.
	Event []byte
}

// Uploads says which fetches carry files (router/upload.Request).
type Uploads interface {
	// For returns the files fetch f carries (nil: none).
	For(f *plan.Fetch) *transport.Upload
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
	use := func(resp *subgraphResponse) {
		if resp.hasData {
			r.merge(0, resp.data)
		}
		for _, se := range resp.errors {
			r.errors = append(r.errors, se.rewrite(f.ServiceName, nil))
		}
	}
	var err error
	if r.req.Event != nil && f.OperationKind == "subscription" {
		r.mu.Lock()
		var resp *subgraphResponse
		if resp, err = r.decodeResponse(r.req.Event, 200); err == nil {
			use(resp)
		}
		r.mu.Unlock()
	} else {
		err = r.fetch(ctx, f, nil, use)
	}
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
		Message:    fmt.Sprintf("request to subgraph %q failed: %s", f.ServiceName, transport.Describe(err)),
		Extensions: map[string]any{"code": transport.Code(err), "serviceName": f.ServiceName},
	})
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
func (r *run) fetch(ctx context.Context, f *plan.Fetch, reps [][]byte, use func(*subgraphResponse)) error {
	raw := readPool.get()
	defer readPool.put(raw)
	status, err := r.e.send(ctx, f, r.req, reps, raw)
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
	body := bodyPool.get()
	body.Reset()
	defer bodyPool.put(body)
	if err := requestBody(body, f, req.Variables, reps); err != nil {
		return 0, failf("could not encode the request: %v", err)
	}
	treq := &transport.Request{Subgraph: f.ServiceName, Body: body.Bytes(), Header: req.Header, Mutation: f.OperationKind == "mutation"}
	if req.Uploads != nil {
		treq.Upload = req.Uploads.For(f)
	}
	return e.transport.Do(ctx, treq, out)
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

func failf(format string, args ...any) error { return transport.Failf(format, args...) }
