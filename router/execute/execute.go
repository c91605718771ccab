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
	"sync"
	"time"

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
	}
	for _, g := range sg.Graphs {
		e.urls[g.Name] = g.URL
	}
	for _, o := range opts {
		o(e)
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
}

type run struct {
	e      *Executor
	req    *Request
	mu     sync.Mutex
	data   map[string]any
	errors []Error
}

// Execute runs the plan and writes the response data.
func (e *Executor) Execute(ctx context.Context, req *Request) *Result {
	r := &run{e: e, req: req, data: map[string]any{}}
	if req.Plan.Root != nil {
		r.node(ctx, req.Plan.Root)
	}
	r.local(req.Plan.Selection)
	data := r.shape(req.Plan.Selection)
	return &Result{Data: data, Errors: r.errors}
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
			go func() {
				defer wg.Done()
				r.node(ctx, c)
			}()
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

func (r *run) variablesFor(f *plan.Fetch) map[string]any {
	vars := make(map[string]any, len(f.Variables)+1)
	for _, v := range f.Variables {
		if val, ok := r.req.Variables[v]; ok {
			vars[v] = val
		}
	}
	return vars
}

func (r *run) rootFetch(ctx context.Context, f *plan.Fetch) {
	resp, err := r.e.send(ctx, f, r.variablesFor(f), r.req.Header)
	if err != nil {
		r.fetchFailed(f, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := resp.Data.(map[string]any); ok {
		r.deepMerge(r.data, d)
	}
	for _, se := range resp.Errors {
		r.errors = append(r.errors, se.rewrite(f.ServiceName, nil))
	}
}

type target struct {
	obj  map[string]any
	path []any
}

func (r *run) entityFetch(ctx context.Context, f *plan.Fetch, path []string) {
	r.mu.Lock()
	targets := collect(r.data, path)
	var reps []any
	var groups [][]target
	index := map[string]int{}
	for _, t := range targets {
		rep := representation(t.obj, f.Requires)
		if rep == nil {
			continue
		}
		b, err := json.Marshal(rep)
		if err != nil {
			continue
		}
		i, ok := index[string(b)]
		if !ok {
			i = len(reps)
			index[string(b)] = i
			reps = append(reps, json.RawMessage(b))
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], t)
	}
	r.mu.Unlock()
	if len(reps) == 0 {
		return
	}
	vars := r.variablesFor(f)
	vars["representations"] = reps
	resp, err := r.e.send(ctx, f, vars, r.req.Header)
	if err != nil {
		r.fetchFailed(f, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := resp.Data.(map[string]any); ok {
		if list, ok := d["_entities"].([]any); ok {
			for i, ent := range list {
				m, ok := ent.(map[string]any)
				if !ok || i >= len(groups) {
					continue
				}
				for _, t := range groups[i] {
					r.deepMerge(t.obj, m)
				}
			}
		}
	}
	for _, se := range resp.Errors {
		if len(se.Path) >= 2 && se.Path[0] == "_entities" {
			if n, ok := se.Path[1].(json.Number); ok {
				if i, err := n.Int64(); err == nil && int(i) < len(groups) {
					for _, t := range groups[i] {
						r.errors = append(r.errors, se.rewrite(f.ServiceName, append(append([]any(nil), t.path...), se.Path[2:]...)))
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
	Data   any             `json:"data"`
	Errors []subgraphError `json:"errors"`
}

type subgraphRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

func (e *Executor) send(ctx context.Context, f *plan.Fetch, vars map[string]any, hdr http.Header) (resp *subgraphResponse, err error) {
	start := time.Now()
	defer func() {
		if e.observe != nil {
			e.observe(f.ServiceName, time.Since(start), err)
		}
	}()
	url, ok := e.urls[f.ServiceName]
	if !ok || url == "" {
		return nil, failf("no URL for subgraph %q", f.ServiceName)
	}
	body, err := json.Marshal(subgraphRequest{Query: f.Operation, Variables: vars})
	if err != nil {
		return nil, failf("could not encode the request: %v", err)
	}
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSubgraph, err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/graphql-response+json, application/json")
	hresp, err := e.client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSubgraph, err)
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(hresp.Body, e.maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read response: %w", ErrSubgraph, err)
	}
	if int64(len(raw)) > e.maxBodyBytes {
		return nil, failf("response larger than %d bytes", e.maxBodyBytes)
	}
	out := &subgraphResponse{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if derr := dec.Decode(out); derr != nil {
		if hresp.StatusCode >= 300 {
			return nil, failf("HTTP %d", hresp.StatusCode)
		}
		return nil, failf("invalid JSON response: %v", derr)
	}
	if out.Data == nil && len(out.Errors) == 0 {
		if hresp.StatusCode >= 300 {
			return nil, failf("HTTP %d", hresp.StatusCode)
		}
		return nil, failf("response has neither data nor errors")
	}
	return out, nil
}

// collect finds the objects at a plan path ("@" walks into lists), with their client paths.
func collect(root map[string]any, path []string) []target {
	cur := []target{{obj: root, path: nil}}
	for i, seg := range path {
		if seg == "@" {
			continue
		}
		lists := 0
		for j := i + 1; j < len(path) && path[j] == "@"; j++ {
			lists++
		}
		var next []target
		for _, t := range cur {
			v, ok := t.obj[seg]
			if !ok || v == nil {
				continue
			}
			p := append(append([]any(nil), t.path...), seg)
			next = appendFlattened(next, v, p, lists)
		}
		cur = next
	}
	return cur
}

func appendFlattened(out []target, v any, path []any, lists int) []target {
	if lists == 0 {
		if m, ok := v.(map[string]any); ok {
			out = append(out, target{obj: m, path: path})
		}
		return out
	}
	list, ok := v.([]any)
	if !ok {
		return out
	}
	for i, item := range list {
		if item == nil {
			continue
		}
		p := append(append([]any(nil), path...), i)
		out = appendFlattened(out, item, p, lists-1)
	}
	return out
}

// representation builds the representation of an object for an entity fetch,
// or nil when the object's type is not fetched or a key field is missing.
func representation(obj map[string]any, specs []*plan.RepresentationSpec) map[string]any {
	tn, _ := obj["__typename"].(string)
	for _, s := range specs {
		if s.TypeName != tn {
			continue
		}
		as := s.As
		if as == "" {
			as = tn
		}
		rep := map[string]any{"__typename": as}
		if !copyFields(rep, obj, s.Selection) {
			return nil
		}
		for _, k := range s.KeyFields {
			if rep[k] == nil {
				return nil // null keys identify nothing
			}
		}
		return rep
	}
	return nil
}

func copyFields(dst, src map[string]any, sel []*plan.KeyField) bool {
	for _, f := range sel {
		if f.Name == "__typename" {
			continue
		}
		key := f.Name
		if f.Key != "" {
			key = f.Key
		}
		v, ok := src[key]
		if !ok {
			if f.Optional {
				continue
			}
			return false
		}
		if len(f.Children) == 0 || v == nil {
			dst[f.Name] = v
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			sub := map[string]any{}
			if t, ok := v["__typename"]; ok {
				sub["__typename"] = t
			}
			if !copyFields(sub, v, f.Children) {
				return false
			}
			dst[f.Name] = sub
		case []any:
			items := make([]any, len(v))
			for i, it := range v {
				m, ok := it.(map[string]any)
				if !ok {
					items[i] = it
					continue
				}
				sub := map[string]any{}
				if t, ok := m["__typename"]; ok {
					sub["__typename"] = t
				}
				if !copyFields(sub, m, f.Children) {
					return false
				}
				items[i] = sub
			}
			dst[f.Name] = items
		default:
			dst[f.Name] = v
		}
	}
	return true
}

// concrete reports whether a __typename names an object type of the API schema.
func (r *run) concrete(v any) bool {
	name, _ := v.(string)
	def := r.e.schema.Types[name]
	return def != nil && def.Kind == ast.Object
}

// deepMerge merges an entity or root result into the response tree. An object's
// __typename is only replaced by a concrete type's name: an @interfaceObject
// subgraph answers with the interface's name, its owner with the real type.
func (r *run) deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if k == "__typename" {
			if _, ok := dst[k]; ok && !r.concrete(v) {
				continue
			}
		}
		if cur, ok := dst[k]; ok {
			switch cv := cur.(type) {
			case map[string]any:
				if sv, ok := v.(map[string]any); ok {
					r.deepMerge(cv, sv)
					continue
				}
			case []any:
				if sv, ok := v.([]any); ok && len(sv) == len(cv) {
					for i := range cv {
						cm, ok1 := cv[i].(map[string]any)
						sm, ok2 := sv[i].(map[string]any)
						if ok1 && ok2 {
							r.deepMerge(cm, sm)
						} else {
							cv[i] = sv[i]
						}
					}
					continue
				}
			}
		}
		dst[k] = v
	}
}
