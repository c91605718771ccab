package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"go.opentelemetry.io/otel/trace"

	"github.com/studio-platform/studio/router/authz"
	"github.com/studio-platform/studio/router/execute"
	"github.com/studio-platform/studio/router/flight"
	"github.com/studio-platform/studio/router/introspect"
	"github.com/studio-platform/studio/router/limits"
	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/supergraph"
	"github.com/studio-platform/studio/router/transport"
	"github.com/studio-platform/studio/router/upload"
)

// Gateway is the router's request pipeline. It is safe for concurrent use.
type Gateway struct {
	sg       *supergraph.Supergraph
	exec     *execute.Executor
	execOpts []execute.Option
	log      *slog.Logger
	forward  []string

	docs  *cache[*parsedDoc]
	plans *cache[*plan.Plan]

	// labels are the supergraph's progressive-override labels; enabled are the
	// ones switched on by configuration ("percent(N)" labels are rolled per request).
	labels  []string
	enabled map[string]bool

	// slots bounds the executions in progress (a bulkhead): each holds its
	// subgraph responses in memory until its response is written. An
	// operation that calls no subgraph ({ __typename }, introspection) takes
	// none.
	slots chan struct{}
	// planSlots bounds the requests being checked, validated and planned at
	// once (CPU work: DefaultMaxConcurrentPlanning).
	planSlots chan struct{}

	// tracer traces the steps of a request (nil: not traced).
	tracer trace.Tracer

	// dedup shares one execution among identical query requests in flight.
	dedup  bool
	flight flight.Group[*execute.Result]

	// noIntrospection refuses __schema and __type (WithIntrospection).
	noIntrospection bool

	// authz enforces @authenticated, @requiresScopes and @policy (nil when the
	// supergraph has none); guards caches its analysis per operation (authz.go).
	authz     *authz.Authorizer
	authzOpts []authz.Option
	guards    *cache[*authz.Guards]
	// limits bound each operation before validation and planning (WithLimits);
	// cost estimates operations from the supergraph's @cost and @listSize.
	limits limits.Limits
	cost   *limits.Model
	// planSteps is the planning budget (WithPlanningBudget).
	planSteps int
}

type parsedDoc struct {
	doc  *ast.QueryDocument
	kind Kind
	errs []Error
	// key is the hash of the document text; conds lists, per operation name, the
	// variables its @skip/@include depend on (both computed once per document).
	key   string
	conds map[string][]string
	// shapes are, per operation name, the hash of the operation and the
	// fragments it uses as printed in canonical form: the plan cache key, the
	// same whatever the spacing, comments, other operations or fragment order.
	shapes map[string]string
	size   int64
}

// Option configures a Gateway.
type Option func(*Gateway)

// WithExecutorOptions passes options to the executor.
func WithExecutorOptions(opts ...execute.Option) Option {
	return func(g *Gateway) { g.execOpts = append(g.execOpts, opts...) }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(g *Gateway) { g.log = l } }

// WithForwardHeaders restricts the headers of Request.Header forwarded to
// subgraphs to these names. By default every header of Request.Header is
// forwarded: the HTTP layer puts there only the ones it allows.
func WithForwardHeaders(h ...string) Option { return func(g *Gateway) { g.forward = h } }

// WithOverrideLabels switches progressive-override labels on (labels of the form
// percent(N) are instead active for N% of requests).
func WithOverrideLabels(labels ...string) Option {
	return func(g *Gateway) {
		for _, l := range labels {
			g.enabled[l] = true
		}
	}
}

// WithMaxConcurrentExecutions bounds how many operations execute at once; the
// others wait (or give up when their context ends). Zero means
// DefaultMaxConcurrentExecutions.
func WithMaxConcurrentExecutions(n int) Option {
	return func(g *Gateway) {
		if n > 0 {
			g.slots = make(chan struct{}, n)
		}
	}
}

// WithMaxConcurrentPlanning bounds how many requests are parsed, validated
// and planned at once; the others wait (or give up when their context ends).
// Zero means DefaultMaxConcurrentPlanning.
func WithMaxConcurrentPlanning(n int) Option {
	return func(g *Gateway) {
		if n > 0 {
			g.planSlots = make(chan struct{}, n)
		}
	}
}

// DefaultMaxConcurrentPlanning is 4 per CPU: parsing, validation and
// planning use a CPU and wait for nothing.
func DefaultMaxConcurrentPlanning() int { return 4 * runtime.GOMAXPROCS(0) }

// DefaultMaxConcurrentExecutions is 16 per CPU: enough to keep the CPUs busy
// while subgraphs answer, few enough to bound the memory of responses in flight.
func DefaultMaxConcurrentExecutions() int { return 16 * runtime.GOMAXPROCS(0) }

// WithRequestDeduplication makes identical query requests in flight (same
// document, operation, variables and forwarded headers) share one execution.
// Off by default.
func WithRequestDeduplication(on bool) Option { return func(g *Gateway) { g.dedup = on } }

// WithCacheSize bounds the document and plan caches (entries each; and
// DefaultCacheBytes each of estimated memory).
func WithCacheSize(n int) Option {
	return func(g *Gateway) {
		g.docs = newCache[*parsedDoc](n, DefaultCacheBytes)
		g.plans = newCache[*plan.Plan](n, DefaultCacheBytes)
	}
}

// DefaultCacheBytes bounds the estimated memory of the document cache, and of
// the plan cache (each entry is counted as 16 bytes per byte of its query).
const DefaultCacheBytes = 64 << 20

// WithLimits sets the operation limits (limits.Defaults() unless set; a zero
// field turns that limit off).
func WithLimits(l limits.Limits) Option { return func(g *Gateway) { g.limits = l } }

// WithPlanningBudget sets the planning budget in steps (plan.DefaultMaxSteps
// when zero, none when negative).
func WithPlanningBudget(steps int) Option { return func(g *Gateway) { g.planSteps = steps } }

// New returns a Gateway for a supergraph.
func New(sg *supergraph.Supergraph, opts ...Option) *Gateway {
	g := &Gateway{
		sg:      sg,
		log:     slog.Default(),
		docs:    newCache[*parsedDoc](4096, DefaultCacheBytes),
		plans:   newCache[*plan.Plan](4096, DefaultCacheBytes),
		limits:  limits.Defaults(),
		labels:  sg.OverrideLabels(),
		enabled: map[string]bool{},
	}
	for _, o := range opts {
		o(g)
	}
	if g.slots == nil {
		g.slots = make(chan struct{}, DefaultMaxConcurrentExecutions())
	}
	if g.planSlots == nil {
		g.planSlots = make(chan struct{}, DefaultMaxConcurrentPlanning())
	}
	g.authz = authz.New(sg, append([]authz.Option{authz.WithLogger(g.log)}, g.authzOpts...)...)
	g.guards = newCache[*authz.Guards](4096, DefaultCacheBytes)
	g.cost = limits.NewModel(sg, g.limits.DefaultListSize)
	intro := introspect.New(sg.API)
	g.exec = execute.New(sg, append([]execute.Option{execute.WithLocalResolver(intro.Resolve)}, g.execOpts...)...)
	return g
}

// SharedWaiters returns how many requests wait for a shared (deduplicated)
// execution, and for a shared subgraph request.
func (g *Gateway) SharedWaiters() int { return g.flight.Joined() + g.exec.Transport().SharedWaiters() }

// Supergraph returns the supergraph the gateway serves.
func (g *Gateway) Supergraph() *supergraph.Supergraph { return g.sg }

func requestError(kind Kind, code, format string, args ...any) *Response {
	return &Response{Kind: kind, Errors: []Error{{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}}}
}

// Do runs one request.
func (g *Gateway) Do(ctx context.Context, req Request) *Response {
	if req.Query == "" {
		return requestError(KindBadRequest, "BAD_REQUEST", "the request has no query")
	}
	if !acquire(ctx, g.planSlots) {
		return requestError(KindOK, "SERVICE_UNAVAILABLE", "the request ended while waiting to be planned: %v", ctx.Err())
	}
	op, vars, p, decision, resp := g.prepare(ctx, req, false)
	<-g.planSlots
	if resp != nil {
		return resp
	}
	hdr := g.forwardHeaders(req.Header)
	run := func(ctx context.Context) (*execute.Result, error) {
		if p.Root != nil { // only subgraph calls need an execution slot
			if !acquire(ctx, g.slots) {
				return nil, ctx.Err()
			}
			defer func() { <-g.slots }()
		}
		ctx, end := g.span(ctx, "graphql.execute")
		defer end()
		ereq := &execute.Request{Plan: p, Variables: vars, Header: hdr, OperationName: op.Name}
		if req.Uploads != nil {
			ereq.Uploads = req.Uploads
		}
		return g.exec.Execute(ctx, ereq), nil
	}
	var res *execute.Result
	var release func()
	if g.dedup && op.Operation == ast.Query {
		// The result may be shared by several requests: not released. The
		// execution goes on while any of them waits.
		v, _, err := g.flight.Do(ctx, dedupKey(req, hdr)+decision, run)
		if err != nil {
			return requestError(KindOK, "SERVICE_UNAVAILABLE", "the request ended while waiting to execute: %v", err)
		}
		res = v
	} else {
		r, err := run(ctx)
		if err != nil {
			return requestError(KindOK, "SERVICE_UNAVAILABLE", "the request ended while waiting to execute: %v", err)
		}
		res, release = r, r.Release
	}
	if req.Uploads != nil {
		if err := req.Uploads.Err(); err != nil {
			// The files could not be streamed: the subgraph got a cut request
			// and ran nothing; the refusal is the answer.
			res.Release()
			return uploadError(err)
		}
	}
	out := &Response{Kind: KindOK, Data: res.Data, Errors: res.Errors, release: release}
	if req.IncludePlan {
		out.Extensions = map[string]any{"queryPlan": p}
	}
	return out
}

// uploadError is the response to a refused upload.
func uploadError(e *upload.Error) *Response {
	kind := KindLimit
	if e.Status == http.StatusRequestEntityTooLarge {
		kind = KindTooLarge
	}
	return requestError(kind, e.Code, "%s", e.Message)
}

// acquire takes a place in a bulkhead, or reports false when ctx ends first.
func acquire(ctx context.Context, slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	select {
	case slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// prepare checks, validates and plans a request (a response when it cannot
// run); decision keys the authorization decision the plan reflects.
func (g *Gateway) prepare(ctx context.Context, req Request, subscribe bool) (op *ast.OperationDefinition, vars map[string]any, p *plan.Plan, decision string, _ *Response) {
	pd := g.document(ctx, req.Query)
	if pd.kind != KindOK {
		return nil, nil, nil, "", &Response{Kind: pd.kind, Errors: pd.errs}
	}
	op, resp := selectOperation(pd.doc, req.OperationName)
	if resp != nil {
		return nil, nil, nil, "", resp
	}
	var err error
	if req.ReadOnly && op.Operation != ast.Query {
		return nil, nil, nil, "", requestError(KindMethodNotAllowed, "BAD_REQUEST", "%s operations are not allowed over GET; use POST", op.Operation)
	}
	if op.Operation == ast.Subscription && !subscribe {
		return nil, nil, nil, "", requestError(KindBadRequest, "BAD_REQUEST",
			"subscriptions are not served over this transport: use a WebSocket (graphql-transport-ws), Accept: text/event-stream or Accept: multipart/mixed;subscriptionSpec=1.0")
	}
	if req.Uploads != nil && op.Operation != ast.Mutation {
		return nil, nil, nil, "", requestError(KindLimit, upload.CodeNotMutation, "files can only be uploaded with a mutation, not a %s", op.Operation)
	}
	vars, err = g.variables(op, req.Variables)
	if err != nil {
		return nil, nil, nil, "", requestError(KindBadRequest, "BAD_USER_INPUT", "%s", err.Error())
	}
	if req.Uploads != nil {
		req.Uploads.Clear(vars)
	}
	if v := g.cost.Check(pd.doc, op, vars, g.limits.MaxCost); v != nil {
		return nil, nil, nil, "", requestError(KindLimit, v.Code, "%s", v.Message)
	}
	pctx, end := g.span(ctx, "graphql.plan")
	p, decision, err = g.plan(pctx, pd, op, vars, req.Header)
	end()
	switch {
	case errors.Is(err, plan.ErrBudgetExceeded):
		return nil, nil, nil, "", requestError(KindLimit, CodePlanningBudget, "%s", err.Error())
	case err != nil && ctx.Err() != nil:
		return nil, nil, nil, "", requestError(KindOK, "SERVICE_UNAVAILABLE", "the request ended while its operation was planned: %v", ctx.Err())
	case err != nil:
		g.log.ErrorContext(ctx, "query planning failed", "error", err)
		return nil, nil, nil, "", &Response{Kind: KindOK, Data: json.RawMessage("null"), Errors: []Error{{
			Message: err.Error(), Extensions: map[string]any{"code": "QUERY_PLANNING_FAILED"}}}}
	}
	if req.Uploads != nil {
		var ue *upload.Error
		if err := req.Uploads.Bind(p); errors.As(err, &ue) {
			return nil, nil, nil, "", uploadError(ue)
		}
	}
	return op, vars, p, decision, nil
}

func (g *Gateway) forwardHeaders(in http.Header) http.Header {
	if g.forward == nil {
		return in
	}
	out := make(http.Header, len(g.forward))
	for _, h := range g.forward {
		if v := in.Values(h); len(v) > 0 {
			out[http.CanonicalHeaderKey(h)] = v
		}
	}
	return out
}

func (g *Gateway) document(ctx context.Context, query string) *parsedDoc {
	sum := sha256.Sum256([]byte(query))
	key := hex.EncodeToString(sum[:])
	if pd, ok := g.docs.get(key); ok {
		return pd
	}
	pd := &parsedDoc{key: key, size: 16 * int64(len(query))}
	_, end := g.span(ctx, "graphql.parse")
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, g.limits.MaxTokens)
	end()
	if v := limits.TokenLimitError(err, g.limits.MaxTokens); v != nil {
		pd.kind = KindLimit
		pd.errs = []Error{{Message: v.Message, Extensions: map[string]any{"code": v.Code}}}
	} else if err != nil {
		pd.kind = KindParse
		pd.errs = toErrors(err, "GRAPHQL_PARSE_FAILED")
	} else if v := g.checkLimits(doc); v != nil {
		// Before validation: validating a fragment bomb is itself expensive.
		pd.kind = KindLimit
		pd.errs = []Error{{Message: v.Message, Extensions: map[string]any{"code": v.Code}}}
	} else if errs := g.validate(ctx, doc); len(errs) > 0 {
		pd.kind = KindValidation
		pd.errs = toErrors(errs, "GRAPHQL_VALIDATION_FAILED")
	} else if f := g.refusedIntrospection(doc); f != nil {
		pd.kind = KindValidation
		pd.errs = []Error{{Message: "introspection is disabled on this graph", Locations: []Location{{Line: f.Position.Line, Column: f.Position.Column}},
			Extensions: map[string]any{"code": CodeIntrospectionDisabled}}}
	} else {
		pd.doc = doc
		pd.conds = make(map[string][]string, len(doc.Operations))
		pd.shapes = make(map[string]string, len(doc.Operations))
		for _, op := range doc.Operations {
			pd.conds[op.Name] = plan.ConditionVariables(doc, op)
			pd.shapes[op.Name] = shape(doc, op)
		}
	}
	g.docs.put(key, pd, pd.size)
	return pd
}

// checkLimits checks every operation of the document (validation looks at
// all of them, whichever is executed).
func (g *Gateway) checkLimits(doc *ast.QueryDocument) *limits.Violation {
	for _, op := range doc.Operations {
		if v := g.limits.Check(doc, op); v != nil {
			return v
		}
	}
	return nil
}

// shape hashes the canonical print of an operation and the fragments it uses
// (sorted by name).
func shape(doc *ast.QueryDocument, op *ast.OperationDefinition) string {
	used := map[string]bool{}
	var visit func(ss ast.SelectionSet)
	visit = func(ss ast.SelectionSet) {
		for _, s := range ss {
			switch s := s.(type) {
			case *ast.Field:
				visit(s.SelectionSet)
			case *ast.InlineFragment:
				visit(s.SelectionSet)
			case *ast.FragmentSpread:
				if !used[s.Name] {
					used[s.Name] = true
					if f := doc.Fragments.ForName(s.Name); f != nil {
						visit(f.SelectionSet)
					}
				}
			}
		}
	}
	visit(op.SelectionSet)
	one := &ast.QueryDocument{Operations: ast.OperationList{op}}
	for _, f := range doc.Fragments {
		if used[f.Name] {
			one.Fragments = append(one.Fragments, f)
		}
	}
	sort.Slice(one.Fragments, func(i, j int) bool { return one.Fragments[i].Name < one.Fragments[j].Name })
	h := sha256.New()
	formatter.NewFormatter(h, formatter.WithCompacted()).FormatQueryDocument(one)
	return hex.EncodeToString(h.Sum(nil))
}

func toErrors(err error, code string) []Error {
	var list gqlerror.List
	var one *gqlerror.Error
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = gqlerror.List{one}
	default:
		return []Error{{Message: err.Error(), Extensions: map[string]any{"code": code}}}
	}
	out := make([]Error, 0, min(len(list), MaxErrors+1))
	for i, e := range list {
		if i == MaxErrors {
			out = append(out, Error{Message: fmt.Sprintf("%d more errors not reported", len(list)-MaxErrors), Extensions: map[string]any{"code": code}})
			break
		}
		ge := Error{Message: e.Message, Extensions: map[string]any{"code": code}}
		for _, l := range e.Locations {
			ge.Locations = append(ge.Locations, Location{Line: l.Line, Column: l.Column})
		}
		out = append(out, ge)
	}
	return out
}

// MaxErrors is the most parse or validation errors reported for one document
// (the rest are counted in one last error).
const MaxErrors = 100

func selectOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, *Response) {
	if name == "" {
		if len(doc.Operations) != 1 {
			return nil, requestError(KindBadRequest, "BAD_REQUEST", "the document has %d operations: operationName is required", len(doc.Operations))
		}
		return doc.Operations[0], nil
	}
	op := doc.Operations.ForName(name)
	if op == nil {
		return nil, requestError(KindBadRequest, "BAD_REQUEST", "unknown operation named %q", name)
	}
	return op, nil
}

func (g *Gateway) variables(op *ast.OperationDefinition, raw map[string]json.RawMessage) (map[string]any, error) {
	in := make(map[string]any, len(raw))
	for k, v := range raw {
		var val any
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("variable %q is not valid JSON: %w", k, err)
		}
		in[k] = val
	}
	vars, err := validator.VariableValues(g.sg.API, op, in)
	if err != nil {
		return nil, err
	}
	for k, v := range vars {
		if hasNUL(v) {
			return nil, fmt.Errorf("variable %q holds a NUL character (U+0000), which no subgraph can store", k)
		}
	}
	return vars, nil
}

// hasNUL reports whether a variable value holds a string with a NUL character.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []any:
		for _, e := range v {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

// plan returns the plan for one request, and the key of the authorization
// decision it reflects ("" when nothing was denied).
func (g *Gateway) plan(ctx context.Context, pd *parsedDoc, op *ast.OperationDefinition, vars map[string]any, hdr http.Header) (*plan.Plan, string, error) {
	conds := plan.Conditions{}
	var key strings.Builder
	key.WriteString(pd.shapes[op.Name])
	key.WriteByte(0)
	key.WriteString(op.Name)
	key.WriteByte(0)
	for _, v := range pd.conds[op.Name] {
		b, _ := vars[v].(bool)
		conds[v] = b
		if b {
			key.WriteByte('1')
		} else {
			key.WriteByte('0')
		}
	}
	labels := g.activeLabels()
	for _, l := range g.labels {
		if labels[l] {
			key.WriteString("\x00" + l)
		}
	}
	in := plan.Input{Supergraph: g.sg, Document: pd.doc, Operation: op, Conditions: conds, Labels: labels}
	var full *plan.Selection
	decision := ""
	if g.authz != nil {
		d, guards, err := g.authorize(ctx, key.String(), in, hdr, pd.size)
		if err != nil {
			return nil, "", err
		}
		if d.Denied() {
			decision = "\x00authz:" + d.Key()
			key.WriteString(decision)
			full, in.Selection = guards.Apply(d)
		}
	}
	if p, ok := g.plans.get(key.String()); ok {
		return p, decision, nil
	}
	in.MaxSteps = g.planSteps
	p, err := plan.BuildContext(ctx, in)
	if err != nil {
		return nil, "", err
	}
	if full != nil {
		// Planned without the denied fields; written with them, as null and errors.
		c := *p
		c.Selection = full
		p = &c
	}
	g.plans.put(key.String(), p, pd.size)
	return p, decision, nil
}

// dedupKey identifies a request for deduplication: everything that can change
// its result.
func dedupKey(req Request, hdr http.Header) string {
	h := sha256.New()
	h.Write([]byte(req.Query))
	h.Write([]byte{0})
	h.Write([]byte(req.OperationName))
	names := make([]string, 0, len(req.Variables))
	for k := range req.Variables {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		h.Write([]byte{0})
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(req.Variables[k])
	}
	hnames := make([]string, 0, len(hdr))
	for k := range hdr {
		hnames = append(hnames, k)
	}
	sort.Strings(hnames)
	for _, k := range hnames {
		if transport.PerRequestHeader(k) {
			continue // the shared execution forwards the first request's
		}
		h.Write([]byte{1})
		h.Write([]byte(k + ":" + strings.Join(hdr[k], ",")))
	}
	return hex.EncodeToString(h.Sum(nil))
}

var percentLabel = regexp.MustCompile(`^percent\((\d+(?:\.\d+)?)\)$`)

// activeLabels decides which progressive-override labels are on for one request.
func (g *Gateway) activeLabels() map[string]bool {
	if len(g.labels) == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, l := range g.labels {
		if g.enabled[l] {
			out[l] = true
			continue
		}
		if m := percentLabel.FindStringSubmatch(l); m != nil {
			if pct, err := strconv.ParseFloat(m[1], 64); err == nil && rand.Float64()*100 < pct {
				out[l] = true
			}
		}
	}
	return out
}
