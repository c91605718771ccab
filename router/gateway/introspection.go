package gateway

import "github.com/vektah/gqlparser/v2/ast"

// CodeIntrospectionDisabled is the extensions.code of an operation that asks
// for __schema or __type when introspection is off.
const CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"

// WithIntrospection enables or disables __schema and __type (default
// enabled). Disabled, a document that selects either anywhere (fragments
// included) is refused as a validation error; __typename stays available.
func WithIntrospection(enabled bool) Option { return func(g *Gateway) { g.noIntrospection = !enabled } }

// refusedIntrospection is the introspection field to refuse, if any.
func (g *Gateway) refusedIntrospection(doc *ast.QueryDocument) *ast.Field {
	if !g.noIntrospection {
		return nil
	}
	return introspectionField(doc)
}

// introspectionField returns the first __schema or __type field in the
// document's operations and fragments, or nil.
func introspectionField(doc *ast.QueryDocument) *ast.Field {
	var walk func(ast.SelectionSet) *ast.Field
	walk = func(set ast.SelectionSet) *ast.Field {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				if s.Name == "__schema" || s.Name == "__type" {
					return s
				}
				if f := walk(s.SelectionSet); f != nil {
					return f
				}
			case *ast.InlineFragment:
				if f := walk(s.SelectionSet); f != nil {
					return f
				}
			}
		}
		return nil
	}
	for _, op := range doc.Operations {
		if f := walk(op.SelectionSet); f != nil {
			return f
		}
	}
	for _, fr := range doc.Fragments {
		if f := walk(fr.SelectionSet); f != nil {
			return f
		}
	}
	return nil
}
