// Package plan turns a normalized operation and a supergraph into a query plan:
// a tree of Sequence / Parallel / Flatten / Fetch nodes. Planning is pure: no
// I/O, no clock, no globals; the same input always gives the same plan.
package plan

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/supergraph"
)

// ErrUnplannable is returned (wrapped) when a field cannot be reached from any subgraph.
var ErrUnplannable = errors.New("cannot plan operation")

// Plan is the result of planning one operation.
type Plan struct {
	Operation ast.Operation
	// Root is the tree of fetches; nil when nothing must be fetched (e.g. only introspection).
	Root Node
	// Selection is the normalized client selection, used to write the response.
	Selection *Selection
	// Fetches lists every fetch in the plan (index = Fetch.ID).
	Fetches []*Fetch
}

// Input is what Build needs.
type Input struct {
	Supergraph *supergraph.Supergraph
	Document   *ast.QueryDocument
	Operation  *ast.OperationDefinition
	Conditions Conditions
}

// Build plans an operation.
func Build(in Input) (*Plan, error) {
	sel, err := Normalize(in.Supergraph.API, in.Document, in.Operation, in.Conditions)
	if err != nil {
		return nil, err
	}
	p := &planner{sg: in.Supergraph, op: in.Operation}
	roots, err := p.planRoot(sel)
	if err != nil {
		return nil, err
	}
	out := &Plan{Operation: in.Operation.Operation, Selection: sel}
	var nodes []Node
	for _, r := range roots {
		nodes = append(nodes, p.finish(r, out))
	}
	switch {
	case len(nodes) == 0:
	case len(nodes) == 1:
		out.Root = nodes[0]
	case in.Operation.Operation == ast.Mutation:
		out.Root = &Sequence{Nodes: nodes}
	default:
		out.Root = &Parallel{Nodes: nodes}
	}
	return out, nil
}

// fetchNode is a fetch under construction.
type fetchNode struct {
	service string
	path    []string
	entity  bool
	sel     []*sNode
	// reps holds, per entity type, the selection that builds a representation.
	reps     map[string][]*sNode
	repOrder []string
	children []*fetchNode
}

type planner struct {
	sg *supergraph.Supergraph
	op *ast.OperationDefinition
}

func (p *planner) planRoot(sel *Selection) ([]*fetchNode, error) {
	rootType := sel.TypeName
	var roots []*fetchNode
	byService := map[string]*fetchNode{}
	var last *fetchNode
	for _, f := range sel.Fields[rootType] {
		if strings.HasPrefix(f.Name, "__") {
			continue // __typename, __schema, __type are answered by the router
		}
		graph, err := p.pickRootGraph(rootType, f, byService)
		if err != nil {
			return nil, err
		}
		var fn *fetchNode
		if p.op.Operation == ast.Mutation {
			// Mutations run strictly in order: only consecutive fields to one subgraph share a fetch.
			if last != nil && last.service == graph {
				fn = last
			}
		} else {
			fn = byService[graph]
		}
		if fn == nil {
			fn = &fetchNode{service: graph}
			byService[graph] = fn
			roots = append(roots, fn)
		}
		last = fn
		nodes, err := p.planFields(fn, graph, rootType, []*Field{f}, nil)
		if err != nil {
			return nil, err
		}
		fn.sel = mergeNodes(fn.sel, nodes)
	}
	return roots, nil
}

// pickRootGraph chooses the subgraph for a root field: one already used by the
// operation if it can, otherwise the one whose plan for the field needs the fewest fetches.
func (p *planner) pickRootGraph(rootType string, f *Field, used map[string]*fetchNode) (string, error) {
	var candidates []string
	for _, g := range p.sg.Graphs {
		if p.sg.Resolvable(rootType, f.Name, g.Name) {
			candidates = append(candidates, g.Name)
		}
	}
	if len(candidates) == 0 {
		return "", fmt.Errorf("%w: no subgraph resolves %s.%s", ErrUnplannable, rootType, f.Name)
	}
	if len(candidates) == 1 {
		return candidates[0], nil
	}
	best, bestCost := "", 0
	for _, g := range candidates {
		scratch := &fetchNode{service: g}
		nodes, err := p.planFields(scratch, g, rootType, []*Field{f}, nil)
		if err != nil {
			continue
		}
		scratch.sel = nodes
		cost := countFetches(scratch) * 2
		if _, ok := used[g]; !ok {
			cost++
		}
		if best == "" || cost < bestCost {
			best, bestCost = g, cost
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: no subgraph can resolve the selection of %s.%s", ErrUnplannable, rootType, f.Name)
	}
	return best, nil
}

func countFetches(fn *fetchNode) int {
	n := 1
	for _, c := range fn.children {
		n += countFetches(c)
	}
	return n
}

// planFields plans the fields of one object type in one subgraph, adding child
// fetches for the fields that subgraph cannot resolve.
func (p *planner) planFields(fn *fetchNode, graph, typeName string, fields []*Field, path []string) ([]*sNode, error) {
	var out []*sNode
	var pending []*Field
	for _, f := range fields {
		if f.Name == "__typename" {
			out = mergeNodes(out, []*sNode{{name: "__typename", alias: aliasOf(f)}})
			continue
		}
		if !p.sg.Resolvable(typeName, f.Name, graph) {
			pending = append(pending, f)
			continue
		}
		n := &sNode{name: f.Name, alias: aliasOf(f), args: f.Arguments}
		if f.Selection != nil {
			children, err := p.planSelection(fn, graph, f.Selection, appendPath(path, f))
			if err != nil {
				return nil, err
			}
			n.children = children
		}
		out = mergeNodes(out, []*sNode{n})
	}
	if len(pending) > 0 {
		keys, err := p.jump(fn, graph, typeName, pending, path)
		if err != nil {
			return nil, err
		}
		out = mergeNodes(out, keys)
	}
	return out, nil
}

// planSelection plans the selection of a composite field in one subgraph.
func (p *planner) planSelection(fn *fetchNode, graph string, sel *Selection, path []string) ([]*sNode, error) {
	if !sel.Abstract {
		return p.planFields(fn, graph, sel.TypeName, sel.Fields[sel.TypeName], path)
	}
	out := []*sNode{{name: "__typename"}}
	for _, t := range sel.Types {
		tt := p.sg.Types[t]
		if tt == nil || !tt.InGraph(graph) {
			continue
		}
		fields := sel.Fields[t]
		if len(fields) == 0 {
			continue
		}
		nodes, err := p.planFields(fn, graph, t, fields, path)
		if err != nil {
			return nil, err
		}
		out = mergeNodes(out, []*sNode{{typeCond: t, children: nodes}})
	}
	return out, nil
}

// jump sends the pending fields of an entity to the subgraphs that resolve them,
// returning the key fields the current subgraph must select.
func (p *planner) jump(fn *fetchNode, graph, typeName string, pending []*Field, path []string) ([]*sNode, error) {
	var keyNodes []*sNode
	remaining := pending
	for len(remaining) > 0 {
		var (
			bestGraph   string
			bestKey     *supergraph.Key
			bestCovered []*Field
		)
		for _, g := range p.sg.Graphs {
			if g.Name == graph {
				continue
			}
			var covered []*Field
			for _, f := range remaining {
				if p.sg.Resolvable(typeName, f.Name, g.Name) {
					covered = append(covered, f)
				}
			}
			if len(covered) <= len(bestCovered) {
				continue
			}
			key := p.providableKey(typeName, graph, g.Name)
			if key == nil {
				continue
			}
			bestGraph, bestKey, bestCovered = g.Name, key, covered
		}
		if bestGraph == "" {
			names := make([]string, len(remaining))
			for i, f := range remaining {
				names[i] = typeName + "." + f.Name
			}
			return nil, fmt.Errorf("%w: %s cannot be reached from subgraph %q", ErrUnplannable, strings.Join(names, ", "), graph)
		}
		child := fn.child(bestGraph, path)
		keySel := selectionNodes(bestKey.Selection)
		child.addRep(typeName, keySel)
		nodes, err := p.planFields(child, bestGraph, typeName, bestCovered, path)
		if err != nil {
			return nil, err
		}
		child.addEntityFields(typeName, nodes)
		keyNodes = mergeNodes(keyNodes, append([]*sNode{{name: "__typename"}}, keySel...))
		remaining = without(remaining, bestCovered)
	}
	return keyNodes, nil
}

// providableKey returns a resolvable key of the entity in target whose fields
// the source subgraph can provide.
func (p *planner) providableKey(typeName, source, target string) *supergraph.Key {
	sourceKeys := p.sg.Keys(typeName, source)
	for _, k := range p.sg.ResolvableKeys(typeName, target) {
		if p.canProvide(typeName, source, k.Selection, sourceKeys) {
			return k
		}
	}
	return nil
}

func (p *planner) canProvide(typeName, graph string, sel ast.SelectionSet, ownKeys []*supergraph.Key) bool {
	t := p.sg.Types[typeName]
	if t == nil || !t.InGraph(graph) {
		return false
	}
	for _, s := range sel {
		f, ok := s.(*ast.Field)
		if !ok {
			return false
		}
		if !p.sg.Resolvable(typeName, f.Name, graph) && !inKeys(f.Name, ownKeys) {
			return false
		}
		if len(f.SelectionSet) > 0 {
			fd := t.Fields[f.Name]
			if fd == nil || !p.canProvide(fd.Def.Type.Name(), graph, f.SelectionSet, p.sg.Keys(fd.Def.Type.Name(), graph)) {
				return false
			}
		}
	}
	return true
}

func inKeys(field string, keys []*supergraph.Key) bool {
	for _, k := range keys {
		for _, s := range k.Selection {
			if f, ok := s.(*ast.Field); ok && f.Name == field {
				return true
			}
		}
	}
	return false
}

func (fn *fetchNode) child(service string, path []string) *fetchNode {
	key := strings.Join(path, ".")
	for _, c := range fn.children {
		if c.service == service && strings.Join(c.path, ".") == key {
			return c
		}
	}
	c := &fetchNode{service: service, path: append([]string(nil), path...), entity: true, reps: map[string][]*sNode{}}
	fn.children = append(fn.children, c)
	return c
}

func (fn *fetchNode) addRep(typeName string, keySel []*sNode) {
	if _, ok := fn.reps[typeName]; !ok {
		fn.repOrder = append(fn.repOrder, typeName)
	}
	fn.reps[typeName] = mergeNodes(fn.reps[typeName], keySel)
}

func (fn *fetchNode) addEntityFields(typeName string, nodes []*sNode) {
	fn.sel = mergeNodes(fn.sel, []*sNode{{typeCond: typeName, children: nodes}})
}

func appendPath(path []string, f *Field) []string {
	out := append(append([]string(nil), path...), f.ResponseKey)
	for t := f.Def.Type; t != nil && t.Elem != nil; t = t.Elem {
		out = append(out, "@")
	}
	return out
}

func aliasOf(f *Field) string {
	if f.ResponseKey != f.Name {
		return f.ResponseKey
	}
	return ""
}

func without(fields, drop []*Field) []*Field {
	var out []*Field
	for _, f := range fields {
		keep := true
		for _, d := range drop {
			if f == d {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, f)
		}
	}
	return out
}

// finish turns a fetch tree into plan nodes.
func (p *planner) finish(fn *fetchNode, out *Plan) Node {
	f := &Fetch{
		ID:            len(out.Fetches),
		ServiceName:   fn.service,
		OperationKind: string(p.op.Operation),
		Entity:        fn.entity,
	}
	if fn.entity {
		f.OperationKind = string(ast.Query)
		for _, t := range fn.repOrder {
			f.Requires = append(f.Requires, &RepresentationSpec{TypeName: t, Selection: toSelection(fn.reps[t])})
		}
		sort.SliceStable(f.Requires, func(i, j int) bool { return f.Requires[i].TypeName < f.Requires[j].TypeName })
	}
	f.Operation, f.Variables = p.print(fn, f)
	out.Fetches = append(out.Fetches, f)
	var node Node = f
	if fn.entity {
		node = &Flatten{Path: fn.path, Node: f}
	}
	if len(fn.children) == 0 {
		return node
	}
	var kids []Node
	for _, c := range fn.children {
		kids = append(kids, p.finish(c, out))
	}
	if len(kids) == 1 {
		if seq, ok := kids[0].(*Sequence); ok {
			return &Sequence{Nodes: append([]Node{node}, seq.Nodes...)}
		}
		return &Sequence{Nodes: []Node{node, kids[0]}}
	}
	return &Sequence{Nodes: []Node{node, &Parallel{Nodes: kids}}}
}
