package limits

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/supergraph"
)

// Model estimates what an operation costs, as Apollo's demand control and the
// IBM GraphQL cost specification do: every object (or interface, union) the
// operation asks for costs 1 and every scalar or enum 0, unless @cost gives
// the field, its type or one of its arguments (or input fields) a weight;
// a list multiplies the cost of its items by its size, taken from the slicing
// argument named by @listSize (first: 20 → 20), else @listSize(assumedSize:),
// else the default list size; @listSize(sizedFields:) gives that size to the
// named sub-fields instead. A mutation costs 10 more. The estimate is an upper
// bound computed from the operation alone, before anything runs.
type Model struct {
	fieldWeight map[string]float64 // Type.field
	typeWeight  map[string]float64
	argWeight   map[string]map[string]float64 // Type.field → argument → weight
	inputWeight map[string]map[string]float64 // input type → field → weight
	listSizes   map[string]*listSize          // Type.field
	schema      *ast.Schema
	defaultList float64
}

type listSize struct {
	assumed        *float64
	slicing, sized []string
}

// NewModel reads the @cost and @listSize directives of a supergraph (by the
// names its @link gives them). defaultListSize is the size assumed for a list
// without @listSize (10 when not positive).
func NewModel(sg *supergraph.Supergraph, defaultListSize int) *Model {
	if defaultListSize <= 0 {
		defaultListSize = 10
	}
	m := &Model{
		fieldWeight: map[string]float64{}, typeWeight: map[string]float64{},
		argWeight: map[string]map[string]float64{}, inputWeight: map[string]map[string]float64{},
		listSizes: map[string]*listSize{}, schema: sg.API, defaultList: float64(defaultListSize),
	}
	costName, listName := sg.CostDirectives()
	weight := func(dirs ast.DirectiveList) (float64, bool) {
		d := dirs.ForName(costName)
		if d == nil {
			return 0, false
		}
		a := d.Arguments.ForName("weight")
		if a == nil || a.Value == nil {
			return 0, false
		}
		w, err := strconv.ParseFloat(a.Value.Raw, 64)
		return w, err == nil
	}
	for name, t := range sg.Types {
		if t.Def == nil {
			continue
		}
		if w, ok := weight(t.Def.Directives); ok {
			m.typeWeight[name] = w
		}
		for _, f := range t.Def.Fields {
			coord := name + "." + f.Name
			if w, ok := weight(f.Directives); ok {
				if t.Kind == ast.InputObject {
					if m.inputWeight[name] == nil {
						m.inputWeight[name] = map[string]float64{}
					}
					m.inputWeight[name][f.Name] = w
				} else {
					m.fieldWeight[coord] = w
				}
			}
			for _, a := range f.Arguments {
				if w, ok := weight(a.Directives); ok {
					if m.argWeight[coord] == nil {
						m.argWeight[coord] = map[string]float64{}
					}
					m.argWeight[coord][a.Name] = w
				}
			}
			if d := f.Directives.ForName(listName); d != nil {
				m.listSizes[coord] = readListSize(d)
			}
		}
	}
	return m
}

func readListSize(d *ast.Directive) *listSize {
	ls := &listSize{}
	for _, a := range d.Arguments {
		if a.Value == nil {
			continue
		}
		switch a.Name {
		case "assumedSize":
			if v, err := strconv.ParseFloat(a.Value.Raw, 64); err == nil {
				ls.assumed = &v
			}
		case "slicingArguments", "sizedFields":
			var names []string
			for _, c := range a.Value.Children {
				names = append(names, c.Value.Raw)
			}
			if a.Name == "sizedFields" {
				ls.sized = names
			} else {
				ls.slicing = names
			}
		}
	}
	return ls
}

// Estimate returns the estimated cost of an operation of a validated document
// with its coerced variables. Fragments are estimated once each where they
// can be (memoized), so the estimate is linear in the size of the document.
func (m *Model) Estimate(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) float64 {
	e := estimator{m: m, doc: doc, vars: vars, memo: map[string]float64{}, busy: map[string]bool{}}
	cost := e.selection(op.SelectionSet, nil)
	if op.Operation == ast.Mutation {
		cost += 10
	}
	return cost
}

// Check returns a Violation when the estimate is over max (no limit when max
// is not positive).
func (m *Model) Check(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, max float64) *Violation {
	if max <= 0 {
		return nil
	}
	if c := m.Estimate(doc, op, vars); c > max {
		return violation(CodeCost, "the operation's estimated cost %s is over the %s allowed", count(c), count(max))
	}
	return nil
}

type estimator struct {
	m    *Model
	doc  *ast.QueryDocument
	vars map[string]any
	memo map[string]float64
	busy map[string]bool
}

// selection sums the costs of a selection set; sized gives list sizes to some
// of its fields (from the parent's @listSize(sizedFields:)).
func (e *estimator) selection(ss ast.SelectionSet, sized map[string]float64) float64 {
	var cost float64
	for _, s := range ss {
		switch s := s.(type) {
		case *ast.Field:
			if e.skipped(s.Directives) {
				continue
			}
			cost += e.field(s, sized)
		case *ast.InlineFragment:
			if e.skipped(s.Directives) {
				continue
			}
			cost += e.selection(s.SelectionSet, sized)
		case *ast.FragmentSpread:
			if e.skipped(s.Directives) {
				continue
			}
			cost += e.fragment(s.Name, sized)
		}
	}
	return cost
}

func (e *estimator) fragment(name string, sized map[string]float64) float64 {
	if sized == nil {
		if c, ok := e.memo[name]; ok {
			return c
		}
	}
	f := e.doc.Fragments.ForName(name)
	if f == nil || e.busy[name] {
		return 0
	}
	e.busy[name] = true
	c := e.selection(f.SelectionSet, sized)
	delete(e.busy, name)
	if sized == nil {
		e.memo[name] = c
	}
	return c
}

func (e *estimator) field(f *ast.Field, sized map[string]float64) float64 {
	def := f.Definition
	if def == nil || strings.HasPrefix(f.Name, "__") {
		return 0 // __typename and introspection are answered by the router
	}
	parent := ""
	if f.ObjectDefinition != nil {
		parent = f.ObjectDefinition.Name
	}
	coord := parent + "." + f.Name
	named := def.Type.Name()

	typeCost, ok := e.m.fieldWeight[coord]
	if !ok {
		typeCost, ok = e.m.typeWeight[named]
	}
	if !ok {
		if t := e.m.schema.Types[named]; t != nil && (t.Kind == ast.Object || t.Kind == ast.Interface || t.Kind == ast.Union) {
			typeCost = 1
		}
	}

	var argCost float64
	weights := e.m.argWeight[coord]
	for _, a := range f.Arguments {
		argCost += weights[a.Name]
		if ad := def.Arguments.ForName(a.Name); ad != nil {
			argCost += e.inputCost(ad.Type, a.Value)
		}
	}

	// The size @listSize gives applies to this field, or with sizedFields to
	// those of its sub-fields.
	ls := e.m.listSizes[coord]
	var below map[string]float64
	if ls != nil && len(ls.sized) > 0 {
		size := e.listSize(ls, f)
		below = make(map[string]float64, len(ls.sized))
		for _, n := range ls.sized {
			below[n] = size
		}
	}
	instances := 1.0
	if isList(def.Type) {
		if s, ok := sized[f.Name]; ok {
			instances = s
		} else if ls != nil && len(ls.sized) == 0 {
			instances = e.listSize(ls, f)
		} else {
			instances = e.m.defaultList
		}
	}
	return instances*(typeCost+e.selection(f.SelectionSet, below)) + argCost
}

// listSize is the size @listSize gives a field: the largest slicing argument
// given, else assumedSize, else the default.
func (e *estimator) listSize(ls *listSize, f *ast.Field) float64 {
	found, best := false, 0.0
	for _, name := range ls.slicing {
		a := f.Arguments.ForName(name)
		if a == nil {
			continue
		}
		if v, ok := e.number(a.Value); ok {
			if !found || v > best {
				best = v
			}
			found = true
		}
	}
	switch {
	case found:
		return best
	case ls.assumed != nil:
		return *ls.assumed
	default:
		return e.m.defaultList
	}
}

// inputCost is the weight of the input fields with @cost in an argument value.
func (e *estimator) inputCost(t *ast.Type, v *ast.Value) float64 {
	if v == nil || len(e.m.inputWeight) == 0 {
		return 0
	}
	var cost float64
	switch v.Kind {
	case ast.ListValue:
		elem := t
		if t.Elem != nil {
			elem = t.Elem
		}
		for _, c := range v.Children {
			cost += e.inputCost(elem, c.Value)
		}
	case ast.ObjectValue:
		weights := e.m.inputWeight[t.Name()]
		def := e.m.schema.Types[t.Name()]
		for _, c := range v.Children {
			cost += weights[c.Name]
			if def != nil {
				if fd := def.Fields.ForName(c.Name); fd != nil {
					cost += e.inputCost(fd.Type, c.Value)
				}
			}
		}
	}
	return cost
}

func (e *estimator) number(v *ast.Value) (float64, bool) {
	if v == nil {
		return 0, false
	}
	switch v.Kind {
	case ast.IntValue, ast.FloatValue:
		f, err := strconv.ParseFloat(v.Raw, 64)
		return f, err == nil
	case ast.Variable:
		switch n := e.vars[v.Raw].(type) {
		case int:
			return float64(n), true
		case int32:
			return float64(n), true
		case int64:
			return float64(n), true
		case float64:
			return n, true
		case json.Number:
			f, err := n.Float64()
			return f, err == nil
		case string:
			f, err := strconv.ParseFloat(n, 64)
			return f, err == nil
		default:
			if n != nil {
				f, err := strconv.ParseFloat(fmt.Sprint(n), 64)
				return f, err == nil
			}
		}
	}
	return 0, false
}

func (e *estimator) skipped(dirs ast.DirectiveList) bool {
	for _, d := range dirs {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		a := d.Arguments.ForName("if")
		if a == nil || a.Value == nil {
			continue
		}
		b := a.Value.Raw == "true"
		if a.Value.Kind == ast.Variable {
			b, _ = e.vars[a.Value.Raw].(bool)
		}
		if d.Name == "skip" && b || d.Name == "include" && !b {
			return true
		}
	}
	return false
}

func isList(t *ast.Type) bool {
	for ; t != nil; t = t.Elem {
		if t.Elem != nil {
			return true
		}
	}
	return false
}
