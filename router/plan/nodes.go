package plan

import (
	"encoding/json"
	"sort"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
)

// Node is a node of the plan tree: *Sequence, *Parallel, *Flatten or *Fetch.
type Node interface{ isNode() }

// Sequence runs its nodes one after another.
type Sequence struct{ Nodes []Node }

// Parallel runs its nodes concurrently.
type Parallel struct{ Nodes []Node }

// Flatten runs an entity fetch for every object found at Path ("@" walks into lists).
type Flatten struct {
	Path []string
	Node Node
}

// Fetch is one request to one subgraph.
type Fetch struct {
	ID            int
	ServiceName   string
	OperationKind string
	// Operation is the GraphQL document sent to the subgraph.
	Operation string
	// Variables are the client variables the operation uses.
	Variables []string
	// Entity marks an _entities fetch; Requires then says how to build a
	// representation for each entity type.
	Entity   bool
	Requires []*RepresentationSpec

	jsonOnce      sync.Once
	operationJSON []byte
}

// RepresentationSpec is the selection that builds a representation of one type.
type RepresentationSpec struct {
	// TypeName is the object type the representation is built for.
	TypeName string
	// As is the __typename sent: TypeName, or the interface an @interfaceObject subgraph knows.
	As        string
	Selection []*KeyField
	// KeyFields are the top-level fields of the key: an object with one of them
	// null has no representation.
	KeyFields []string
}

// KeyField is a field of a representation selection (key or required fields).
type KeyField struct {
	Name string
	// Key is where the value is in the response data when it differs from Name
	// (a required field with arguments is fetched under an alias).
	Key      string
	Children []*KeyField
	// Optional marks a field under a type condition: absent for other types.
	Optional bool
}

func (*Sequence) isNode() {}
func (*Parallel) isNode() {}
func (*Flatten) isNode()  {}
func (*Fetch) isNode()    {}

// MarshalJSON writes the plan in the shape used across the federation ecosystem.
func (p *Plan) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"kind": "QueryPlan", "node": nodeJSON(p.Root)})
}

func nodeJSON(n Node) any {
	switch n := n.(type) {
	case nil:
		return nil
	case *Sequence:
		return map[string]any{"kind": "Sequence", "nodes": nodesJSON(n.Nodes)}
	case *Parallel:
		return map[string]any{"kind": "Parallel", "nodes": nodesJSON(n.Nodes)}
	case *Flatten:
		return map[string]any{"kind": "Flatten", "path": n.Path, "node": nodeJSON(n.Node)}
	case *Fetch:
		m := map[string]any{"kind": "Fetch", "serviceName": n.ServiceName, "operation": n.Operation,
			"operationKind": n.OperationKind, "variableUsages": nonNil(n.Variables)}
		if n.Entity {
			var reqs []any
			for _, r := range n.Requires {
				m := map[string]any{"kind": "InlineFragment", "typeCondition": r.TypeName, "selections": selJSON(r.Selection)}
				if r.As != "" && r.As != r.TypeName {
					m["representedAs"] = r.As
				}
				reqs = append(reqs, m)
			}
			m["requires"] = reqs
		}
		return m
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nodesJSON(ns []Node) []any {
	out := make([]any, len(ns))
	for i, n := range ns {
		out[i] = nodeJSON(n)
	}
	return out
}

func selJSON(sel []*KeyField) []any {
	out := make([]any, len(sel))
	for i, s := range sel {
		m := map[string]any{"kind": "Field", "name": s.Name}
		if len(s.Children) > 0 {
			m["selections"] = selJSON(s.Children)
		}
		out[i] = m
	}
	return out
}

// sNode is a selection of a subgraph operation under construction.
type sNode struct {
	alias, name string
	args        ast.ArgumentList
	typeCond    string // set for an inline fragment
	children    []*sNode
	// idx finds children by key once there are many (see planner.mergeInto);
	// never copied with the node.
	idx map[nodeKey]int
}

// nodeKey is what selections merge on: the response key of a field, or the
// type condition of an inline fragment.
type nodeKey struct{ cond, key string }

func (n *sNode) key() nodeKey {
	if n.typeCond != "" {
		return nodeKey{cond: n.typeCond}
	}
	if n.alias != "" {
		return nodeKey{key: n.alias}
	}
	return nodeKey{key: n.name}
}

// indexFrom is the list length from which merges look keys up in a map rather
// than comparing with every node.
const indexFrom = 16

// mergeNodes adds b to a, merging selections with the same response key. The
// nodes of b are copied; those of a are changed in place.
func mergeNodes(a, b []*sNode) []*sNode {
	var idx map[nodeKey]int
	if len(a)+len(b) > indexFrom {
		idx = make(map[nodeKey]int, len(a)+len(b))
		for i, m := range a {
			idx[m.key()] = i
		}
	}
	for _, n := range b {
		k := n.key()
		var m *sNode
		if idx != nil {
			if i, ok := idx[k]; ok {
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
			m.children = mergeNodes(m.children, n.children)
			continue
		}
		c := *n
		c.idx = nil
		c.children = mergeNodes(nil, n.children)
		if idx != nil {
			idx[k] = len(a)
		}
		a = append(a, &c)
	}
	return a
}

// dedupe merges the nodes of a list with the same key in place: the list and
// its nodes must belong to the caller (just built). Unlike mergeNodes it copies
// nothing, so that building a selection level by level stays linear in its size.
func dedupe(nodes []*sNode) []*sNode {
	if len(nodes) < 2 {
		return nodes
	}
	seen := make(map[nodeKey]*sNode, len(nodes))
	out := nodes[:0:0]
	for _, n := range nodes {
		k := n.key()
		if m, ok := seen[k]; ok {
			m.children = mergeNodes(m.children, n.children)
			continue
		}
		seen[k] = n
		out = append(out, n)
	}
	if len(out) == len(nodes) {
		return nodes
	}
	return out
}

func selectionNodes(ss ast.SelectionSet) []*sNode {
	var out []*sNode
	for _, s := range ss {
		switch s := s.(type) {
		case *ast.Field:
			out = append(out, &sNode{name: s.Name, children: selectionNodes(s.SelectionSet)})
		case *ast.InlineFragment:
			out = append(out, &sNode{typeCond: s.TypeCondition, children: selectionNodes(s.SelectionSet)})
		}
	}
	return out
}

func toSelection(nodes []*sNode) []*KeyField {
	var out []*KeyField
	for _, n := range nodes {
		if n.typeCond != "" {
			for _, c := range toSelection(n.children) {
				c.Optional = true
				out = mergeKeyFields(out, c)
			}
			continue
		}
		out = mergeKeyFields(out, &KeyField{Name: n.name, Key: n.alias, Children: toSelection(n.children)})
	}
	return out
}

func mergeKeyFields(list []*KeyField, f *KeyField) []*KeyField {
	for _, l := range list {
		if l.Name == f.Name {
			l.Optional = l.Optional && f.Optional
			for _, c := range f.Children {
				l.Children = mergeKeyFields(l.Children, c)
			}
			return list
		}
	}
	return append(list, f)
}

// print writes the subgraph operation of a fetch and returns the variables it uses.
func (p *planner) print(fn *fetchNode, f *Fetch) (string, []string) {
	vars := map[string]bool{}
	var body strings.Builder
	if fn.entity {
		body.WriteString("{_entities(representations:$representations)")
		writeNodes(&body, fn.sel, vars)
		body.WriteString("}")
	} else {
		writeNodes(&body, fn.sel, vars)
	}
	names := make([]string, 0, len(vars))
	for v := range vars {
		names = append(names, v)
	}
	sort.Strings(names)
	var sb strings.Builder
	sb.WriteString(f.OperationKind)
	if p.op.Name != "" {
		sb.WriteString(" " + p.op.Name + "__" + sanitize(fn.service) + "__" + itoa(f.ID))
	}
	var defs []string
	if fn.entity {
		defs = append(defs, "$representations:[_Any!]!")
	}
	for _, v := range names {
		if vd := p.op.VariableDefinitions.ForName(v); vd != nil {
			def := "$" + v + ":" + vd.Type.String()
			if vd.DefaultValue != nil {
				def += "=" + vd.DefaultValue.String()
			}
			defs = append(defs, def)
		}
	}
	if len(defs) > 0 {
		sb.WriteString("(" + strings.Join(defs, ",") + ")")
	}
	sb.WriteString(body.String())
	return sb.String(), names
}

func writeNodes(sb *strings.Builder, nodes []*sNode, vars map[string]bool) {
	sb.WriteByte('{')
	for i, n := range nodes {
		if i > 0 {
			sb.WriteByte(' ')
		}
		if n.typeCond != "" {
			sb.WriteString("...on ")
			sb.WriteString(n.typeCond)
			writeNodes(sb, n.children, vars)
			continue
		}
		if n.alias != "" {
			sb.WriteString(n.alias)
			sb.WriteByte(':')
		}
		sb.WriteString(n.name)
		if len(n.args) > 0 {
			sb.WriteByte('(')
			for j, a := range n.args {
				if j > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString(a.Name)
				sb.WriteByte(':')
				sb.WriteString(a.Value.String())
				collectVars(a.Value, vars)
			}
			sb.WriteByte(')')
		}
		if len(n.children) > 0 {
			writeNodes(sb, n.children, vars)
		}
	}
	sb.WriteByte('}')
}

func collectVars(v *ast.Value, vars map[string]bool) {
	if v == nil {
		return
	}
	if v.Kind == ast.Variable {
		vars[v.Raw] = true
	}
	for _, c := range v.Children {
		collectVars(c.Value, vars)
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// OperationJSON is the operation as a JSON string, escaped once per plan.
func (f *Fetch) OperationJSON() []byte {
	f.jsonOnce.Do(func() { f.operationJSON, _ = json.Marshal(f.Operation) })
	return f.operationJSON
}
