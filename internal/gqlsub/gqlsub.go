// Package gqlsub is a small in-memory Federation subgraph server: an SDL plus Go
// resolvers over plain values. Router fixtures use it to stand up many small
// subgraphs quickly; it speaks the real GraphQL-over-HTTP wire format, parses
// and validates every request against its schema, and records what it received.
package gqlsub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
)

// Resolver computes a field from its parent object and arguments.
type Resolver func(parent map[string]any, args map[string]any) (any, error)

// Subgraph is one in-memory subgraph.
type Subgraph struct {
	schema *ast.Schema
	// Fields maps "Type.field" to a resolver; fields without one are read from the parent map.
	fields map[string]Resolver
	// entities maps a type name to the resolver of its representations.
	entities map[string]func(rep map[string]any) (any, error)
	sdl      string

	mu       sync.Mutex
	requests []Received
}

// Received is one request the subgraph served.
type Received struct {
	Query     string
	Variables map[string]any
	Header    http.Header
}

const federationPrelude = `
scalar _Any
scalar FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
type _Service { sdl: String }
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @external on FIELD_DEFINITION | OBJECT
directive @requires(fields: FieldSet!) on FIELD_DEFINITION
directive @provides(fields: FieldSet!) on FIELD_DEFINITION
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
directive @override(from: String!, label: String) on FIELD_DEFINITION
directive @interfaceObject on OBJECT
directive @extends on OBJECT | INTERFACE
directive @link(url: String!, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
scalar federation__Scope
scalar federation__Policy
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[federation__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @policy(policies: [[federation__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
`

// Option configures a Subgraph.
type Option func(*Subgraph)

// WithField sets the resolver of "Type.field".
func WithField(coord string, r Resolver) Option { return func(s *Subgraph) { s.fields[coord] = r } }

// WithEntity sets the resolver of the representations of a type.
func WithEntity(typeName string, r func(rep map[string]any) (any, error)) Option {
	return func(s *Subgraph) { s.entities[typeName] = r }
}

// New builds a subgraph from its SDL. Entity types get _entities support.
func New(sdl string, opts ...Option) (*Subgraph, error) {
	s := &Subgraph{fields: map[string]Resolver{}, entities: map[string]func(map[string]any) (any, error){}, sdl: sdl}
	for _, o := range opts {
		o(s)
	}
	extra := "type Query { _service: _Service! }\n"
	schema, err := s.load(extra)
	if err != nil {
		return nil, err
	}
	// _Entity members are object types: an entity interface (@key on an interface)
	// contributes its implementations, and its resolver returns the concrete __typename.
	seen := map[string]bool{}
	var members []string
	for t := range s.entities {
		def := schema.Types[t]
		if def == nil {
			return nil, fmt.Errorf("gqlsub: entity resolver for unknown type %q", t)
		}
		possible := []*ast.Definition{def}
		if def.IsAbstractType() {
			possible = schema.GetPossibleTypes(def)
		}
		for _, p := range possible {
			if !seen[p.Name] {
				seen[p.Name] = true
				members = append(members, p.Name)
			}
		}
	}
	sort.Strings(members)
	if len(members) > 0 {
		extra += "union _Entity = " + strings.Join(members, " | ") + "\nextend type Query { _entities(representations: [_Any!]!): [_Entity]! }\n"
		if schema, err = s.load(extra); err != nil {
			return nil, err
		}
	}
	s.schema = schema
	return s, nil
}

func (s *Subgraph) load(extra string) (*ast.Schema, error) {
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: "federation", Input: federationPrelude, BuiltIn: true},
		&ast.Source{Name: "subgraph.graphql", Input: s.sdl}, &ast.Source{Name: "federation-root", Input: fixQueryExtension(s.sdl, extra)})
	if err != nil {
		return nil, fmt.Errorf("gqlsub: load schema: %w", err)
	}
	return schema, nil
}

// fixQueryExtension turns "type Query" into "extend type Query" when the SDL defines Query itself.
func fixQueryExtension(sdl, extra string) string {
	if definesQuery(sdl) {
		return "extend " + extra
	}
	return extra
}

// Requests returns what the subgraph received so far.
func (s *Subgraph) Requests() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.requests...)
}

// Reset forgets the recorded requests.
func (s *Subgraph) Reset() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
}

// ServeHTTP answers a GraphQL POST request.
func (s *Subgraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []any{map[string]any{"message": err.Error()}}})
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, Received{Query: body.Query, Variables: body.Variables, Header: r.Header.Clone()})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.Execute(body.Query, body.OperationName, body.Variables))
}

// Execute runs one operation and returns the response object.
func (s *Subgraph) Execute(query, opName string, vars map[string]any) map[string]any {
	doc, errs := gqlparser.LoadQuery(s.schema, query)
	if len(errs) > 0 {
		return map[string]any{"errors": errs}
	}
	op := doc.Operations.ForName(opName)
	if op == nil && len(doc.Operations) == 1 {
		op = doc.Operations[0]
	}
	if op == nil {
		return map[string]any{"errors": []any{map[string]any{"message": "operation not found"}}}
	}
	coerced, err := validator.VariableValues(s.schema, op, vars)
	if err != nil {
		return map[string]any{"errors": []any{map[string]any{"message": err.Error()}}}
	}
	ex := &executor{s: s, vars: coerced, doc: doc}
	root := s.schema.Query
	if op.Operation == ast.Mutation {
		root = s.schema.Mutation
	}
	data := ex.object(root, map[string]any{}, op.SelectionSet, nil)
	out := map[string]any{"data": data}
	if len(ex.errors) > 0 {
		out["errors"] = ex.errors
	}
	return out
}

type executor struct {
	s      *Subgraph
	vars   map[string]any
	doc    *ast.QueryDocument
	errors []map[string]any
}

func (e *executor) object(def *ast.Definition, obj map[string]any, ss ast.SelectionSet, path []any) any {
	out := map[string]any{}
	for _, f := range e.collect(def, ss) {
		key := f.Alias
		if key == "" {
			key = f.Name
		}
		p := append(append([]any(nil), path...), key)
		if f.Name == "__typename" {
			out[key] = def.Name
			continue
		}
		args := f.ArgumentMap(e.vars)
		var v any
		var err error
		switch {
		case f.Name == "_service":
			v = map[string]any{"sdl": e.s.sdl}
		case f.Name == "_entities":
			v, err = e.entities(args)
		case e.s.fields[def.Name+"."+f.Name] != nil:
			v, err = e.s.fields[def.Name+"."+f.Name](obj, args)
		default:
			v = obj[f.Name]
		}
		if err != nil {
			e.errors = append(e.errors, map[string]any{"message": err.Error(), "path": p})
			out[key] = nil
			continue
		}
		out[key] = e.complete(f.Definition.Type, v, f.SelectionSet, p)
	}
	return out
}

func (e *executor) complete(t *ast.Type, v any, ss ast.SelectionSet, path []any) any {
	if v == nil {
		return nil
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			if ms, ok := v.([]map[string]any); ok {
				for _, m := range ms {
					list = append(list, m)
				}
			}
		}
		out := make([]any, len(list))
		for i, item := range list {
			out[i] = e.complete(t.Elem, item, ss, append(append([]any(nil), path...), i))
		}
		return out
	}
	def := e.s.schema.Types[t.Name()]
	if def.Kind == ast.Scalar || def.Kind == ast.Enum {
		return v
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	if def.IsAbstractType() {
		tn, _ := m["__typename"].(string)
		def = e.s.schema.Types[tn]
		if def == nil {
			return nil
		}
	}
	return e.object(def, m, ss, path)
}

func (e *executor) entities(args map[string]any) (any, error) {
	reps, _ := args["representations"].([]any)
	out := make([]any, len(reps))
	for i, r := range reps {
		rep, _ := r.(map[string]any)
		tn, _ := rep["__typename"].(string)
		res := e.s.entities[tn]
		if res == nil {
			return nil, fmt.Errorf("no entity resolver for %q", tn)
		}
		v, err := res(rep)
		if err != nil {
			return nil, err
		}
		if m, ok := v.(map[string]any); ok {
			if _, ok := m["__typename"]; !ok {
				c := map[string]any{"__typename": tn}
				for k, x := range m {
					c[k] = x
				}
				v = c
			}
		}
		out[i] = v
	}
	return out, nil
}

func (e *executor) collect(def *ast.Definition, ss ast.SelectionSet) []*ast.Field {
	var out []*ast.Field
	for _, sel := range ss {
		switch sel := sel.(type) {
		case *ast.Field:
			out = append(out, sel)
		case *ast.InlineFragment:
			if sel.TypeCondition == "" || sel.TypeCondition == def.Name || e.implements(def, sel.TypeCondition) {
				out = append(out, e.collect(def, sel.SelectionSet)...)
			}
		case *ast.FragmentSpread:
			fr := e.doc.Fragments.ForName(sel.Name)
			if fr != nil && (fr.TypeCondition == def.Name || e.implements(def, fr.TypeCondition)) {
				out = append(out, e.collect(def, fr.SelectionSet)...)
			}
		}
	}
	return out
}

func (e *executor) implements(def *ast.Definition, abstract string) bool {
	a := e.s.schema.Types[abstract]
	if a == nil {
		return false
	}
	for _, pt := range e.s.schema.GetPossibleTypes(a) {
		if pt.Name == def.Name {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var queryDef = regexp.MustCompile(`(?m)^\s*type\s+Query\b`)

func definesQuery(sdl string) bool { return queryDef.MatchString(sdl) }
