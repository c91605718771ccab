package compose

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// subgraph is one parsed subgraph, with federation directives resolved to their
// canonical names and federation plumbing removed.
type subgraph struct {
	idx      int
	name     string
	url      string
	enumName string // join__Graph value
	fed2     bool
	fedMinor int // federation v2 minor version (0 for v1)

	types     map[string]*sType
	typeOrder []string
	roots     map[ast.Operation]string // operation → root type name ("Query", ...)

	usedSpecs map[string]bool // composed specs applied in this subgraph (tag, inaccessible, ...)

	// computed by prepare()
	shareable map[string]bool // "Type.field" coordinates shareable in this subgraph
	provided  map[string]bool // "Type.field" targets of some @provides
	used      map[string]bool // "Type.field" used by @key/@requires/@provides/interfaces
	fake      map[string]bool // "Type.field" fake externals (key fields of extensions)

	origExt, origPartial map[string]bool // external status before the v1 upgrade
}

type sType struct {
	name            string
	kind            ast.DefinitionKind // INTERFACE for @interfaceObject types is kept OBJECT; see interfaceObject
	desc            *string
	interfaceObject bool
	extends         bool // @extends
	hasDef, hasExt  bool
	shareableDef    bool // @shareable on the definition
	shareableExt    bool // @shareable on an extension
	external        bool // type-level @external (fed2)
	keys            []sKey
	interfaces      []string
	fields          []*sField
	members         []string
	values          []*sValue
	applied         []applied
}

func (t *sType) field(name string) *sField {
	for _, f := range t.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

func (t *sType) value(name string) *sValue {
	for _, v := range t.values {
		if v.name == name {
			return v
		}
	}
	return nil
}

func (t *sType) hasMember(name string) bool {
	for _, m := range t.members {
		if m == name {
			return true
		}
	}
	return false
}

// mergedKind is the kind the type has in the supergraph (@interfaceObject → interface).
func (t *sType) mergedKind() ast.DefinitionKind {
	if t.interfaceObject {
		return ast.Interface
	}
	return t.kind
}

type sKey struct {
	fields     string
	resolvable *bool
	ofExt      bool
}

type sField struct {
	parent    *sType
	name      string
	desc      *string
	typ       *ast.Type
	args      []*sArg
	def       *ast.Value // input field default
	ofExt     bool
	external  bool
	shareable bool
	requires  *string
	provides  *string
	override  *sOverride
	applied   []applied
}

func (f *sField) coord() string { return f.parent.name + "." + f.name }

func (f *sField) arg(name string) *sArg {
	for _, a := range f.args {
		if a.name == name {
			return a
		}
	}
	return nil
}

type sOverride struct {
	from  string
	label *string
}

type sArg struct {
	name    string
	desc    *string
	typ     *ast.Type
	def     *ast.Value
	applied []applied
}

type sValue struct {
	name    string
	desc    *string
	applied []applied
}

// applied is a directive application kept in the supergraph (composed spec directives
// and the built-in @deprecated / @specifiedBy), under its canonical name.
type applied struct {
	name string
	args ast.ArgumentList
}

var fedURL = regexp.MustCompile(`^https?://specs\.apollo\.dev/federation/v(\d+)\.(\d+)$`)

// directiveNames maps a directive name as written in a subgraph to its canonical
// federation name.
type directiveNames map[string]string

func (d directiveNames) canonical(local string) (string, bool) {
	c, ok := d[local]
	return c, ok
}

// collect parses a subgraph SDL.
func collect(idx int, sg Subgraph) (*subgraph, []error) {
	doc, perr := parser.ParseSchema(&ast.Source{Name: sg.Name, Input: sg.SDL})
	if perr != nil {
		return nil, []error{newError("INVALID_GRAPHQL", sg.Name, "", "", fmt.Sprintf("[%s] cannot parse the schema: %v", sg.Name, perr))}
	}
	s := &subgraph{
		idx: idx, name: sg.Name, url: sg.URL,
		types:     map[string]*sType{},
		roots:     map[ast.Operation]string{},
		usedSpecs: map[string]bool{},
	}
	var errs []error

	names, fed2, minor, lerrs := resolveLink(sg.Name, doc)
	errs = append(errs, lerrs...)
	s.fed2, s.fedMinor = fed2, minor

	// Root types: the schema definition may rename them; the supergraph uses the default names.
	rename := map[string]string{}
	for _, sd := range append(append(ast.SchemaDefinitionList{}, doc.Schema...), doc.SchemaExtension...) {
		for _, op := range sd.OperationTypes {
			def := defaultRootName(op.Operation)
			if op.Type != def {
				rename[op.Type] = def
			}
		}
	}
	rn := func(n string) string {
		if r, ok := rename[n]; ok {
			return r
		}
		return n
	}

	add := func(def *ast.Definition, ext bool) {
		name := rn(def.Name)
		if isFederationPlumbing(name, names) {
			return
		}
		t := s.types[name]
		if t == nil {
			t = &sType{name: name, kind: def.Kind}
			s.types[name] = t
			s.typeOrder = append(s.typeOrder, name)
		} else if t.kind != def.Kind {
			errs = append(errs, newError("INVALID_GRAPHQL", sg.Name, name, "", fmt.Sprintf("[%s] type %q is defined with different kinds (%s and %s)", sg.Name, name, t.kind, def.Kind)))
			return
		}
		if ext {
			t.hasExt = true
		} else {
			t.hasDef = true
		}
		if def.Description != "" && t.desc == nil {
			d := def.Description
			t.desc = &d
		}
		for _, d := range def.Directives {
			c, ok := names.canonical(d.Name)
			if !ok {
				if a, keep := builtinApplied(d); keep {
					t.applied = append(t.applied, a)
				}
				continue
			}
			switch c {
			case "key":
				k := sKey{fields: fieldsArg(d), ofExt: ext}
				if v := d.Arguments.ForName("resolvable"); v != nil && v.Value != nil {
					b := v.Value.Raw == "true"
					k.resolvable = &b
				}
				t.keys = append(t.keys, k)
			case "extends":
				t.extends = true
			case "shareable":
				if ext {
					t.shareableExt = true
				} else {
					t.shareableDef = true
				}
			case "external":
				t.external = true
			case "interfaceObject":
				t.interfaceObject = true
			default:
				if composedSpecByName(c) != nil {
					t.applied = append(t.applied, applied{name: c, args: d.Arguments})
					s.usedSpecs[c] = true
				}
			}
		}
		for _, i := range def.Interfaces {
			if !contains(t.interfaces, i) {
				t.interfaces = append(t.interfaces, i)
			}
		}
		for _, m := range def.Types {
			if !contains(t.members, rn(m)) {
				t.members = append(t.members, rn(m))
			}
		}
		for _, ev := range def.EnumValues {
			if t.value(ev.Name) != nil {
				continue
			}
			v := &sValue{name: ev.Name, desc: descOf(ev.Description)}
			v.applied = s.appliedOf(ev.Directives, names)
			t.values = append(t.values, v)
		}
		for _, fd := range def.Fields {
			if t.kind == ast.Object && name == "Query" && (fd.Name == "_service" || fd.Name == "_entities") {
				continue
			}
			if t.field(fd.Name) != nil {
				errs = append(errs, newError("INVALID_GRAPHQL", sg.Name, name, fd.Name, fmt.Sprintf("[%s] field \"%s.%s\" is defined more than once", sg.Name, name, fd.Name)))
				continue
			}
			f := &sField{parent: t, name: fd.Name, desc: descOf(fd.Description), typ: renameType(fd.Type, rn), def: fd.DefaultValue, ofExt: ext}
			for _, ad := range fd.Arguments {
				a := &sArg{name: ad.Name, desc: descOf(ad.Description), typ: renameType(ad.Type, rn), def: ad.DefaultValue}
				a.applied = s.appliedOf(ad.Directives, names)
				f.args = append(f.args, a)
			}
			for _, d := range fd.Directives {
				c, ok := names.canonical(d.Name)
				if !ok {
					if a, keep := builtinApplied(d); keep {
						f.applied = append(f.applied, a)
					}
					continue
				}
				switch c {
				case "external":
					f.external = true
				case "shareable":
					f.shareable = true
				case "requires":
					v := fieldsArg(d)
					f.requires = &v
				case "provides":
					v := fieldsArg(d)
					f.provides = &v
				case "override":
					o := &sOverride{}
					if a := d.Arguments.ForName("from"); a != nil && a.Value != nil {
						o.from = a.Value.Raw
					}
					if a := d.Arguments.ForName("label"); a != nil && a.Value != nil {
						l := a.Value.Raw
						o.label = &l
					}
					f.override = o
				default:
					if composedSpecByName(c) != nil {
						f.applied = append(f.applied, applied{name: c, args: d.Arguments})
						s.usedSpecs[c] = true
					}
				}
			}
			t.fields = append(t.fields, f)
		}
	}
	for _, def := range doc.Definitions {
		add(def, false)
	}
	for _, def := range doc.Extensions {
		add(def, true)
	}
	// Every subgraph has a Query root (it serves _service/_entities).
	if _, ok := s.types["Query"]; !ok {
		s.types["Query"] = &sType{name: "Query", kind: ast.Object, hasDef: true}
		s.typeOrder = append(s.typeOrder, "Query")
	}
	for _, op := range []ast.Operation{ast.Query, ast.Mutation, ast.Subscription} {
		n := defaultRootName(op)
		if t, ok := s.types[n]; ok && t.kind == ast.Object {
			s.roots[op] = n
		}
	}
	// Type-level @shareable and (fed2) @external apply to the fields of the same definition/extension.
	for _, t := range s.types {
		for _, f := range t.fields {
			if (t.shareableDef && !f.ofExt) || (t.shareableExt && f.ofExt) {
				f.shareable = true
			}
			if s.fed2 && t.external && t.kind == ast.Object {
				f.external = true
			}
		}
	}
	return s, errs
}

func (s *subgraph) appliedOf(list ast.DirectiveList, names directiveNames) []applied {
	var out []applied
	for _, d := range list {
		c, ok := names.canonical(d.Name)
		if !ok {
			if a, keep := builtinApplied(d); keep {
				out = append(out, a)
			}
			continue
		}
		if composedSpecByName(c) != nil {
			out = append(out, applied{name: c, args: d.Arguments})
			s.usedSpecs[c] = true
		}
	}
	return out
}

// builtinApplied keeps the built-in @deprecated and @specifiedBy applications.
func builtinApplied(d *ast.Directive) (applied, bool) {
	if d.Name == "deprecated" || d.Name == "specifiedBy" {
		return applied{name: d.Name, args: d.Arguments}, true
	}
	return applied{}, false
}

func resolveLink(sgName string, doc *ast.SchemaDocument) (directiveNames, bool, int, []error) {
	var errs []error
	for _, sd := range append(append(ast.SchemaDefinitionList{}, doc.Schema...), doc.SchemaExtension...) {
		for _, d := range sd.Directives {
			if d.Name != "link" {
				continue
			}
			u := d.Arguments.ForName("url")
			if u == nil || u.Value == nil {
				continue
			}
			m := fedURL.FindStringSubmatch(u.Value.Raw)
			if m == nil {
				continue
			}
			major, _ := strconv.Atoi(m[1])
			minor, _ := strconv.Atoi(m[2])
			if major != 2 {
				errs = append(errs, newError("UNKNOWN_FEDERATION_LINK_VERSION", sgName, "", "", fmt.Sprintf("[%s] invalid federation version %s in @link", sgName, u.Value.Raw)))
			}
			prefix := "federation"
			if as := d.Arguments.ForName("as"); as != nil && as.Value != nil {
				prefix = as.Value.Raw
			}
			names := directiveNames{}
			for n := range federationDirectives {
				names[prefix+"__"+n] = n
			}
			if imp := d.Arguments.ForName("import"); imp != nil && imp.Value != nil {
				for _, c := range imp.Value.Children {
					v := c.Value
					switch v.Kind {
					case ast.StringValue, ast.BlockValue:
						n := strings.TrimPrefix(v.Raw, "@")
						if federationDirectives[n] && strings.HasPrefix(v.Raw, "@") {
							names[n] = n
						}
					case ast.ObjectValue:
						var name, as string
						for _, f := range v.Children {
							switch f.Name {
							case "name":
								name = f.Value.Raw
							case "as":
								as = f.Value.Raw
							}
						}
						n := strings.TrimPrefix(name, "@")
						if !federationDirectives[n] || !strings.HasPrefix(name, "@") {
							continue
						}
						if as == "" {
							as = name
						}
						names[strings.TrimPrefix(as, "@")] = n
					}
				}
			}
			return names, true, minor, errs
		}
	}
	// Federation v1: every federation directive under its own name.
	names := directiveNames{}
	for n := range federationDirectives {
		names[n] = n
	}
	return names, false, 0, errs
}

func isFederationPlumbing(name string, names directiveNames) bool {
	switch name {
	case "_Service", "_Any", "_Entity", "_FieldSet", "FieldSet", "federation__FieldSet", "link__Import", "link__Purpose":
		return true
	}
	if strings.HasPrefix(name, "link__") || strings.HasPrefix(name, "federation__") {
		return true
	}
	// Types of a renamed federation link ("fed__FieldSet").
	for local := range names {
		if i := strings.Index(local, "__"); i > 0 && strings.HasPrefix(name, local[:i+2]) {
			return true
		}
	}
	return false
}

func defaultRootName(op ast.Operation) string {
	switch op {
	case ast.Mutation:
		return "Mutation"
	case ast.Subscription:
		return "Subscription"
	default:
		return "Query"
	}
}

func renameType(t *ast.Type, rn func(string) string) *ast.Type {
	if t == nil {
		return nil
	}
	c := &ast.Type{NamedType: t.NamedType, NonNull: t.NonNull}
	if t.Elem != nil {
		c.Elem = renameType(t.Elem, rn)
	} else {
		c.NamedType = rn(t.NamedType)
	}
	return c
}

func fieldsArg(d *ast.Directive) string {
	a := d.Arguments.ForName("fields")
	if a == nil || a.Value == nil {
		return ""
	}
	if a.Value.Kind == ast.ListValue { // fed1 allowed a list of strings
		var parts []string
		for _, c := range a.Value.Children {
			parts = append(parts, c.Value.Raw)
		}
		return strings.Join(parts, " ")
	}
	return a.Value.Raw
}

func descOf(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
