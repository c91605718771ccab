// Package plan turns a normalized operation and a supergraph into a query plan:
// a tree of Sequence / Parallel / Flatten / Fetch nodes. Planning is pure: no
// I/O, no clock, no globals; the same input always gives the same plan.
package plan

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/supergraph"
)

// ErrUnplannable is returned (wrapped) when a field cannot be reached from any subgraph.
var ErrUnplannable = errors.New("cannot plan operation")

// ErrBudgetExceeded is returned (wrapped) when planning takes more steps than
// its budget (Input.MaxSteps).
var ErrBudgetExceeded = errors.New("query planning budget exceeded")

// DefaultMaxSteps is the planning budget when Input.MaxSteps is zero. A step is
// one field planned in one subgraph, tentatively or for good, or one entity
// jump: 1,000 aliases of a four-level selection with two entity jumps take
// 16,000 (bench/plan).
const DefaultMaxSteps = 200_000

// Plan is the result of planning one operation.
type Plan struct {
	Operation ast.Operation
	// Root is the tree of fetches; nil when nothing must be fetched (e.g. only introspection).
	Root Node
	// Selection is the normalized client selection, used to write the response.
	Selection *Selection
	// Fetches lists every fetch in the plan (index = Fetch.ID).
	Fetches []*Fetch
	// Steps is the planning work it took (see Input.MaxSteps).
	Steps int
}

// Input is what Build needs.
type Input struct {
	Supergraph *supergraph.Supergraph
	Document   *ast.QueryDocument
	Operation  *ast.OperationDefinition
	Conditions Conditions
	// Labels are the active progressive-override labels (the caller keys its plan
	// cache on them).
	Labels map[string]bool
	// MaxSteps is the planning budget (DefaultMaxSteps when zero, no limit when
	// negative): past it Build fails with ErrBudgetExceeded.
	MaxSteps int
	// Selection, when set, is the normalized operation to plan instead of
	// normalizing Document (router/authz removes the fields a request may not see).
	Selection *Selection
}

// Build plans an operation.
func Build(in Input) (*Plan, error) { return BuildContext(context.Background(), in) }

// BuildContext plans an operation, giving up with the context's error once it
// is done (checked every few hundred steps).
func BuildContext(ctx context.Context, in Input) (*Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("query planning stopped: %w", err)
	}
	sel := in.Selection
	var err error
	if sel == nil {
		if sel, err = Normalize(in.Supergraph.API, in.Document, in.Operation, in.Conditions); err != nil {
			return nil, err
		}
	}
	p := &planner{ctx: ctx, maxSteps: in.MaxSteps, sg: in.Supergraph, op: in.Operation, labels: in.Labels,
		plannable: map[plannableKey]bool{}, keys: map[keyPathKey]*supergraph.Key{}, alts: map[string][]string{},
		children: map[childKey][]*fetchNode{}}
	if p.maxSteps == 0 {
		p.maxSteps = DefaultMaxSteps
	}
	err = p.planRoot(sel)
	if p.stopped != nil {
		// A tentative plan may have taken the error for "not plannable here".
		return nil, p.stopped
	}
	if err != nil {
		return nil, err
	}
	out := &Plan{Operation: in.Operation.Operation, Selection: sel, Steps: p.steps}
	out.Root = p.schedule(out)
	return out, nil
}

// step counts one unit of planning work against the budget and looks at the
// context now and then. Once it fails it keeps failing.
func (p *planner) step() error {
	if p.stopped != nil {
		return p.stopped
	}
	p.steps++
	if p.maxSteps > 0 && p.steps > p.maxSteps {
		p.stopped = fmt.Errorf("%w: more than %d steps", ErrBudgetExceeded, p.maxSteps)
	} else if p.steps%256 == 0 {
		if err := p.ctx.Err(); err != nil {
			p.stopped = fmt.Errorf("query planning stopped: %w", err)
		}
	}
	return p.stopped
}

// fetchNode is a fetch under construction.
type fetchNode struct {
	service string
	path    []string
	entity  bool
	sel     []*sNode
	selIdx  map[nodeKey]int
	// reps holds, per entity type, how to build its representation.
	reps     map[string]*repSpec
	repOrder []string
	// parent is the fetch whose results hold the objects at path; deps are other
	// fetches that must finish first (they provide @requires fields).
	parent *fetchNode
	deps   []*fetchNode
	// order is the creation order, used for deterministic output.
	order int
	dead  bool
	// repSig names the arguments of required fields in the representation: fetches
	// whose representations need the same field with other arguments stay apart.
	repSig string
}

type repSpec struct {
	as   string // the __typename sent (differs for @interfaceObject targets)
	sel  []*sNode
	idx  map[nodeKey]int
	keys []string // top-level key fields: a representation with one of them null is not sent
}

type planner struct {
	ctx      context.Context
	steps    int
	maxSteps int
	// stopped is the budget or context error, once planning must end.
	stopped error
	sg      *supergraph.Supergraph
	labels  map[string]bool
	op      *ast.OperationDefinition
	fetches []*fetchNode
	depth   int
	// memo caches the answers of tentative planning (a field's subtree in a
	// subgraph; a key path between subgraphs): without it nested tentative plans
	// grow exponentially with the depth of the operation.
	plannable map[plannableKey]bool
	keys      map[keyPathKey]*supergraph.Key
	// alts holds, per response path, the subgraphs that could resolve the value
	// there; an abstract selection only asks for the types possible in all of them.
	alts map[string][]string
	// children indexes the entity fetches by parent, subgraph, path and
	// representation signature.
	children map[childKey][]*fetchNode
	// undo is the journal of changes made while a snapshot is open.
	undo []func()
	open int
}

type plannableKey struct {
	graph, typeName string
	field           *Field
}

type keyPathKey struct{ typeName, as, source, target string }

// maxJumpDepth bounds nested entity jumps (a guard against cyclic key paths).
const maxJumpDepth = 64

func (p *planner) newFetch(service string, path []string, parent *fetchNode) *fetchNode {
	fn := &fetchNode{service: service, path: append([]string(nil), path...), parent: parent, order: len(p.fetches)}
	if parent != nil {
		fn.entity = true
		fn.reps = map[string]*repSpec{}
	}
	p.fetches = append(p.fetches, fn)
	return fn
}

func (p *planner) planRoot(sel *Selection) error {
	rootType := sel.TypeName
	byService := map[string]*fetchNode{}
	var last *fetchNode
	var previous []*fetchNode
	for _, f := range sel.Fields[rootType] {
		if strings.HasPrefix(f.Name, "__") {
			continue // __typename, __schema, __type are answered by the router
		}
		graph, err := p.pickRootGraph(rootType, f, byService)
		if errors.Is(err, ErrUnplannable) && p.op.Operation == ast.Query && f.Selection != nil && !f.Selection.Abstract {
			// No single subgraph resolves the whole subtree: ask each its part of it.
			if err := p.splitRoot(rootType, f, byService); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
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
			if p.op.Operation == ast.Mutation {
				previous = p.live()
			}
			fn = p.newFetch(graph, nil, nil)
			fn.deps = previous
			byService[graph] = fn
		}
		last = fn
		nodes, _, err := p.planFields(fn, graph, rootType, []*Field{f}, nil, nil)
		if err != nil {
			return err
		}
		p.mergeInto(&fn.sel, &fn.selIdx, nodes)
	}
	return nil
}

func (p *planner) live() []*fetchNode {
	var out []*fetchNode
	for _, f := range p.fetches {
		if !f.dead {
			out = append(out, f)
		}
	}
	return out
}

// splitRoot plans a shareable root field whose selection no single subgraph can
// resolve: each subgraph that resolves the root field is asked for the sub-fields
// it can, and the results merge under the field.
func (p *planner) splitRoot(rootType string, f *Field, byService map[string]*fetchNode) error {
	typeName := f.Selection.TypeName
	groups := map[string][]*Field{}
	var order []string
	for _, sf := range f.Selection.Fields[typeName] {
		one := restrict(f, typeName, []*Field{sf})
		var chosen string
		for _, pass := range []bool{true, false} {
			for _, g := range p.sg.Graphs {
				if _, used := groups[g.Name]; used != pass || !p.resolvable(rootType, f.Name, g.Name) {
					continue
				}
				snap := p.snapshot()
				scratch := p.newFetch(g.Name, nil, nil)
				_, _, err := p.planFields(scratch, g.Name, rootType, []*Field{one}, nil, nil)
				p.restore(snap)
				if err == nil {
					chosen = g.Name
					break
				}
			}
			if chosen != "" {
				break
			}
		}
		if chosen == "" {
			return fmt.Errorf("%w: %s.%s cannot be resolved by any subgraph that resolves %s.%s", ErrUnplannable, typeName, sf.Name, rootType, f.Name)
		}
		if _, ok := groups[chosen]; !ok {
			order = append(order, chosen)
		}
		groups[chosen] = append(groups[chosen], sf)
	}
	for _, g := range order {
		fn := byService[g]
		if fn == nil {
			fn = p.newFetch(g, nil, nil)
			byService[g] = fn
		}
		nodes, _, err := p.planFields(fn, g, rootType, []*Field{restrict(f, typeName, groups[g])}, nil, nil)
		if err != nil {
			return err
		}
		p.mergeInto(&fn.sel, &fn.selIdx, nodes)
	}
	return nil
}

// restrict returns a copy of f selecting only the given sub-fields.
func restrict(f *Field, typeName string, fields []*Field) *Field {
	c := *f
	c.Selection = &Selection{TypeName: typeName, Types: []string{typeName}, Fields: map[string][]*Field{typeName: fields}}
	return &c
}

// pickRootGraph chooses the subgraph for a root field: the one whose plan for the
// field needs the fewest fetches, preferring one the operation already uses.
func (p *planner) pickRootGraph(rootType string, f *Field, used map[string]*fetchNode) (string, error) {
	var candidates []string
	for _, g := range p.sg.Graphs {
		if p.resolvable(rootType, f.Name, g.Name) {
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
	var firstErr error
	for _, g := range candidates {
		snap := p.snapshot()
		scratch := p.newFetch(g, nil, nil)
		_, _, err := p.planFields(scratch, g, rootType, []*Field{f}, nil, nil)
		// Fewest fetches first, then the fewest fields fetched through entity calls.
		cost := (len(p.fetches) - snap.n) * 1000
		for _, extra := range p.fetches[snap.n+1:] {
			cost += countLeaves(extra.sel)
		}
		p.restore(snap)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		cost *= 2
		if _, ok := used[g]; !ok {
			cost += 1000
		}
		if best == "" || cost < bestCost {
			best, bestCost = g, cost
		}
	}
	if best == "" {
		return "", firstErr
	}
	return best, nil
}

func countLeaves(nodes []*sNode) int {
	n := 0
	for _, s := range nodes {
		if len(s.children) == 0 {
			n++
		} else {
			n += countLeaves(s.children)
		}
	}
	return n
}

// snapshot marks the planner state so that a tentative plan can be undone:
// the number of fetches and the length of the undo journal. Taking one costs
// nothing; every change to a fetch made while one is open is journaled, so
// undoing costs what the tentative plan changed (copying the whole plan here
// made planning quadratic in the size of the operation).
type snapshot struct{ n, undo int }

func (p *planner) snapshot() snapshot {
	p.open++
	return snapshot{n: len(p.fetches), undo: len(p.undo)}
}

// restore undoes everything done since the snapshot and closes it.
func (p *planner) restore(s snapshot) {
	for i := len(p.undo) - 1; i >= s.undo; i-- {
		p.undo[i]()
		p.undo[i] = nil
	}
	p.undo = p.undo[:s.undo]
	for i := len(p.fetches) - 1; i >= s.n; i-- {
		p.unindex(p.fetches[i])
		p.fetches[i] = nil
	}
	p.fetches = p.fetches[:s.n]
	p.close()
}

// keep closes a snapshot, keeping what was done since (an enclosing snapshot
// can still undo it).
func (p *planner) keep(snapshot) { p.close() }

func (p *planner) close() {
	p.open--
	if p.open == 0 {
		clear(p.undo)
		p.undo = p.undo[:0]
	}
}

// journal records how to undo a change, when a snapshot is open.
func (p *planner) journal(undo func()) {
	if p.open > 0 {
		p.undo = append(p.undo, undo)
	}
}

// setNodes sets a selection list of the plan, journaled.
func (p *planner) setNodes(at *[]*sNode, v []*sNode) {
	if p.open > 0 {
		old := *at
		p.journal(func() { *at = old })
	}
	*at = v
}

// mergeInto merges nodes into a selection owned by a fetch (journaled: merging
// changes the children of the nodes already there). Such a selection grows one
// field at a time, so a long one keeps an index of its keys in *idx. The index
// is a hint checked against the list: undoing only ever shortens a list, so a
// key found at a position holding another key (or past the end) is absent.
func (p *planner) mergeInto(at *[]*sNode, idx *map[nodeKey]int, b []*sNode) {
	a := *at
	if *idx == nil && len(a)+len(b) > indexFrom {
		*idx = make(map[nodeKey]int, 2*(len(a)+len(b)))
		for i, m := range a {
			(*idx)[m.key()] = i
		}
	}
	for _, n := range b {
		k := n.key()
		var m *sNode
		if *idx != nil {
			if i, ok := (*idx)[k]; ok && i < len(a) && a[i].key() == k {
				m = a[i]
			}
		} else {
			for _, c := range a {
				if c.key() == k {
					m = c
					break
				}
			}
		}
		if m != nil {
			p.mergeInto(&m.children, &m.idx, n.children)
			continue
		}
		// The nodes merged in were just built for this fetch: they are taken
		// over, not copied.
		if *idx != nil {
			(*idx)[k] = len(a)
		}
		a = append(a, n)
	}
	p.setNodes(at, a)
}

func (p *planner) addDeps(fn *fetchNode, more ...*fetchNode) {
	if p.open > 0 {
		old := fn.deps
		p.journal(func() { fn.deps = old })
	}
	fn.deps = appendUnique(fn.deps, more...)
}

// childKey finds the entity fetches to one subgraph at one path under a fetch.
type childKey struct {
	parent                *fetchNode
	service, path, repSig string
}

func (p *planner) index(fn *fetchNode) {
	k := childKey{fn.parent, fn.service, strings.Join(fn.path, "."), fn.repSig}
	p.children[k] = append(p.children[k], fn)
}

// unindex removes a fetch created after a snapshot (the last of its key).
func (p *planner) unindex(fn *fetchNode) {
	if fn.parent == nil {
		return
	}
	k := childKey{fn.parent, fn.service, strings.Join(fn.path, "."), fn.repSig}
	list := p.children[k]
	if n := len(list); n > 0 && list[n-1] == fn {
		list[n-1] = nil
		if n == 1 {
			delete(p.children, k)
		} else {
			p.children[k] = list[:n-1]
		}
	}
}

func cloneNodes(nodes []*sNode) []*sNode {
	if nodes == nil {
		return nil
	}
	out := make([]*sNode, len(nodes))
	for i, n := range nodes {
		c := *n
		c.idx = nil
		c.children = cloneNodes(n.children)
		out[i] = &c
	}
	return out
}

// planFields plans the fields of one object type in one subgraph, adding entity
// fetches for the fields that subgraph cannot resolve. It returns the selection for
// the current fetch and the fetches it created (which produce some of the fields).
func (p *planner) planFields(fn *fetchNode, graph, typeName string, fields []*Field, path []string, provided ast.SelectionSet) ([]*sNode, []*fetchNode, error) {
	// The selected nodes are merged once at the end (merging one at a time into
	// a growing list would be quadratic in the width of the selection).
	var out []*sNode
	var producers []*fetchNode
	var pending []*Field
	for _, f := range fields {
		if err := p.step(); err != nil {
			return nil, nil, err
		}
		if f.Name == "__typename" {
			out = append(out, &sNode{name: "__typename", alias: aliasOf(f)})
			continue
		}
		sub, here := p.resolvableHere(typeName, f.Name, graph, provided)
		if !here {
			pending = append(pending, f)
			continue
		}
		snap := p.snapshot()
		n, prods, err := p.selectField(fn, graph, typeName, f, path, sub)
		if err != nil {
			p.restore(snap)
			if !errors.Is(err, ErrUnplannable) {
				return nil, nil, err
			}
			// Split the sub-selection: what this subgraph can plan stays here, the
			// rest is asked (as the same field) of a subgraph reached by a key.
			if here, rest := p.splitField(fn, graph, typeName, f, path, sub); here != nil && rest != nil {
				n, prods, err = p.selectField(fn, graph, typeName, here, path, sub)
				if err != nil {
					return nil, nil, err
				}
				producers = append(producers, prods...)
				out = append(out, n)
				pending = append(pending, rest)
				continue
			}
			if p.resolvableElsewhere(typeName, f.Name, graph) {
				pending = append(pending, f)
				continue
			}
			return nil, nil, err
		}
		p.keep(snap)
		producers = append(producers, prods...)
		out = append(out, n)
	}
	out = dedupe(out)
	if len(pending) > 0 {
		keys, prods, err := p.jump(fn, graph, typeName, pending, path, provided)
		if err != nil {
			return nil, nil, err
		}
		out = mergeNodes(out, keys)
		producers = append(producers, prods...)
	}
	return out, producers, nil
}

// recordAlternatives notes which subgraphs could resolve the value of a field: for
// a root or entity parent, every subgraph resolving the field; for a value-type
// parent, those of the parent's alternatives that resolve it.
func (p *planner) recordAlternatives(graph, parentType string, f *Field, path []string) {
	var alts []string
	pt := p.sg.Types[parentType]
	entity := false
	if pt != nil {
		for g := range pt.Graphs {
			if len(p.sg.ResolvableKeys(parentType, g)) > 0 {
				entity = true
			}
		}
	}
	root := p.sg.API.Query != nil && parentType == p.sg.API.Query.Name
	if root || entity {
		for _, g := range p.sg.Graphs {
			if p.resolvable(parentType, f.Name, g.Name) {
				alts = append(alts, g.Name)
			}
		}
	} else {
		parent := p.alts[strings.Join(path, ".")]
		if parent == nil {
			parent = []string{graph}
		}
		for _, g := range parent {
			if p.resolvable(parentType, f.Name, g) {
				alts = append(alts, g)
			}
		}
	}
	if !slices.Contains(alts, graph) {
		alts = []string{graph}
	}
	p.alts[strings.Join(appendPath(path, f), ".")] = alts
}

func (p *planner) possibleInAll(abstract, t string, graphs []string) bool {
	for _, g := range graphs {
		if !p.sg.PossibleIn(abstract, t, g) {
			return false
		}
	}
	return true
}

// splitField divides the object selection of a field into the sub-fields the
// subgraph can plan and the rest; nil when no useful split exists.
func (p *planner) splitField(fn *fetchNode, graph, typeName string, f *Field, path []string, provided ast.SelectionSet) (here, rest *Field) {
	if f.Selection == nil || f.Selection.Abstract {
		return nil, nil
	}
	sub := f.Selection.TypeName
	var ok, bad []*Field
	for _, sf := range f.Selection.Fields[sub] {
		one := restrict(f, sub, []*Field{sf})
		snap := p.snapshot()
		_, _, err := p.selectField(fn, graph, typeName, one, path, provided)
		p.restore(snap)
		if err == nil {
			ok = append(ok, sf)
		} else {
			bad = append(bad, sf)
		}
	}
	if len(ok) == 0 || len(bad) == 0 {
		return nil, nil
	}
	return restrict(f, sub, ok), restrict(f, sub, bad)
}

func (p *planner) resolvable(typeName, field, graph string) bool {
	return p.sg.ResolvableWith(typeName, field, graph, func(l string) bool { return p.labels[l] })
}

// selectField selects a field the subgraph resolves, planning its sub-selection.
func (p *planner) selectField(fn *fetchNode, graph, parentType string, f *Field, path []string, provided ast.SelectionSet) (*sNode, []*fetchNode, error) {
	if err := p.step(); err != nil {
		return nil, nil, err
	}
	n := &sNode{name: f.Name, alias: aliasOf(f), args: f.Arguments}
	if f.Selection == nil {
		return n, nil, nil
	}
	sel := f.Selection
	// In this subgraph the field may return a narrower type (an object where the
	// supergraph says union or interface): select that type's fields directly.
	if fg := p.sg.FieldIn(parentType, f.Name, graph); fg != nil && fg.Type != "" && sel.Abstract {
		local := strings.Trim(fg.Type, "[]!")
		if lt := p.sg.Types[local]; lt != nil && lt.Kind == ast.Object && local != sel.TypeName {
			children, prods, err := p.planFields(fn, graph, local, sel.FieldsFor(local), appendPath(path, f), provided)
			if err != nil {
				return nil, nil, err
			}
			n.children = mergeNodes([]*sNode{{name: "__typename"}}, children)
			return n, prods, nil
		}
	}
	p.recordAlternatives(graph, parentType, f, path)
	children, prods, err := p.planSelection(fn, graph, sel, appendPath(path, f), provided)
	if err != nil {
		return nil, nil, err
	}
	n.children = children
	return n, prods, nil
}

// resolvableHere reports whether the subgraph can select the field in place
// (itself or through @provides), and what the field provides below it.
func (p *planner) resolvableHere(typeName, field, graph string, provided ast.SelectionSet) (ast.SelectionSet, bool) {
	if fs, ok := providedField(provided, field, typeName); ok {
		return fs.SelectionSet, true
	}
	if !p.resolvable(typeName, field, graph) {
		return nil, false
	}
	fg := p.sg.FieldIn(typeName, field, graph)
	if fg != nil && fg.Requires != "" {
		return nil, false // needs the required fields in a representation first
	}
	var sub ast.SelectionSet
	if fg != nil && fg.Provides != "" {
		sub, _ = supergraph.ParseSelection(fg.Provides)
	}
	return sub, true
}

func (p *planner) resolvableElsewhere(typeName, field, graph string) bool {
	for _, g := range p.sg.Graphs {
		if g.Name != graph && p.targetFor(typeName, field, g.Name) != "" {
			return true
		}
	}
	return false
}

func providedField(provided ast.SelectionSet, field, typeName string) (*ast.Field, bool) {
	for _, s := range provided {
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == field {
				return s, true
			}
		case *ast.InlineFragment:
			if s.TypeCondition == "" || s.TypeCondition == typeName {
				if f, ok := providedField(s.SelectionSet, field, typeName); ok {
					return f, true
				}
			}
		}
	}
	return nil, false
}

// planSelection plans the selection of a composite field in one subgraph.
func (p *planner) planSelection(fn *fetchNode, graph string, sel *Selection, path []string, provided ast.SelectionSet) ([]*sNode, []*fetchNode, error) {
	if !sel.Abstract {
		return p.planFields(fn, graph, sel.TypeName, sel.Fields[sel.TypeName], path, provided)
	}
	if p.sg.IsInterfaceObject(sel.TypeName, graph) {
		return p.planInterfaceObject(fn, graph, sel, path, provided)
	}
	out := []*sNode{{name: "__typename"}}
	var producers []*fetchNode
	p.aliasConflicts(graph, sel)
	if len(sel.Types) == 1 && sel.Types[0] == sel.TypeName {
		// An interface without API implementations: select on the interface itself.
		nodes, prods, err := p.planFields(fn, graph, sel.TypeName, sel.Fields[sel.TypeName], path, provided)
		if err != nil {
			return nil, nil, err
		}
		return mergeNodes(out, nodes), prods, nil
	}
	alts := p.alts[strings.Join(path, ".")]
	for _, t := range sel.Types {
		tt := p.sg.Types[t]
		if tt == nil || !tt.InGraph(graph) || !p.sg.PossibleIn(sel.TypeName, t, graph) || !p.possibleInAll(sel.TypeName, t, alts) {
			continue
		}
		fields := sel.Fields[t]
		if len(fields) == 0 {
			continue
		}
		nodes, prods, err := p.planFields(fn, graph, t, fields, path, provided)
		if err != nil {
			return nil, nil, err
		}
		producers = append(producers, prods...)
		out = mergeNodes(out, []*sNode{{typeCond: t, children: nodes}})
	}
	return out, producers, nil
}

// planInterfaceObject plans an abstract selection in a subgraph that knows the
// interface only as an @interfaceObject: its objects come back with the interface's
// name as __typename. Fields selected alike for every type and known on the
// interface are planned on the interface itself; anything type-specific (including
// __typename) goes through the subgraph that owns the interface, which resolves the
// concrete type.
func (p *planner) planInterfaceObject(fn *fetchNode, graph string, sel *Selection, path []string, provided ast.SelectionSet) ([]*sNode, []*fetchNode, error) {
	iface := sel.TypeName
	it := p.sg.Types[iface]
	shared, uniform := p.sharedInterfaceFields(sel)
	if uniform {
		nodes, prods, err := p.planFields(fn, graph, iface, shared, path, provided)
		if err != nil {
			return nil, nil, err
		}
		return mergeNodes([]*sNode{{name: "__typename"}}, nodes), prods, nil
	}
	// Fields the interface object resolves here are selected here; the rest per type.
	var here []*Field
	for _, f := range shared {
		if _, ok := p.resolvableHere(iface, f.Name, graph, provided); ok && it.Fields[f.Name] != nil {
			here = append(here, f)
		}
	}
	out, producers, err := p.planFields(fn, graph, iface, here, path, provided)
	if err != nil {
		return nil, nil, err
	}
	var owner string
	var key *supergraph.Key
	for _, g := range p.sg.Graphs {
		if g.Name == graph || !it.InGraph(g.Name) || p.sg.IsInterfaceObject(iface, g.Name) {
			continue
		}
		if k := p.providableKey(fn, path, iface, iface, graph, g.Name, provided); k != nil {
			owner, key = g.Name, k
			break
		}
	}
	if owner == "" {
		return nil, nil, fmt.Errorf("%w: no subgraph resolves the concrete types of %s for subgraph %q", ErrUnplannable, iface, graph)
	}
	keySel := selectionNodes(key.Selection)
	keyFields, err := p.fieldsFromSet(iface, key.Selection)
	if err != nil {
		return nil, nil, err
	}
	kn, kprods, err := p.planFields(fn, graph, iface, keyFields, path, provided)
	if err != nil {
		return nil, nil, err
	}
	out = mergeNodes(out, append([]*sNode{{name: "__typename"}}, kn...))
	child := p.child(fn, owner, path, kprods, "")
	p.addDeps(child, kprods...)
	p.addRep(child, iface, iface, keySel, topLevelNames(key.Selection))
	inner := []*sNode{{name: "__typename"}}
	for _, t := range sel.Types {
		tt := p.sg.Types[t]
		if tt == nil || !tt.InGraph(owner) {
			continue
		}
		fields := withoutKeys(sel.Fields[t], here)
		if len(fields) == 0 {
			continue
		}
		nodes, prods, err := p.planFields(child, owner, t, fields, path, nil)
		if err != nil {
			return nil, nil, err
		}
		producers = append(producers, prods...)
		inner = mergeNodes(inner, []*sNode{{typeCond: t, children: nodes}})
	}
	p.addEntityFields(child, iface, inner)
	producers = append(producers, child)
	producers = append(producers, kprods...)
	return out, producers, nil
}

// sharedInterfaceFields returns the fields of the first possible type and whether
// every possible type selects the same interface fields (and no __typename).
func (p *planner) sharedInterfaceFields(sel *Selection) ([]*Field, bool) {
	if len(sel.Types) == 0 {
		return nil, true
	}
	first := sel.Fields[sel.Types[0]]
	it := p.sg.Types[sel.TypeName]
	uniform := true
	for _, f := range first {
		if f.Name == "__typename" || it.Fields[f.Name] == nil {
			uniform = false
		}
	}
	for _, t := range sel.Types[1:] {
		other := sel.Fields[t]
		if len(other) != len(first) {
			uniform = false
			break
		}
		for i := range other {
			if other[i].ResponseKey != first[i].ResponseKey || other[i].Name != first[i].Name {
				uniform = false
			}
		}
	}
	var shared []*Field
	for _, f := range first {
		if f.Name == "__typename" || it.Fields[f.Name] == nil {
			continue
		}
		inAll := true
		for _, t := range sel.Types[1:] {
			found := false
			for _, o := range sel.Fields[t] {
				if o.ResponseKey == f.ResponseKey && o.Name == f.Name {
					found = true
				}
			}
			inAll = inAll && found
		}
		if inAll {
			shared = append(shared, f)
		}
	}
	return shared, uniform
}

func withoutKeys(fields, drop []*Field) []*Field {
	var out []*Field
	for _, f := range fields {
		keep := true
		for _, d := range drop {
			if d.ResponseKey == f.ResponseKey {
				keep = false
			}
		}
		if keep {
			out = append(out, f)
		}
	}
	return out
}

// aliasConflicts gives an internal alias to fields that share a response key with a
// field of another possible type but have another type in this subgraph (the
// subgraph would reject the pair as a field conflict).
func (p *planner) aliasConflicts(graph string, sel *Selection) {
	first := map[string]string{}
	for _, t := range sel.Types {
		if tt := p.sg.Types[t]; tt == nil || !tt.InGraph(graph) {
			continue
		}
		for _, f := range sel.Fields[t] {
			if f.Def == nil || f.Name == "__typename" {
				continue
			}
			typ := f.Def.Type.String()
			if fg := p.sg.FieldIn(t, f.Name, graph); fg != nil && fg.Type != "" {
				typ = fg.Type
			}
			if seen, ok := first[f.ResponseKey]; !ok {
				first[f.ResponseKey] = typ
			} else if seen != typ {
				f.InternalKey = "_" + f.ResponseKey + "_" + t
			}
		}
	}
}

// targetFor tells whether a subgraph resolves the field of an entity through
// _entities, and under which type name (the type itself, or an interface that the
// subgraph has as @interfaceObject). Empty means it does not.
func (p *planner) targetFor(typeName, field, graph string) string {
	t := p.sg.Types[typeName]
	if t == nil {
		return ""
	}
	if t.InGraph(graph) {
		if p.resolvable(typeName, field, graph) && len(p.sg.ResolvableKeys(typeName, graph)) > 0 {
			return typeName
		}
		return ""
	}
	if t.Def == nil {
		return ""
	}
	for _, iface := range t.Def.Interfaces {
		if p.sg.IsInterfaceObject(iface, graph) && p.resolvable(iface, field, graph) && len(p.sg.ResolvableKeys(iface, graph)) > 0 {
			return iface
		}
	}
	return ""
}

// jump sends the pending fields of an entity to the subgraphs that resolve them,
// returning the key (and required) fields the current subgraph must select and the
// fetches created.
func (p *planner) jump(fn *fetchNode, graph, typeName string, pending []*Field, path []string, provided ast.SelectionSet) ([]*sNode, []*fetchNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxJumpDepth {
		return nil, nil, fmt.Errorf("%w: entity jumps nested deeper than %d at %s", ErrUnplannable, maxJumpDepth, typeName)
	}
	var keyNodes []*sNode
	var producers []*fetchNode
	remaining := pending
	for len(remaining) > 0 {
		if err := p.step(); err != nil {
			return nil, nil, err
		}
		var (
			bestGraph, bestAs string
			bestKey           *supergraph.Key
			bestCovered       []*Field
		)
		for _, g := range p.sg.Graphs {
			var covered []*Field
			as := ""
			for _, f := range remaining {
				a := p.targetFor(typeName, f.Name, g.Name)
				if a == "" || (as != "" && a != as) {
					continue
				}
				if g.Name == graph && !p.hasRequires(typeName, f.Name, graph) {
					continue // only a field with @requires goes back to its own subgraph
				}
				as = a
				covered = append(covered, f)
			}
			if len(covered) <= len(bestCovered) {
				continue
			}
			key := p.providableKey(fn, path, typeName, as, graph, g.Name, provided)
			if key == nil {
				continue
			}
			// A field of the key itself is not fetched through that key.
			covered = withoutNames(covered, topLevelNames(key.Selection))
			// Keep only the fields whose selections the target can plan.
			covered = p.plannableIn(fn, g.Name, as, covered, path)
			if len(covered) <= len(bestCovered) {
				continue
			}
			bestGraph, bestAs, bestKey, bestCovered = g.Name, as, key, covered
		}
		if bestGraph == "" {
			if split := p.splitPending(fn, graph, typeName, remaining, path); split != nil {
				remaining = split
				continue
			}
			names := make([]string, len(remaining))
			for i, f := range remaining {
				names[i] = typeName + "." + f.Name
			}
			return nil, nil, fmt.Errorf("%w: %s cannot be reached from subgraph %q", ErrUnplannable, strings.Join(names, ", "), graph)
		}
		keySel := selectionNodes(bestKey.Selection)
		// Key fields the current subgraph selects (plain, or through further jumps).
		keyFields, err := p.fieldsFromSet(typeName, bestKey.Selection)
		if err != nil {
			return nil, nil, err
		}
		var kn []*sNode
		var kprods []*fetchNode
		if p.canSelect(typeName, graph, bestKey.Selection, provided) {
			kn = cloneNodes(keySel) // the subgraph has the key (possibly as @external reference fields)
		} else if kn, kprods, err = p.planFields(fn, graph, typeName, keyFields, path, provided); err != nil {
			return nil, nil, err
		}
		keyNodes = mergeNodes(keyNodes, append([]*sNode{{name: "__typename"}}, kn...))
		deps := append([]*fetchNode(nil), kprods...)
		repSel := append([]*sNode(nil), keySel...)
		// @requires: the required fields must be in the representation, fetched first.
		bestCovered, repSig := p.compatibleRequires(typeName, bestAs, bestGraph, bestCovered)
		for _, f := range bestCovered {
			fg := p.sg.FieldIn(bestAs, f.Name, bestGraph)
			if fg == nil || fg.Requires == "" {
				continue
			}
			reqSet, err := supergraph.ParseSelection(fg.Requires)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %s.%s @requires(%q): %w", ErrUnplannable, typeName, f.Name, fg.Requires, err)
			}
			reqFields, err := p.fieldsFromSet(typeName, reqSet)
			if err != nil {
				return nil, nil, err
			}
			rn, rprods, err := p.planFields(fn, graph, typeName, reqFields, path, provided)
			if err != nil {
				return nil, nil, err
			}
			keyNodes = mergeNodes(keyNodes, rn)
			deps = append(deps, rprods...)
			repSel = mergeNodes(repSel, repNodes(reqFields))
		}
		child := p.child(fn, bestGraph, path, deps, repSig)
		p.addDeps(child, deps...)
		p.addRep(child, typeName, bestAs, repSel, topLevelNames(bestKey.Selection))
		// The covered fields are resolved by the target itself: their @requires are in
		// the representation.
		var nodes []*sNode
		var prods []*fetchNode
		for _, f := range bestCovered {
			var sub ast.SelectionSet
			if fg := p.sg.FieldIn(bestAs, f.Name, bestGraph); fg != nil && fg.Provides != "" {
				sub, _ = supergraph.ParseSelection(fg.Provides)
			}
			n, fprods, err := p.selectField(child, bestGraph, bestAs, f, path, sub)
			if err != nil {
				return nil, nil, err
			}
			nodes = append(nodes, n)
			prods = append(prods, fprods...)
		}
		nodes = dedupe(nodes)
		p.addEntityFields(child, bestAs, nodes)
		producers = append(producers, child)
		producers = append(producers, kprods...)
		producers = append(producers, deps...)
		producers = append(producers, prods...)
		remaining = without(remaining, bestCovered)
	}
	return keyNodes, producers, nil
}

// splitPending looks for a pending field whose object selection no single target
// can plan but some target can plan part of: it returns the pending list with that
// field replaced by the two parts, or nil.
func (p *planner) splitPending(fn *fetchNode, graph, typeName string, pending []*Field, path []string) []*Field {
	for i, f := range pending {
		if f.Selection == nil || f.Selection.Abstract {
			continue
		}
		sub := f.Selection.TypeName
		for _, g := range p.sg.Graphs {
			as := p.targetFor(typeName, f.Name, g.Name)
			if as == "" || g.Name == graph {
				continue
			}
			var ok, bad []*Field
			for _, sf := range f.Selection.Fields[sub] {
				if len(p.plannableIn(fn, g.Name, as, []*Field{restrict(f, sub, []*Field{sf})}, path)) == 1 {
					ok = append(ok, sf)
				} else {
					bad = append(bad, sf)
				}
			}
			if len(ok) > 0 && len(bad) > 0 {
				out := append([]*Field(nil), pending[:i]...)
				out = append(out, restrict(f, sub, ok), restrict(f, sub, bad))
				return append(out, pending[i+1:]...)
			}
		}
	}
	return nil
}

// plannableIn returns the fields (resolved by the target through an entity fetch)
// whose sub-selections the target can plan, trying each on a scratch copy.
func (p *planner) plannableIn(fn *fetchNode, graph, as string, fields []*Field, path []string) []*Field {
	var out []*Field
	for _, f := range fields {
		if f.Selection == nil {
			out = append(out, f)
			continue
		}
		k := plannableKey{graph: graph, typeName: as, field: f}
		ok, known := p.plannable[k]
		if !known {
			snap := p.snapshot()
			scratch := p.newFetch(graph, path, fn)
			_, _, err := p.selectField(scratch, graph, as, f, path, nil)
			p.restore(snap)
			ok = err == nil
			p.plannable[k] = ok
		}
		if ok {
			out = append(out, f)
		}
	}
	return out
}

// compatibleRequires keeps the fields whose @requires agree on the arguments of
// every required field (the others wait for another fetch) and returns the
// signature of those arguments.
func (p *planner) compatibleRequires(typeName, as, graph string, fields []*Field) ([]*Field, string) {
	args := map[string]string{}
	var out []*Field
	for _, f := range fields {
		fg := p.sg.FieldIn(as, f.Name, graph)
		if fg == nil || fg.Requires == "" {
			out = append(out, f)
			continue
		}
		set, err := supergraph.ParseSelection(fg.Requires)
		if err != nil {
			out = append(out, f)
			continue
		}
		mine := map[string]string{}
		collectArgs(set, "", mine)
		ok := true
		for k, v := range mine {
			if have, seen := args[k]; seen && have != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for k, v := range mine {
			args[k] = v
		}
		out = append(out, f)
	}
	keys := make([]string, 0, len(args))
	for k, v := range args {
		if v != "" {
			keys = append(keys, k+"("+v+")")
		}
	}
	sort.Strings(keys)
	return out, strings.Join(keys, ",")
}

func collectArgs(set ast.SelectionSet, prefix string, out map[string]string) {
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			var parts []string
			for _, a := range s.Arguments {
				parts = append(parts, a.Name+":"+a.Value.String())
			}
			out[prefix+s.Name] = strings.Join(parts, ",")
			collectArgs(s.SelectionSet, prefix+s.Name+".", out)
		case *ast.InlineFragment:
			collectArgs(s.SelectionSet, prefix, out)
		}
	}
}

// argsHash is a short stable name for a list of arguments.
func argsHash(args ast.ArgumentList) string {
	h := fnv.New32a()
	for _, a := range args {
		h.Write([]byte(a.Name + ":" + a.Value.String() + ";"))
	}
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}

// repNodes is the representation selection of required fields: the field's name,
// read from its data key.
func repNodes(fields []*Field) []*sNode {
	var out []*sNode
	for _, f := range fields {
		n := &sNode{name: f.Name, alias: aliasOf(f)}
		if f.Selection != nil {
			if f.Selection.Abstract {
				for _, t := range f.Selection.Types {
					n.children = mergeNodes(n.children, []*sNode{{typeCond: t, children: repNodes(f.Selection.Fields[t])}})
				}
			} else {
				n.children = repNodes(f.Selection.Fields[f.Selection.TypeName])
			}
		}
		out = append(out, n)
	}
	return dedupe(out)
}

func (p *planner) hasRequires(typeName, field, graph string) bool {
	fg := p.sg.FieldIn(typeName, field, graph)
	return fg != nil && fg.Requires != ""
}

// fieldsFromSet turns a field set (a key or @requires) into normalized fields.
func (p *planner) fieldsFromSet(typeName string, set ast.SelectionSet) ([]*Field, error) {
	t := p.sg.Types[typeName]
	if t == nil {
		return nil, fmt.Errorf("%w: unknown type %s", ErrUnplannable, typeName)
	}
	var out []*Field
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == "__typename" {
				out = append(out, &Field{ResponseKey: "__typename", Name: "__typename"})
				continue
			}
			fd := t.Fields[s.Name]
			if fd == nil {
				return nil, fmt.Errorf("%w: field set names unknown field %s.%s", ErrUnplannable, typeName, s.Name)
			}
			f := &Field{ResponseKey: s.Name, Name: s.Name, Arguments: s.Arguments, Def: fd.Def}
			if len(s.Arguments) > 0 {
				// A required field with arguments gets its own alias, so that the same
				// field required with other arguments does not overwrite it.
				f.ResponseKey = "_r_" + s.Name + "_" + argsHash(s.Arguments)
			}
			if len(s.SelectionSet) > 0 {
				sub, err := p.selectionFromSet(fd.Def.Type.Name(), s.SelectionSet)
				if err != nil {
					return nil, err
				}
				f.Selection = sub
			}
			out = append(out, f)
		case *ast.InlineFragment:
			if p.applies(s.TypeCondition, typeName) {
				more, err := p.fieldsFromSet(typeName, s.SelectionSet)
				if err != nil {
					return nil, err
				}
				out = append(out, more...)
			}
		}
	}
	return out, nil
}

func (p *planner) selectionFromSet(typeName string, set ast.SelectionSet) (*Selection, error) {
	t := p.sg.Types[typeName]
	if t == nil {
		return nil, fmt.Errorf("%w: unknown type %s", ErrUnplannable, typeName)
	}
	sel := &Selection{TypeName: typeName, Fields: map[string][]*Field{}}
	if t.Kind == ast.Object {
		sel.Types = []string{typeName}
	} else {
		sel.Abstract = true
		sel.Types = p.sg.PossibleTypes(typeName)
	}
	for _, pt := range sel.Types {
		fields, err := p.fieldsFromSet(pt, set)
		if err != nil {
			return nil, err
		}
		sel.Fields[pt] = fields
	}
	return sel, nil
}

// applies reports whether a type condition matches an object type.
func (p *planner) applies(cond, typeName string) bool {
	if cond == "" || cond == typeName {
		return true
	}
	for _, t := range p.sg.PossibleTypes(cond) {
		if t == typeName {
			return true
		}
	}
	return false
}

// providableKey returns a resolvable key of the entity (as seen by the target) whose
// fields the source subgraph can provide: itself, or through further jumps (tried
// on a scratch copy of the plan).
func (p *planner) providableKey(fn *fetchNode, path []string, typeName, as, source, target string, provided ast.SelectionSet) *supergraph.Key {
	keys := p.sg.ResolvableKeys(as, target)
	for _, k := range keys {
		if p.canSelect(typeName, source, k.Selection, provided) {
			return k
		}
	}
	memo := keyPathKey{typeName, as, source, target}
	if provided == nil {
		if k, ok := p.keys[memo]; ok {
			return k // also nil while this very key path is being worked out (a cycle)
		}
		p.keys[memo] = nil
	}
	var found *supergraph.Key
	for _, k := range keys {
		fields, err := p.fieldsFromSet(typeName, k.Selection)
		if err != nil {
			continue
		}
		snap := p.snapshot()
		_, _, err = p.planFields(fn, source, typeName, fields, path, provided)
		p.restore(snap)
		if err == nil {
			found = k
			break
		}
	}
	if provided == nil {
		p.keys[memo] = found
	}
	return found
}

// canSelect reports whether the subgraph can select the field set itself.
func (p *planner) canSelect(typeName, graph string, sel ast.SelectionSet, provided ast.SelectionSet) bool {
	t := p.sg.Types[typeName]
	if t == nil || !t.InGraph(graph) && !p.interfaceObjectIn(typeName, graph) {
		return false
	}
	for _, s := range sel {
		f, ok := s.(*ast.Field)
		if !ok {
			continue
		}
		if f.Name == "__typename" {
			continue
		}
		sub, here := p.resolvableHere(typeName, f.Name, graph, provided)
		if !here {
			return false
		}
		if len(f.SelectionSet) > 0 {
			fd := t.Fields[f.Name]
			if fd == nil || !p.canSelect(fd.Def.Type.Name(), graph, f.SelectionSet, sub) {
				return false
			}
		}
	}
	return true
}

func (p *planner) interfaceObjectIn(typeName, graph string) bool {
	t := p.sg.Types[typeName]
	if t == nil || t.Def == nil {
		return false
	}
	for _, i := range t.Def.Interfaces {
		if p.sg.IsInterfaceObject(i, graph) {
			return true
		}
	}
	return false
}

// child returns the entity fetch to a subgraph at a path under fn, reusing one that
// does not depend on the given fetches (which would make a cycle).
func (p *planner) child(fn *fetchNode, service string, path []string, deps []*fetchNode, repSig string) *fetchNode {
	for _, c := range p.children[childKey{fn, service, strings.Join(path, "."), repSig}] {
		if c.dead {
			continue
		}
		if dependsOnAny(deps, c) {
			continue
		}
		return c
	}
	c := p.newFetch(service, path, fn)
	c.repSig = repSig
	p.index(c)
	return c
}

// dependsOnAny reports whether any of the fetches is c or (transitively) depends on c.
func dependsOnAny(fetches []*fetchNode, c *fetchNode) bool {
	seen := map[*fetchNode]bool{}
	var walk func(f *fetchNode) bool
	walk = func(f *fetchNode) bool {
		if f == nil || seen[f] {
			return false
		}
		seen[f] = true
		if f == c {
			return true
		}
		if walk(f.parent) {
			return true
		}
		for _, d := range f.deps {
			if walk(d) {
				return true
			}
		}
		return false
	}
	for _, f := range fetches {
		if walk(f) {
			return true
		}
	}
	return false
}

func appendUnique(list []*fetchNode, more ...*fetchNode) []*fetchNode {
	for _, m := range more {
		found := false
		for _, l := range list {
			if l == m {
				found = true
				break
			}
		}
		if !found {
			list = append(list, m)
		}
	}
	return list
}

func (p *planner) addRep(fn *fetchNode, typeName, as string, sel []*sNode, keys []string) {
	r, ok := fn.reps[typeName]
	if !ok {
		r = &repSpec{as: as}
		fn.reps[typeName] = r
		order := fn.repOrder
		fn.repOrder = append(fn.repOrder, typeName)
		p.journal(func() { delete(fn.reps, typeName); fn.repOrder = order })
	}
	p.mergeInto(&r.sel, &r.idx, sel)
	old := r.keys
	for _, k := range keys {
		if !slices.Contains(r.keys, k) {
			r.keys = append(r.keys, k)
		}
	}
	if len(r.keys) != len(old) {
		p.journal(func() { r.keys = old })
	}
}

func withoutNames(fields []*Field, names []string) []*Field {
	var out []*Field
	for _, f := range fields {
		if !slices.Contains(names, f.Name) {
			out = append(out, f)
		}
	}
	return out
}

func topLevelNames(set ast.SelectionSet) []string {
	var out []string
	for _, s := range set {
		if f, ok := s.(*ast.Field); ok {
			out = append(out, f.Name)
		}
	}
	return out
}

func (p *planner) addEntityFields(fn *fetchNode, typeName string, nodes []*sNode) {
	p.mergeInto(&fn.sel, &fn.selIdx, []*sNode{{typeCond: typeName, children: nodes}})
}

func appendPath(path []string, f *Field) []string {
	lists := 0
	for t := f.Def.Type; t != nil && t.Elem != nil; t = t.Elem {
		lists++
	}
	out := make([]string, len(path), len(path)+1+lists)
	copy(out, path)
	out = append(out, f.DataKey())
	for range lists {
		out = append(out, "@")
	}
	return out
}

func aliasOf(f *Field) string {
	if k := f.DataKey(); k != f.Name {
		return k
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

// schedule orders the fetches into plan nodes: a tree of Sequence/Parallel when
// each fetch waits only for its parent, otherwise levels by dependency depth.
func (p *planner) schedule(out *Plan) Node {
	var live []*fetchNode
	for _, f := range p.fetches {
		if !f.dead && (len(f.sel) > 0 || !f.entity) {
			live = append(live, f)
		}
	}
	if len(live) == 0 {
		return nil
	}
	fetches := map[*fetchNode]*Fetch{}
	for _, fn := range live {
		fetches[fn] = p.finishFetch(fn, out)
	}
	node := func(fn *fetchNode) Node {
		if fn.entity {
			return &Flatten{Path: fn.path, Node: fetches[fn]}
		}
		return fetches[fn]
	}
	treeShaped := true
	for _, fn := range live {
		if len(fn.deps) > 0 {
			treeShaped = false
		}
	}
	if treeShaped {
		children := map[*fetchNode][]*fetchNode{}
		var roots []*fetchNode
		for _, fn := range live {
			if fn.parent == nil {
				roots = append(roots, fn)
			} else {
				children[fn.parent] = append(children[fn.parent], fn)
			}
		}
		var subtree func(fn *fetchNode) Node
		subtree = func(fn *fetchNode) Node {
			kids := children[fn]
			if len(kids) == 0 {
				return node(fn)
			}
			var ks []Node
			for _, k := range kids {
				ks = append(ks, subtree(k))
			}
			if len(ks) == 1 {
				if seq, ok := ks[0].(*Sequence); ok {
					return &Sequence{Nodes: append([]Node{node(fn)}, seq.Nodes...)}
				}
				return &Sequence{Nodes: []Node{node(fn), ks[0]}}
			}
			return &Sequence{Nodes: []Node{node(fn), &Parallel{Nodes: ks}}}
		}
		var rs []Node
		for _, r := range roots {
			rs = append(rs, subtree(r))
		}
		if len(rs) == 1 {
			return rs[0]
		}
		if p.op.Operation == ast.Mutation {
			return &Sequence{Nodes: rs}
		}
		return &Parallel{Nodes: rs}
	}
	// Levels: a fetch runs after its parent and its dependencies.
	level := map[*fetchNode]int{}
	var depth func(fn *fetchNode) int
	depth = func(fn *fetchNode) int {
		if d, ok := level[fn]; ok {
			return d
		}
		level[fn] = 0
		d := 0
		for _, dep := range append([]*fetchNode{fn.parent}, fn.deps...) {
			if dep == nil || dep.dead {
				continue
			}
			if dd := depth(dep) + 1; dd > d {
				d = dd
			}
		}
		level[fn] = d
		return d
	}
	maxLevel := 0
	for _, fn := range live {
		if d := depth(fn); d > maxLevel {
			maxLevel = d
		}
	}
	var seq []Node
	for l := 0; l <= maxLevel; l++ {
		var ns []Node
		for _, fn := range live {
			if level[fn] == l {
				ns = append(ns, node(fn))
			}
		}
		switch len(ns) {
		case 0:
		case 1:
			seq = append(seq, ns[0])
		default:
			seq = append(seq, &Parallel{Nodes: ns})
		}
	}
	if len(seq) == 1 {
		return seq[0]
	}
	return &Sequence{Nodes: seq}
}

func (p *planner) finishFetch(fn *fetchNode, out *Plan) *Fetch {
	f := &Fetch{
		ID:            len(out.Fetches),
		ServiceName:   fn.service,
		OperationKind: string(p.op.Operation),
		Entity:        fn.entity,
	}
	if fn.entity {
		f.OperationKind = string(ast.Query)
		for _, t := range fn.repOrder {
			r := fn.reps[t]
			f.Requires = append(f.Requires, &RepresentationSpec{TypeName: t, As: r.as, Selection: toSelection(r.sel), KeyFields: r.keys})
		}
		sort.SliceStable(f.Requires, func(i, j int) bool { return f.Requires[i].TypeName < f.Requires[j].TypeName })
	}
	f.Operation, f.Variables = p.print(fn, f)
	out.Fetches = append(out.Fetches, f)
	return f
}
