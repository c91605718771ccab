// Package introspect answers __schema and __type for the router's API schema,
// producing values in the shape of the normalized selection (keyed by response key).
package introspect

import (
	"fmt"

	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/plan"
)

// Resolver answers introspection for one schema.
type Resolver struct {
	schema  *ast.Schema
	wrapped *introspection.Schema
}

// New returns a Resolver for the schema.
func New(schema *ast.Schema) *Resolver {
	return &Resolver{schema: schema, wrapped: introspection.WrapSchema(schema)}
}

// Resolve answers a root __schema or __type field.
func (r *Resolver) Resolve(f *plan.Field, vars map[string]any) (any, error) {
	switch f.Name {
	case "__schema":
		return r.schemaValue(r.wrapped, f.Selection, vars), nil
	case "__type":
		name, _ := argValue(f, "name", vars).(string)
		def := r.schema.Types[name]
		if def == nil {
			return nil, nil
		}
		return r.typeValue(introspection.WrapTypeFromDef(r.schema, def), f.Selection, vars), nil
	}
	return nil, fmt.Errorf("unknown introspection field %s", f.Name)
}

func argValue(f *plan.Field, name string, vars map[string]any) any {
	a := f.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return nil
	}
	v, err := a.Value.Value(vars)
	if err != nil {
		return nil
	}
	return v
}

func includeDeprecated(f *plan.Field, vars map[string]any) bool {
	b, _ := argValue(f, "includeDeprecated", vars).(bool)
	return b
}

func (r *Resolver) schemaValue(s *introspection.Schema, sel *plan.Selection, vars map[string]any) any {
	out := map[string]any{}
	for _, f := range sel.FieldsFor("__Schema") {
		switch f.Name {
		case "description":
			out[f.ResponseKey] = strPtr(s.Description())
		case "types":
			types := s.Types()
			list := make([]any, len(types))
			for i := range types {
				list[i] = r.typeValue(&types[i], f.Selection, vars)
			}
			out[f.ResponseKey] = list
		case "queryType":
			out[f.ResponseKey] = r.typeOrNil(s.QueryType(), f.Selection, vars)
		case "mutationType":
			out[f.ResponseKey] = r.typeOrNil(s.MutationType(), f.Selection, vars)
		case "subscriptionType":
			out[f.ResponseKey] = r.typeOrNil(s.SubscriptionType(), f.Selection, vars)
		case "directives":
			dirs := s.Directives()
			list := make([]any, len(dirs))
			for i := range dirs {
				list[i] = r.directiveValue(&dirs[i], f.Selection, vars)
			}
			out[f.ResponseKey] = list
		}
	}
	return out
}

func (r *Resolver) typeOrNil(t *introspection.Type, sel *plan.Selection, vars map[string]any) any {
	if t == nil {
		return nil
	}
	return r.typeValue(t, sel, vars)
}

func (r *Resolver) typeValue(t *introspection.Type, sel *plan.Selection, vars map[string]any) any {
	out := map[string]any{}
	for _, f := range sel.FieldsFor("__Type") {
		switch f.Name {
		case "kind":
			out[f.ResponseKey] = t.Kind()
		case "name":
			out[f.ResponseKey] = strPtr(t.Name())
		case "description":
			out[f.ResponseKey] = strPtr(t.Description())
		case "specifiedByURL":
			out[f.ResponseKey] = strPtr(t.SpecifiedByURL())
		case "isOneOf":
			out[f.ResponseKey] = t.IsOneOf()
		case "fields":
			if t.Kind() != "OBJECT" && t.Kind() != "INTERFACE" {
				out[f.ResponseKey] = nil
				continue
			}
			fields := t.Fields(includeDeprecated(f, vars))
			list := make([]any, len(fields))
			for i := range fields {
				list[i] = r.fieldValue(&fields[i], f.Selection, vars)
			}
			out[f.ResponseKey] = list
		case "inputFields":
			if t.Kind() != "INPUT_OBJECT" {
				out[f.ResponseKey] = nil
				continue
			}
			out[f.ResponseKey] = r.inputValues(t.VisibleInputFields(includeDeprecated(f, vars)), f.Selection, vars)
		case "interfaces":
			if t.Kind() != "OBJECT" && t.Kind() != "INTERFACE" {
				out[f.ResponseKey] = nil
				continue
			}
			out[f.ResponseKey] = r.typeList(t.Interfaces(), f.Selection, vars)
		case "possibleTypes":
			if t.Kind() != "INTERFACE" && t.Kind() != "UNION" {
				out[f.ResponseKey] = nil
				continue
			}
			out[f.ResponseKey] = r.typeList(t.PossibleTypes(), f.Selection, vars)
		case "enumValues":
			if t.Kind() != "ENUM" {
				out[f.ResponseKey] = nil
				continue
			}
			vals := t.EnumValues(includeDeprecated(f, vars))
			list := make([]any, len(vals))
			for i := range vals {
				list[i] = enumValue(&vals[i], f.Selection)
			}
			out[f.ResponseKey] = list
		case "ofType":
			out[f.ResponseKey] = r.typeOrNil(t.OfType(), f.Selection, vars)
		}
	}
	return out
}

func (r *Resolver) typeList(types []introspection.Type, sel *plan.Selection, vars map[string]any) any {
	list := make([]any, len(types))
	for i := range types {
		list[i] = r.typeValue(&types[i], sel, vars)
	}
	return list
}

func (r *Resolver) fieldValue(fd *introspection.Field, sel *plan.Selection, vars map[string]any) any {
	out := map[string]any{}
	for _, f := range sel.FieldsFor("__Field") {
		switch f.Name {
		case "name":
			out[f.ResponseKey] = fd.Name
		case "description":
			out[f.ResponseKey] = strPtr(fd.Description())
		case "args":
			out[f.ResponseKey] = r.inputValues(fd.VisibleArgs(includeDeprecated(f, vars)), f.Selection, vars)
		case "type":
			out[f.ResponseKey] = r.typeOrNil(fd.Type, f.Selection, vars)
		case "isDeprecated":
			out[f.ResponseKey] = fd.IsDeprecated()
		case "deprecationReason":
			out[f.ResponseKey] = strPtr(fd.DeprecationReason())
		}
	}
	return out
}

func (r *Resolver) inputValues(vals []introspection.InputValue, sel *plan.Selection, vars map[string]any) any {
	list := make([]any, len(vals))
	for i := range vals {
		iv := &vals[i]
		out := map[string]any{}
		for _, f := range sel.FieldsFor("__InputValue") {
			switch f.Name {
			case "name":
				out[f.ResponseKey] = iv.Name
			case "description":
				out[f.ResponseKey] = strPtr(iv.Description())
			case "type":
				out[f.ResponseKey] = r.typeOrNil(iv.Type, f.Selection, vars)
			case "defaultValue":
				out[f.ResponseKey] = strPtr(iv.DefaultValue)
			case "isDeprecated":
				out[f.ResponseKey] = iv.IsDeprecated()
			case "deprecationReason":
				out[f.ResponseKey] = strPtr(iv.DeprecationReason())
			}
		}
		list[i] = out
	}
	return list
}

func enumValue(ev *introspection.EnumValue, sel *plan.Selection) any {
	out := map[string]any{}
	for _, f := range sel.FieldsFor("__EnumValue") {
		switch f.Name {
		case "name":
			out[f.ResponseKey] = ev.Name
		case "description":
			out[f.ResponseKey] = strPtr(ev.Description())
		case "isDeprecated":
			out[f.ResponseKey] = ev.IsDeprecated()
		case "deprecationReason":
			out[f.ResponseKey] = strPtr(ev.DeprecationReason())
		}
	}
	return out
}

func (r *Resolver) directiveValue(d *introspection.Directive, sel *plan.Selection, vars map[string]any) any {
	out := map[string]any{}
	for _, f := range sel.FieldsFor("__Directive") {
		switch f.Name {
		case "name":
			out[f.ResponseKey] = d.Name
		case "description":
			out[f.ResponseKey] = strPtr(d.Description())
		case "locations":
			locs := make([]any, len(d.Locations))
			for i, l := range d.Locations {
				locs[i] = l
			}
			out[f.ResponseKey] = locs
		case "args":
			out[f.ResponseKey] = r.inputValues(d.VisibleArgs(includeDeprecated(f, vars)), f.Selection, vars)
		case "isRepeatable":
			out[f.ResponseKey] = d.IsRepeatable
		}
	}
	return out
}

func strPtr(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
