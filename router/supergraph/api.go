package supergraph

import (
	"bytes"
	"fmt"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// specDirectives are the directives of linked specs that never reach the API schema.
var specDirectives = map[string]bool{
	"link": true, "core": true, "tag": true, "authenticated": true, "requiresScopes": true,
	"policy": true, "cost": true, "listSize": true, "context": true, "fromContext": true,
}

func (s *Supergraph) stripDirective(name string) bool {
	n := s.authNames
	if name != "" && (name == n.authenticated || name == n.requiresScopes || name == n.policy) {
		return true
	}
	return specDirectives[name] || name == s.inaccessble || name == s.costName || name == s.listSizeName || s.isMachinery(name) || len(name) > len(s.joinPrefix) && name[:len(s.joinPrefix)] == s.joinPrefix
}

// buildAPISchema removes the federation machinery and every @inaccessible element.
func buildAPISchema(doc *ast.SchemaDocument, s *Supergraph) (*ast.Schema, error) {
	inaccessible := func(dirs ast.DirectiveList) bool { return dirs.ForName(s.inaccessble) != nil }
	hidden := map[string]bool{}
	for _, d := range append(append(ast.DefinitionList{}, doc.Definitions...), doc.Extensions...) {
		if s.isMachinery(d.Name) || inaccessible(d.Directives) {
			hidden[d.Name] = true
		}
	}
	out := &ast.SchemaDocument{}
	for _, sd := range doc.Schema {
		c := *sd
		c.Directives = nil
		out.Schema = append(out.Schema, &c)
	}
	for _, dd := range doc.Directives {
		if s.stripDirective(dd.Name) {
			continue
		}
		out.Directives = append(out.Directives, dd)
	}
	clean := func(dirs ast.DirectiveList) ast.DirectiveList {
		var kept ast.DirectiveList
		for _, d := range dirs {
			if !s.stripDirective(d.Name) {
				kept = append(kept, d)
			}
		}
		return kept
	}
	copyDef := func(d *ast.Definition) *ast.Definition {
		c := *d
		c.Directives = clean(d.Directives)
		c.Fields = nil
		for _, f := range d.Fields {
			if inaccessible(f.Directives) || hidden[f.Type.Name()] {
				continue
			}
			fc := *f
			fc.Directives = clean(f.Directives)
			fc.Arguments = nil
			for _, a := range f.Arguments {
				if inaccessible(a.Directives) || hidden[a.Type.Name()] {
					continue
				}
				ac := *a
				ac.Directives = clean(a.Directives)
				fc.Arguments = append(fc.Arguments, &ac)
			}
			c.Fields = append(c.Fields, &fc)
		}
		c.EnumValues = nil
		for _, v := range d.EnumValues {
			if inaccessible(v.Directives) {
				continue
			}
			vc := *v
			vc.Directives = clean(v.Directives)
			c.EnumValues = append(c.EnumValues, &vc)
		}
		c.Interfaces = nil
		for _, i := range d.Interfaces {
			if !hidden[i] {
				c.Interfaces = append(c.Interfaces, i)
			}
		}
		c.Types = nil
		for _, m := range d.Types {
			if !hidden[m] {
				c.Types = append(c.Types, m)
			}
		}
		return &c
	}
	for _, d := range doc.Definitions {
		if !hidden[d.Name] {
			out.Definitions = append(out.Definitions, copyDef(d))
		}
	}
	for _, d := range doc.Extensions {
		if !hidden[d.Name] {
			out.Extensions = append(out.Extensions, copyDef(d))
		}
	}
	var buf bytes.Buffer
	formatter.NewFormatter(&buf).FormatSchemaDocument(out)
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: "api.graphql", Input: buf.String()})
	if err != nil {
		return nil, fmt.Errorf("%w: API schema: %w", ErrInvalid, err)
	}
	return schema, nil
}
