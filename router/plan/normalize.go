package plan

import (
	"fmt"
	"sort"

	"github.com/vektah/gqlparser/v2/ast"
)

// Field is one field of the normalized operation: fragments are inlined,
// @skip/@include are applied and fields with the same response key are merged.
type Field struct {
	ResponseKey string
	Name        string
	Arguments   ast.ArgumentList
	Def         *ast.FieldDefinition
	// Selection is nil for leaf fields.
	Selection *Selection
	// InternalKey, when set, is the alias used in subgraph operations instead of
	// ResponseKey: two fragments on different types select the same response key
	// with different types, which a subgraph would reject as a field conflict.
	InternalKey string
	// Enum is the field's enum type when its named type is one (its values are
	// checked against the API schema when the response is written).
	Enum *ast.Definition
	// Unauthorized marks a field the request may not see (router/authz): it is not
	// planned, and the response has null and an UNAUTHORIZED_FIELD_OR_TYPE error there.
	Unauthorized bool
}

// DataKey is the key of the field's value in subgraph responses.
func (f *Field) DataKey() string {
	if f.InternalKey != "" {
		return f.InternalKey
	}
	return f.ResponseKey
}

// Selection is the normalized selection set of a composite type: for an object
// type, one field list; for an abstract type, one field list per possible type.
type Selection struct {
	TypeName string
	Abstract bool
	// Types are the possible concrete types in a stable order.
	Types []string
	// Fields holds, per concrete type, the fields in response order.
	Fields map[string][]*Field
	// Unauthorized holds the concrete types whose objects the request may not see
	// (router/authz): only their __typename is written, with an error at the object.
	Unauthorized map[string]bool
}

// FieldsFor returns the fields to write for an object of the given concrete type.
func (s *Selection) FieldsFor(typeName string) []*Field {
	if !s.Abstract {
		return s.Fields[s.TypeName]
	}
	return s.Fields[typeName]
}

// Conditions holds the values of the variables used by @skip and @include.
type Conditions map[string]bool

type normalizer struct {
	schema    *ast.Schema
	fragments ast.FragmentDefinitionList
	conds     Conditions
	depth     int
}

// Normalize turns a validated operation into its normalized selection tree.
func Normalize(schema *ast.Schema, doc *ast.QueryDocument, op *ast.OperationDefinition, conds Conditions) (*Selection, error) {
	n := &normalizer{schema: schema, fragments: doc.Fragments, conds: conds}
	var root *ast.Definition
	switch op.Operation {
	case ast.Mutation:
		root = schema.Mutation
	case ast.Subscription:
		root = schema.Subscription
	default:
		root = schema.Query
	}
	if root == nil {
		return nil, fmt.Errorf("schema has no %s type", op.Operation)
	}
	return n.selection(root, []ast.SelectionSet{op.SelectionSet})
}

func (n *normalizer) selection(def *ast.Definition, sets []ast.SelectionSet) (*Selection, error) {
	n.depth++
	defer func() { n.depth-- }()
	if n.depth > 200 {
		return nil, fmt.Errorf("selection nested too deeply")
	}
	s := &Selection{TypeName: def.Name, Fields: map[string][]*Field{}}
	if def.IsAbstractType() {
		s.Abstract = true
		for _, pt := range n.schema.GetPossibleTypes(def) {
			s.Types = append(s.Types, pt.Name)
		}
		sort.Strings(s.Types)
		if len(s.Types) == 0 {
			// An interface no API type implements (e.g. only @interfaceObject
			// subgraphs know it): its objects are written by the interface's fields.
			s.Types = []string{def.Name}
		}
	} else {
		s.Types = []string{def.Name}
	}
	for _, t := range s.Types {
		fields, err := n.collect(n.schema.Types[t], sets)
		if err != nil {
			return nil, err
		}
		s.Fields[t] = fields
	}
	return s, nil
}

// collect gathers the fields that apply to the concrete type, merging by response key.
func (n *normalizer) collect(obj *ast.Definition, sets []ast.SelectionSet) ([]*Field, error) {
	type pending struct {
		field *Field
		subs  []ast.SelectionSet
	}
	var order []*pending
	// Fields are found by response key: in the list while it is short, in a map
	// once it is long.
	var byKey map[string]*pending
	find := func(key string) *pending {
		if byKey != nil {
			return byKey[key]
		}
		for _, p := range order {
			if p.field.ResponseKey == key {
				return p
			}
		}
		return nil
	}
	var walk func(ss ast.SelectionSet, visited map[string]bool)
	walk = func(ss ast.SelectionSet, visited map[string]bool) {
		for _, sel := range ss {
			switch sel := sel.(type) {
			case *ast.Field:
				if !n.included(sel.Directives) {
					continue
				}
				key := sel.Alias
				if key == "" {
					key = sel.Name
				}
				p := find(key)
				if p == nil {
					def := sel.Definition
					if sel.Name != "__typename" {
						if d := obj.Fields.ForName(sel.Name); d != nil {
							def = d
						}
					}
					f := &Field{ResponseKey: key, Name: sel.Name, Arguments: sel.Arguments, Def: def}
					if def != nil {
						if t := n.schema.Types[def.Type.Name()]; t != nil && t.Kind == ast.Enum {
							f.Enum = t
						}
					}
					p = &pending{field: f}
					order = append(order, p)
					if byKey != nil {
						byKey[key] = p
					} else if len(order) > 16 {
						byKey = make(map[string]*pending, 2*len(order))
						for _, o := range order {
							byKey[o.field.ResponseKey] = o
						}
					}
				}
				if len(sel.SelectionSet) > 0 {
					p.subs = append(p.subs, sel.SelectionSet)
				}
			case *ast.InlineFragment:
				if !n.included(sel.Directives) || !n.applies(obj, sel.TypeCondition) {
					continue
				}
				walk(sel.SelectionSet, visited)
			case *ast.FragmentSpread:
				if !n.included(sel.Directives) || visited[sel.Name] {
					continue
				}
				if visited == nil {
					visited = map[string]bool{}
				}
				frag := n.fragments.ForName(sel.Name)
				if frag == nil || !n.applies(obj, frag.TypeCondition) {
					continue
				}
				visited[sel.Name] = true
				walk(frag.SelectionSet, visited)
				delete(visited, sel.Name)
			}
		}
	}
	for _, ss := range sets {
		walk(ss, nil)
	}
	out := make([]*Field, 0, len(order))
	for _, p := range order {
		if len(p.subs) > 0 && p.field.Def != nil {
			def := n.schema.Types[p.field.Def.Type.Name()]
			if def == nil {
				return nil, fmt.Errorf("unknown type %s", p.field.Def.Type.Name())
			}
			sub, err := n.selection(def, p.subs)
			if err != nil {
				return nil, err
			}
			p.field.Selection = sub
		}
		out = append(out, p.field)
	}
	return out, nil
}

func (n *normalizer) applies(obj *ast.Definition, cond string) bool {
	if cond == "" || cond == obj.Name {
		return true
	}
	def := n.schema.Types[cond]
	if def == nil || !def.IsAbstractType() {
		return false
	}
	for _, pt := range n.schema.GetPossibleTypes(def) {
		if pt.Name == obj.Name {
			return true
		}
	}
	return false
}

func (n *normalizer) included(dirs ast.DirectiveList) bool {
	for _, d := range dirs {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		v := d.Arguments.ForName("if")
		if v == nil || v.Value == nil {
			continue
		}
		var b bool
		switch v.Value.Kind {
		case ast.BooleanValue:
			b = v.Value.Raw == "true"
		case ast.Variable:
			b = n.conds[v.Value.Raw]
		}
		if d.Name == "skip" && b {
			return false
		}
		if d.Name == "include" && !b {
			return false
		}
	}
	return true
}

// ConditionVariables lists the variables that @skip/@include depend on, so the
// caller can key the plan cache on their values.
func ConditionVariables(doc *ast.QueryDocument, op *ast.OperationDefinition) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(ss ast.SelectionSet)
	visit := func(dirs ast.DirectiveList) {
		for _, d := range dirs {
			if d.Name != "skip" && d.Name != "include" {
				continue
			}
			if a := d.Arguments.ForName("if"); a != nil && a.Value != nil && a.Value.Kind == ast.Variable && !seen[a.Value.Raw] {
				seen[a.Value.Raw] = true
				out = append(out, a.Value.Raw)
			}
		}
	}
	walk = func(ss ast.SelectionSet) {
		for _, sel := range ss {
			switch sel := sel.(type) {
			case *ast.Field:
				visit(sel.Directives)
				walk(sel.SelectionSet)
			case *ast.InlineFragment:
				visit(sel.Directives)
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				visit(sel.Directives)
			}
		}
	}
	walk(op.SelectionSet)
	for _, f := range doc.Fragments {
		walk(f.SelectionSet)
	}
	sort.Strings(out)
	return out
}
