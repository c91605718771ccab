package compose

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// parseFieldSet parses a federation field set ("id organization { id }").
func parseFieldSet(fs string) (ast.SelectionSet, error) {
	doc, err := parser.ParseQuery(&ast.Source{Input: "{" + fs + "}"})
	if err != nil {
		return nil, err
	}
	if len(doc.Operations) != 1 {
		return nil, nil
	}
	return doc.Operations[0].SelectionSet, nil
}

// targetFields returns the subgraph fields a field set selects, starting at parent.
// With withImplementations, a field selected on an interface also yields the same field
// of every implementation of that interface in the subgraph.
func (s *subgraph) targetFields(parent *sType, fs string, withImplementations bool) []*sField {
	sel, err := parseFieldSet(fs)
	if err != nil || parent == nil {
		return nil
	}
	var out []*sField
	var walk func(t *sType, set ast.SelectionSet)
	walk = func(t *sType, set ast.SelectionSet) {
		for _, x := range set {
			switch x := x.(type) {
			case *ast.Field:
				f := t.field(x.Name)
				if f == nil {
					continue
				}
				out = append(out, f)
				if withImplementations && t.kind == ast.Interface {
					for _, impl := range s.implementations(t.name) {
						if g := impl.field(x.Name); g != nil {
							out = append(out, g)
						}
					}
				}
				if len(x.SelectionSet) > 0 {
					if bt := s.types[baseName(f.typ)]; bt != nil {
						walk(bt, x.SelectionSet)
					}
				}
			case *ast.InlineFragment:
				nt := t
				if x.TypeCondition != "" {
					nt = s.types[x.TypeCondition]
				}
				if nt != nil {
					walk(nt, x.SelectionSet)
				}
			}
		}
	}
	walk(parent, sel)
	return out
}

// implementations returns the object types implementing an interface in the subgraph.
func (s *subgraph) implementations(itf string) []*sType {
	var out []*sType
	for _, n := range s.typeOrder {
		t := s.types[n]
		if t.kind == ast.Object && contains(t.interfaces, itf) {
			out = append(out, t)
		}
	}
	return out
}

func baseName(t *ast.Type) string {
	for t != nil && t.Elem != nil {
		t = t.Elem
	}
	if t == nil {
		return ""
	}
	return t.NamedType
}
