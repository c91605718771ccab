// Package supergraph reads a Federation v2 supergraph SDL (join spec v0.2–v0.5,
// as written by Apollo's composition, by wgc, or by our own router/compose) into
// the model the planner works on: which subgraph can resolve which field, the
// entity keys per subgraph, and the API schema clients see.
package supergraph

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// ErrInvalid is returned (wrapped) for a document that is not a usable supergraph.
var ErrInvalid = errors.New("invalid supergraph")

// Graph is one subgraph named in the join__Graph enum.
type Graph struct {
	// Enum is the join__Graph enum value (e.g. IDENTITY).
	Enum string
	// Name is the subgraph's name (e.g. identity).
	Name string
	// URL is the subgraph's routing URL.
	URL string
}

// Key is one @key of an entity in one subgraph.
type Key struct {
	Fields     string
	Selection  ast.SelectionSet
	Resolvable bool
}

// TypeInGraph records how a type appears in one subgraph.
type TypeInGraph struct {
	Keys              []*Key
	Extension         bool
	IsInterfaceObject bool
}

// FieldInGraph records how a field appears in one subgraph.
type FieldInGraph struct {
	External       bool
	Requires       string
	Provides       string
	Override       string
	OverrideLabel  string
	UsedOverridden bool
	// Type is the field's type in this subgraph when it differs from the supergraph's.
	Type string
}

// Field is a field of an object or interface type.
type Field struct {
	Name string
	Def  *ast.FieldDefinition
	// Graphs lists the subgraphs that define the field. Nil means "every subgraph
	// that defines the parent type" (no @join__field was written).
	Graphs map[string]*FieldInGraph
}

// Type is a named type of the supergraph with its per-subgraph facts.
type Type struct {
	Name   string
	Kind   ast.DefinitionKind
	Def    *ast.Definition
	Graphs map[string]*TypeInGraph
	Fields map[string]*Field
	// Implements maps interface name to the graphs where the implementation is declared.
	Implements map[string][]string
	// Members maps union member to the graphs that declare it.
	Members map[string][]string
}

// Supergraph is the parsed supergraph.
type Supergraph struct {
	SDL    string
	Graphs []*Graph
	Types  map[string]*Type
	// API is the schema clients see: join/link machinery and @inaccessible elements removed.
	API *ast.Schema

	byEnum      map[string]*Graph
	byName      map[string]*Graph
	joinPrefix  string
	inaccessble string

	// Access control (authz.go).
	authNames    authNames
	specPrefixes []string
	requirements map[string]*Requirements

	// costName and listSizeName are the names of the cost spec's directives.
	costName, listSizeName string
}

// CostDirectives returns the names of the @cost and @listSize directives of
// the cost spec (https://specs.apollo.dev/cost/v0.1) in this supergraph: as
// linked and imported, by default "cost" and "cost__listSize".
func (s *Supergraph) CostDirectives() (cost, listSize string) { return s.costName, s.listSizeName }

// Graph returns the subgraph with the given name.
func (s *Supergraph) Graph(name string) *Graph { return s.byName[name] }

// GraphByEnum returns the subgraph with the given join__Graph value.
func (s *Supergraph) GraphByEnum(enum string) *Graph { return s.byEnum[enum] }

// Parse reads a supergraph SDL.
func Parse(sdl string) (*Supergraph, error) {
	doc, err := parser.ParseSchema(&ast.Source{Name: "supergraph.graphql", Input: sdl})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	sg := &Supergraph{
		SDL:          sdl,
		Types:        map[string]*Type{},
		byEnum:       map[string]*Graph{},
		byName:       map[string]*Graph{},
		joinPrefix:   "join__",
		inaccessble:  "inaccessible",
		requirements: map[string]*Requirements{},
		costName:     "cost",
		listSizeName: "cost__listSize",
	}
	sg.readLinks(doc)
	if err := sg.readGraphs(doc); err != nil {
		return nil, err
	}
	if err := sg.readTypes(doc); err != nil {
		return nil, err
	}
	sg.readRequirements(doc)
	api, err := buildAPISchema(doc, sg)
	if err != nil {
		return nil, err
	}
	sg.API = api
	return sg, nil
}

// readLinks honours `@link(url: ".../join/v0.x", as: "x")` and the name given to @inaccessible.
func (s *Supergraph) readLinks(doc *ast.SchemaDocument) {
	visit := func(dirs ast.DirectiveList) {
		for _, d := range dirs {
			if d.Name != "link" && d.Name != "core" {
				continue
			}
			url := argString(d, "url")
			if url == "" {
				url = argString(d, "feature")
			}
			as := argString(d, "as")
			var imports *ast.Value
			if imp := d.Arguments.ForName("import"); imp != nil {
				imports = imp.Value
			}
			s.readAuthLink(url, as, imports)
			switch {
			case strings.Contains(url, "/join/"):
				if as != "" {
					s.joinPrefix = as + "__"
				}
			case strings.Contains(url, "/inaccessible/"):
				if as != "" {
					s.inaccessble = as
				}
			case strings.Contains(url, "/cost/"):
				if as != "" {
					s.costName, s.listSizeName = as, as+"__listSize"
				}
				for name, local := range linkImports(d) {
					switch name {
					case "cost":
						s.costName = local
					case "listSize":
						s.listSizeName = local
					}
				}
			}
		}
	}
	for _, sd := range doc.Schema {
		visit(sd.Directives)
	}
	for _, sd := range doc.SchemaExtension {
		visit(sd.Directives)
	}
}

func (s *Supergraph) readGraphs(doc *ast.SchemaDocument) error {
	enumName := s.joinPrefix + "Graph"
	var def *ast.Definition
	for _, d := range doc.Definitions {
		if d.Name == enumName && d.Kind == ast.Enum {
			def = d
		}
	}
	if def == nil {
		return fmt.Errorf("%w: no %s enum", ErrInvalid, enumName)
	}
	for _, v := range def.EnumValues {
		d := v.Directives.ForName(s.joinPrefix + "graph")
		if d == nil {
			return fmt.Errorf("%w: %s.%s has no @%sgraph", ErrInvalid, enumName, v.Name, s.joinPrefix)
		}
		g := &Graph{Enum: v.Name, Name: argString(d, "name"), URL: argString(d, "url")}
		if g.Name == "" {
			g.Name = strings.ToLower(v.Name)
		}
		s.Graphs = append(s.Graphs, g)
		s.byEnum[g.Enum] = g
		s.byName[g.Name] = g
	}
	return nil
}

func (s *Supergraph) isMachinery(name string) bool {
	if strings.HasPrefix(name, s.joinPrefix) || strings.HasPrefix(name, "link__") || strings.HasPrefix(name, "core__") {
		return true
	}
	for _, p := range s.specPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func (s *Supergraph) readTypes(doc *ast.SchemaDocument) error {
	defs := append(ast.DefinitionList{}, doc.Definitions...)
	defs = append(defs, doc.Extensions...)
	var errs []error
	for _, d := range defs {
		if s.isMachinery(d.Name) {
			continue
		}
		t := s.Types[d.Name]
		if t == nil {
			t = &Type{Name: d.Name, Kind: d.Kind, Def: d, Graphs: map[string]*TypeInGraph{}, Fields: map[string]*Field{},
				Implements: map[string][]string{}, Members: map[string][]string{}}
			s.Types[d.Name] = t
		}
		for _, dir := range d.Directives {
			switch dir.Name {
			case s.joinPrefix + "type":
				g := s.byEnum[argString(dir, "graph")]
				if g == nil {
					errs = append(errs, fmt.Errorf("%w: type %s names unknown graph %q", ErrInvalid, d.Name, argString(dir, "graph")))
					continue
				}
				tg := t.Graphs[g.Name]
				if tg == nil {
					tg = &TypeInGraph{}
					t.Graphs[g.Name] = tg
				}
				if argBool(dir, "extension", false) {
					tg.Extension = true
				}
				if argBool(dir, "isInterfaceObject", false) {
					tg.IsInterfaceObject = true
				}
				if key := argString(dir, "key"); key != "" {
					sel, err := ParseSelection(key)
					if err != nil {
						errs = append(errs, fmt.Errorf("%w: type %s key %q: %w", ErrInvalid, d.Name, key, err))
						continue
					}
					tg.Keys = append(tg.Keys, &Key{Fields: key, Selection: sel, Resolvable: argBool(dir, "resolvable", true)})
				}
			case s.joinPrefix + "implements":
				g := s.byEnum[argString(dir, "graph")]
				if g != nil {
					iface := argString(dir, "interface")
					t.Implements[iface] = append(t.Implements[iface], g.Name)
				}
			case s.joinPrefix + "unionMember":
				g := s.byEnum[argString(dir, "graph")]
				if g != nil {
					m := argString(dir, "member")
					t.Members[m] = append(t.Members[m], g.Name)
				}
			}
		}
		for _, fd := range d.Fields {
			f := t.Fields[fd.Name]
			if f == nil {
				f = &Field{Name: fd.Name, Def: fd}
				t.Fields[fd.Name] = f
			}
			for _, dir := range fd.Directives {
				if dir.Name != s.joinPrefix+"field" {
					continue
				}
				if f.Graphs == nil {
					f.Graphs = map[string]*FieldInGraph{}
				}
				ge := argString(dir, "graph")
				if ge == "" {
					continue // @join__field with no graph: the field is resolved by no subgraph directly
				}
				g := s.byEnum[ge]
				if g == nil {
					errs = append(errs, fmt.Errorf("%w: field %s.%s names unknown graph %q", ErrInvalid, d.Name, fd.Name, ge))
					continue
				}
				f.Graphs[g.Name] = &FieldInGraph{
					External:       argBool(dir, "external", false),
					Requires:       argString(dir, "requires"),
					Provides:       argString(dir, "provides"),
					Override:       argString(dir, "override"),
					OverrideLabel:  argString(dir, "overrideLabel"),
					UsedOverridden: argBool(dir, "usedOverridden", false),
					Type:           argString(dir, "type"),
				}
			}
		}
	}
	return errors.Join(errs...)
}

// GraphsOf lists the subgraphs that define a type, sorted by name.
func (t *Type) GraphsOf() []string {
	out := make([]string, 0, len(t.Graphs))
	for g := range t.Graphs {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// InGraph reports whether the type is defined in the subgraph.
func (t *Type) InGraph(graph string) bool {
	_, ok := t.Graphs[graph]
	return ok
}

// Resolvable reports whether the subgraph can resolve the field itself (not
// external, not overridden away), with every progressive-override label off.
func (s *Supergraph) Resolvable(typeName, field, graph string) bool {
	return s.ResolvableWith(typeName, field, graph, nil)
}

// ResolvableWith is Resolvable with progressive @override labels: a field
// overridden with a label is resolved by the overriding subgraph when the label is
// active, and by the subgraph it was overridden from otherwise.
func (s *Supergraph) ResolvableWith(typeName, field, graph string, active func(label string) bool) bool {
	t := s.Types[typeName]
	if t == nil {
		return false
	}
	if strings.HasPrefix(field, "__") {
		return true
	}
	if !t.InGraph(graph) {
		return false
	}
	f := t.Fields[field]
	if f == nil {
		return false
	}
	if f.Graphs == nil {
		return true
	}
	fg, ok := f.Graphs[graph]
	if !ok || fg.External {
		return false
	}
	if fg.OverrideLabel != "" {
		// Progressive override: the overriding side (with override:) resolves while
		// the label is on, the overridden side (label only) while it is off.
		on := active != nil && active(fg.OverrideLabel)
		if fg.Override != "" {
			return on
		}
		return !on
	}
	return !fg.UsedOverridden
}

// OverrideLabels lists the progressive-override labels used in the supergraph, sorted.
func (s *Supergraph) OverrideLabels() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range s.Types {
		for _, f := range t.Fields {
			for _, fg := range f.Graphs {
				if fg.OverrideLabel != "" && !seen[fg.OverrideLabel] {
					seen[fg.OverrideLabel] = true
					out = append(out, fg.OverrideLabel)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// FieldIn returns the field's per-subgraph facts (nil when not written).
func (s *Supergraph) FieldIn(typeName, field, graph string) *FieldInGraph {
	t := s.Types[typeName]
	if t == nil {
		return nil
	}
	f := t.Fields[field]
	if f == nil || f.Graphs == nil {
		return nil
	}
	return f.Graphs[graph]
}

// ResolvableKeys returns the resolvable keys of an entity in a subgraph.
func (s *Supergraph) ResolvableKeys(typeName, graph string) []*Key {
	t := s.Types[typeName]
	if t == nil {
		return nil
	}
	tg := t.Graphs[graph]
	if tg == nil {
		return nil
	}
	var out []*Key
	for _, k := range tg.Keys {
		if k.Resolvable {
			out = append(out, k)
		}
	}
	return out
}

// Keys returns every key (resolvable or not) of an entity in a subgraph.
func (s *Supergraph) Keys(typeName, graph string) []*Key {
	t := s.Types[typeName]
	if t == nil || t.Graphs[graph] == nil {
		return nil
	}
	return t.Graphs[graph].Keys
}

// ParseSelection parses a field set such as "id organization { id }".
func ParseSelection(fields string) (ast.SelectionSet, error) {
	doc, err := parser.ParseQuery(&ast.Source{Input: "{" + fields + "}"})
	if err != nil {
		return nil, err
	}
	if len(doc.Operations) != 1 {
		return nil, fmt.Errorf("field set %q: expected one selection set", fields)
	}
	return doc.Operations[0].SelectionSet, nil
}

// linkImports reads the import argument of @link: "@name" or {name: "@name",
// as: "@local"}, returned without the @ as name → local name.
func linkImports(d *ast.Directive) map[string]string {
	out := map[string]string{}
	a := d.Arguments.ForName("import")
	if a == nil || a.Value == nil {
		return out
	}
	for _, c := range a.Value.Children {
		v := c.Value
		switch v.Kind {
		case ast.StringValue:
			n := strings.TrimPrefix(v.Raw, "@")
			out[n] = n
		case ast.ObjectValue:
			var name, as string
			for _, f := range v.Children {
				switch f.Name {
				case "name":
					name = strings.TrimPrefix(f.Value.Raw, "@")
				case "as":
					as = strings.TrimPrefix(f.Value.Raw, "@")
				}
			}
			if as == "" {
				as = name
			}
			out[name] = as
		}
	}
	return out
}

func argString(d *ast.Directive, name string) string {
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return ""
	}
	return a.Value.Raw
}

func argBool(d *ast.Directive, name string, def bool) bool {
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return def
	}
	return a.Value.Raw == "true"
}

// PossibleTypes returns the object types of an abstract type (itself for an object type), sorted.
func (s *Supergraph) PossibleTypes(name string) []string {
	t := s.Types[name]
	if t == nil {
		return nil
	}
	switch t.Kind {
	case ast.Object:
		return []string{name}
	case ast.Union:
		out := append([]string(nil), t.Def.Types...)
		for m := range t.Members {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
		sort.Strings(out)
		return out
	case ast.Interface:
		var out []string
		for n, o := range s.Types {
			if o.Kind != ast.Object {
				continue
			}
			if slices.Contains(o.Def.Interfaces, name) {
				out = append(out, n)
				continue
			}
			if _, ok := o.Implements[name]; ok {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out
	}
	return nil
}

// IsInterfaceObject reports whether the type is an @interfaceObject in the subgraph.
func (s *Supergraph) IsInterfaceObject(typeName, graph string) bool {
	t := s.Types[typeName]
	if t == nil || t.Graphs[graph] == nil {
		return false
	}
	return t.Graphs[graph].IsInterfaceObject
}

// PossibleIn reports whether the object type is a possible type of the abstract
// type in the subgraph (per @join__implements / @join__unionMember when the
// supergraph records them).
func (s *Supergraph) PossibleIn(abstract, concrete, graph string) bool {
	a, t := s.Types[abstract], s.Types[concrete]
	if a == nil || t == nil {
		return false
	}
	switch a.Kind {
	case ast.Union:
		if len(a.Members) > 0 {
			return slices.Contains(a.Members[concrete], graph)
		}
		return slices.Contains(a.Def.Types, concrete)
	case ast.Interface:
		if len(t.Implements) > 0 {
			return slices.Contains(t.Implements[abstract], graph)
		}
		return t.Def != nil && slices.Contains(t.Def.Interfaces, abstract)
	}
	return abstract == concrete
}
