package supergraph

import (
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Requirements are the access-control requirements of a type or field, read from
// the supergraph's @authenticated, @requiresScopes and @policy applications
// (specs.apollo.dev/authenticated/v0.1, requiresScopes/v0.1, policy/v0.1).
// Scopes and Policies are in disjunctive normal form: the requirement holds when
// every item of at least one inner list holds.
type Requirements struct {
	Authenticated bool
	Scopes        [][]string
	Policies      [][]string
}

// authNames are the names the access-control directives have in the supergraph
// (after @link `as:` and `import:` renames); empty when the spec is not linked.
type authNames struct {
	authenticated, requiresScopes, policy string
}

// TypeRequirements returns the requirements of a named type (nil when none).
func (s *Supergraph) TypeRequirements(typeName string) *Requirements {
	return s.requirements[typeName]
}

// FieldRequirements returns the requirements of a field definition (nil when none).
func (s *Supergraph) FieldRequirements(typeName, field string) *Requirements {
	return s.requirements[typeName+"."+field]
}

// HasRequirements reports whether any type or field of the supergraph carries an
// access-control requirement.
func (s *Supergraph) HasRequirements() bool { return len(s.requirements) > 0 }

// readAuthLink records the name a linked access-control spec's directive has here
// and its prefix (its scalars are link machinery, not part of the API schema).
func (s *Supergraph) readAuthLink(url, as string, imports *ast.Value) {
	specs := []struct {
		path string
		dest *string
	}{
		{"/authenticated/", &s.authNames.authenticated},
		{"/requiresScopes/", &s.authNames.requiresScopes},
		{"/policy/", &s.authNames.policy},
	}
	for _, sp := range specs {
		if !strings.Contains(url, sp.path) {
			continue
		}
		spec := strings.Trim(sp.path, "/")
		prefix := spec
		if as != "" {
			prefix = as
		}
		s.specPrefixes = append(s.specPrefixes, prefix+"__")
		// The spec's own directive is imported under its name unless the link
		// renames the spec (then it is @<as>) or imports it under another name.
		*sp.dest = prefix
		if imports != nil {
			for _, imp := range imports.Children {
				name, alias := imp.Value.Raw, ""
				if imp.Value.Kind == ast.ObjectValue {
					name, alias = "", ""
					for _, f := range imp.Value.Children {
						switch f.Name {
						case "name":
							name = f.Value.Raw
						case "as":
							alias = f.Value.Raw
						}
					}
				}
				if name == "@"+spec && alias != "" {
					*sp.dest = strings.TrimPrefix(alias, "@")
				}
			}
		}
	}
}

// readRequirements reads the access-control applications on types and fields.
func (s *Supergraph) readRequirements(doc *ast.SchemaDocument) {
	n := s.authNames
	if n == (authNames{}) {
		return
	}
	read := func(dirs ast.DirectiveList) *Requirements {
		var r *Requirements
		get := func() *Requirements {
			if r == nil {
				r = &Requirements{}
			}
			return r
		}
		for _, d := range dirs {
			switch {
			case n.authenticated != "" && d.Name == n.authenticated:
				get().Authenticated = true
			case n.requiresScopes != "" && d.Name == n.requiresScopes:
				get().Scopes = dnfArg(d, "scopes")
			case n.policy != "" && d.Name == n.policy:
				get().Policies = dnfArg(d, "policies")
			}
		}
		return r
	}
	for _, d := range append(append(ast.DefinitionList{}, doc.Definitions...), doc.Extensions...) {
		if r := read(d.Directives); r != nil {
			s.requirements[d.Name] = mergeRequirements(s.requirements[d.Name], r)
		}
		for _, f := range d.Fields {
			if r := read(f.Directives); r != nil {
				k := d.Name + "." + f.Name
				s.requirements[k] = mergeRequirements(s.requirements[k], r)
			}
		}
	}
}

// mergeRequirements combines the requirements of a definition and its extensions:
// all must hold.
func mergeRequirements(a, b *Requirements) *Requirements {
	if a == nil {
		return b
	}
	out := &Requirements{Authenticated: a.Authenticated || b.Authenticated}
	out.Scopes = andDNF(a.Scopes, b.Scopes)
	out.Policies = andDNF(a.Policies, b.Policies)
	return out
}

func andDNF(a, b [][]string) [][]string {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	var out [][]string
	for _, x := range a {
		for _, y := range b {
			out = append(out, append(append([]string{}, x...), y...))
		}
	}
	return out
}

// dnfArg reads a [[String!]!]! argument; a missing or malformed one reads as an
// empty disjunction, which nothing satisfies.
func dnfArg(d *ast.Directive, name string) [][]string {
	out := [][]string{}
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil || a.Value.Kind != ast.ListValue {
		return out
	}
	for _, c := range a.Value.Children {
		conj := []string{}
		if c.Value.Kind == ast.ListValue {
			for _, x := range c.Value.Children {
				conj = append(conj, x.Value.Raw)
			}
		} else {
			conj = append(conj, c.Value.Raw) // a single value coerced to a list
		}
		out = append(out, conj)
	}
	return out
}
