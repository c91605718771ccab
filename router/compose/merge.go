package compose

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// The supergraph being built.
type supergraph struct {
	join      joinSpec
	subgraphs []*subgraph
	types     map[string]*gType
	order     []string
	roots     map[ast.Operation]bool
	specs     map[string]bool
	enumUsage map[string]*enumUsage
	errs      []error
	// authExtra holds the additional sources of access-control directives (auth.go).
	authExtra map[string][]src[[]applied]
}

type enumUsage struct {
	position      string // Input, Output or Both
	inputExample  string
	outputExample string
}

type dir struct {
	name string
	args []dirArg
}

type dirArg struct {
	name  string
	value string // printed GraphQL value
}

type gType struct {
	name       string
	kind       ast.DefinitionKind
	desc       *string
	interfaces []string
	dirs       []dir
	fields     []*gField
	members    []string
	values     []*gValue
	removed    bool
}

func (t *gType) field(name string) *gField {
	for _, f := range t.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

type gField struct {
	name string
	desc *string
	typ  *ast.Type
	args []*gArg
	def  *ast.Value
	dirs []dir
}

type gArg struct {
	name string
	desc *string
	typ  *ast.Type
	def  *ast.Value
	dirs []dir
}

type gValue struct {
	name string
	desc *string
	dirs []dir
}

// src is one subgraph's view of a supergraph element: idx is the subgraph, the element
// is nil when the subgraph has the parent but not the element.
type src[T any] struct {
	idx int
	el  T
}

func (g *supergraph) errorf(code, subgraph, typ, field, format string, args ...any) {
	g.errs = append(g.errs, newError(code, subgraph, typ, field, fmt.Sprintf(format, args...)))
}

func (g *supergraph) graph(idx int) string { return g.subgraphs[idx].enumName }

func (g *supergraph) merge() {
	// Types, and kind consistency.
	kinds := map[string]map[ast.DefinitionKind][]string{}
	for _, s := range g.subgraphs {
		for _, n := range s.typeOrder {
			t := s.types[n]
			k := t.mergedKind()
			if kinds[n] == nil {
				kinds[n] = map[ast.DefinitionKind][]string{}
				g.types[n] = &gType{name: n, kind: k}
				g.order = append(g.order, n)
			}
			kinds[n][k] = append(kinds[n][k], s.name)
		}
	}
	mismatched := map[string]bool{}
	for _, n := range g.order {
		if len(kinds[n]) > 1 {
			mismatched[n] = true
			var parts []string
			seen := map[ast.DefinitionKind]bool{}
			for _, s := range g.subgraphs {
				t := s.types[n]
				if t == nil || seen[t.mergedKind()] {
					continue
				}
				seen[t.mergedKind()] = true
				parts = append(parts, fmt.Sprintf("%s in %s", kindString(t), subgraphNames(kinds[n][t.mergedKind()])))
			}
			g.errorf("TYPE_KIND_MISMATCH", "", n, "", "Type %q has mismatched kind: it is defined as %s", n, joinStrings(parts, " and ", " but "))
		}
	}
	for _, n := range g.order {
		if !mismatched[n] {
			g.checkInterfaceObjectUsage(n)
		}
	}
	byKind := func(k ast.DefinitionKind) []*gType {
		var out []*gType
		for _, n := range g.order {
			if t := g.types[n]; t.kind == k && !mismatched[n] {
				out = append(out, t)
			}
		}
		return out
	}
	objects, interfaces := byKind(ast.Object), byKind(ast.Interface)
	for _, t := range append(append([]*gType{}, objects...), interfaces...) {
		g.mergeImplements(t)
	}
	for _, t := range byKind(ast.Union) {
		g.mergeType(t)
	}
	for _, s := range g.subgraphs {
		for op := range s.roots {
			g.roots[op] = true
		}
	}
	for _, k := range []ast.DefinitionKind{ast.Scalar, ast.InputObject, ast.Interface, ast.Object} {
		for _, t := range byKind(k) {
			g.mergeType(t)
		}
	}
	for _, t := range byKind(ast.Enum) {
		g.mergeType(t)
	}
	if !g.roots[ast.Query] {
		g.errorf("NO_QUERIES", "", "", "", "No queries found in any subgraph: a supergraph must have a query root type.")
	}
	g.addMissingInterfaceObjectFields()
}

func kindString(t *sType) string {
	if t.interfaceObject {
		return "Interface Object Type (Object Type with @interfaceObject)"
	}
	switch t.kind {
	case ast.Object:
		return "Object Type"
	case ast.Interface:
		return "Interface Type"
	case ast.Union:
		return "Union Type"
	case ast.Enum:
		return "Enum Type"
	case ast.InputObject:
		return "Input Object Type"
	default:
		return "Scalar Type"
	}
}

// typeSources returns, per subgraph defining the type with the supergraph kind, its type.
func (g *supergraph) typeSources(dest *gType) []src[*sType] {
	var out []src[*sType]
	for _, s := range g.subgraphs {
		if t := s.types[dest.name]; t != nil && t.mergedKind() == dest.kind {
			out = append(out, src[*sType]{s.idx, t})
		}
	}
	return out
}

func (g *supergraph) mergeImplements(dest *gType) {
	for _, ts := range g.typeSources(dest) {
		for _, itf := range ts.el.interfaces {
			dest.dirs = append(dest.dirs, dir{"join__implements", []dirArg{{"graph", g.graph(ts.idx)}, {"interface", quote(itf)}}})
			if !contains(dest.interfaces, itf) {
				dest.interfaces = append(dest.interfaces, itf)
			}
		}
	}
}

func (g *supergraph) mergeType(dest *gType) {
	sources := g.typeSources(dest)
	g.checkExtensionWithNoBase(dest, sources)
	dest.desc = mergeDescriptions(mapSrc(sources, func(t *sType) *string { return t.desc }))
	g.addJoinType(dest, sources)
	appl := mapSrc(sources, func(t *sType) []applied { return t.applied })
	dest.dirs = g.mergeInaccessible(dest.dirs, appl)
	switch dest.kind {
	case ast.Object:
		g.mergeObject(dest, sources)
	case ast.Interface:
		g.mergeInterface(dest, sources)
	case ast.Union:
		g.mergeUnion(dest, sources)
	case ast.Enum:
		g.mergeEnum(dest, sources)
	case ast.InputObject:
		g.mergeInput(dest, sources)
	}
	dest.dirs = g.mergeAppliedWithAuth(dest.dirs, appl, dest.name, dest.kind == ast.Interface)
}

func (g *supergraph) checkExtensionWithNoBase(dest *gType, sources []src[*sType]) {
	if dest.kind == ast.Object && (dest.name == "Query" || dest.name == "Mutation" || dest.name == "Subscription") {
		return
	}
	var defs, exts []string
	for _, s := range sources {
		if s.el.hasDef {
			defs = append(defs, g.subgraphs[s.idx].name)
		}
		if s.el.hasExt {
			exts = append(exts, g.subgraphs[s.idx].name)
		}
	}
	if len(exts) > 0 && len(defs) == 0 {
		for _, n := range exts {
			g.errorf("EXTENSION_WITH_NO_BASE", n, dest.name, "", "[%s] Type %q is an extension type, but there is no type definition for %q in any subgraph.", n, dest.name, dest.name)
		}
	}
}

func (g *supergraph) addJoinType(dest *gType, sources []src[*sType]) {
	for _, s := range sources {
		t := s.el
		graph := g.graph(s.idx)
		var itfObj []dirArg
		if t.interfaceObject {
			itfObj = []dirArg{{"isInterfaceObject", "true"}}
		}
		if len(t.keys) == 0 {
			dest.dirs = append(dest.dirs, dir{"join__type", append([]dirArg{{"graph", graph}}, itfObj...)})
			continue
		}
		for _, k := range t.keys {
			args := []dirArg{{"graph", graph}, {"key", quote(k.fields)}}
			if k.ofExt || t.extends {
				args = append(args, dirArg{"extension", "true"})
			}
			if k.resolvable != nil {
				args = append(args, dirArg{"resolvable", fmt.Sprint(*k.resolvable)})
			}
			dest.dirs = append(dest.dirs, dir{"join__type", append(args, itfObj...)})
		}
	}
}

// fieldSources lists, for every field of dest, the subgraphs that have the type (or an
// @interfaceObject standing for one of its interfaces), with the field when they have it.
func (g *supergraph) fieldSources(dest *gType, sources []src[*sType]) ([]string, map[string][]src[*sField]) {
	present := make([]bool, len(g.subgraphs))
	for _, s := range g.subgraphs {
		if s.types[dest.name] != nil {
			present[s.idx] = true
		}
		if dest.kind == ast.Object || dest.kind == ast.Interface {
			for _, itf := range dest.interfaces {
				if it := s.types[itf]; it != nil && it.interfaceObject {
					present[s.idx] = true
				}
			}
		}
	}
	var names []string
	byName := map[string][]*sField{}
	for _, ts := range sources {
		for _, f := range ts.el.fields {
			if byName[f.name] == nil {
				names = append(names, f.name)
				byName[f.name] = make([]*sField, len(g.subgraphs))
			}
			byName[f.name][ts.idx] = f
		}
	}
	out := map[string][]src[*sField]{}
	for _, n := range names {
		var list []src[*sField]
		for i := range g.subgraphs {
			if present[i] || byName[n][i] != nil {
				list = append(list, src[*sField]{i, byName[n][i]})
			}
		}
		out[n] = list
	}
	return names, out
}

func (g *supergraph) mergeObject(dest *gType, sources []src[*sType]) {
	names, fsrc := g.fieldSources(dest, sources)
	if len(names) == 0 {
		dest.removed = true
		return
	}
	for _, n := range names {
		f := &gField{name: n}
		dest.fields = append(dest.fields, f)
		ctx := g.validateOverride(dest, f, fsrc[n])
		g.mergeField(dest, f, fsrc[n], ctx)
		g.validateFieldSharing(dest, f, fsrc[n], ctx)
	}
}

func (g *supergraph) mergeInterface(dest *gType, sources []src[*sType]) {
	g.validateInterfaceKeys(dest, sources)
	g.validateInterfaceObjects(dest, sources)
	names, fsrc := g.fieldSources(dest, sources)
	for _, n := range names {
		f := &gField{name: n}
		dest.fields = append(dest.fields, f)
		ctx := g.validateOverride(dest, f, fsrc[n])
		g.mergeField(dest, f, fsrc[n], ctx)
	}
}

// mergeCtx is what @override decided for one field.
type mergeCtx struct {
	usedOverridden   map[int]bool
	unusedOverridden map[int]bool
	unknownTarget    map[int]bool
	label            map[int]string
}

func newMergeCtx() *mergeCtx {
	return &mergeCtx{map[int]bool{}, map[int]bool{}, map[int]bool{}, map[int]string{}}
}

func (g *supergraph) mergeField(parent *gType, dest *gField, sources []src[*sField], ctx *mergeCtx) {
	coord := parent.name + "." + dest.name
	allExternal := true
	var defining []string
	for _, s := range sources {
		if s.el == nil {
			continue
		}
		defining = append(defining, g.subgraphs[s.idx].name)
		if !g.subgraphs[s.idx].isExternal(s.el) {
			allExternal = false
		}
	}
	if allExternal {
		g.errorf("EXTERNAL_MISSING_ON_BASE", defining[0], parent.name, dest.name, "Field %q is marked @external on all the subgraphs in which it is listed (%s).", coord, subgraphNames(defining))
		return
	}
	withoutExternal := make([]src[*sField], 0, len(sources))
	for _, s := range sources {
		if s.el != nil && g.subgraphs[s.idx].isExternal(s.el) {
			withoutExternal = append(withoutExternal, src[*sField]{s.idx, nil})
		} else {
			withoutExternal = append(withoutExternal, s)
		}
	}
	dest.desc = mergeDescriptions(mapSrc(withoutExternal, func(f *sField) *string { return f.desc }))
	appl := mapSrc(withoutExternal, func(f *sField) []applied { return f.applied })
	dest.dirs = g.mergeInaccessible(dest.dirs, appl)
	g.mergeArguments(parent, dest, withoutExternal)
	allTypesEqual := g.mergeTypeReference(parent.name, dest.name, "", &dest.typ, mapSrc(withoutExternal, func(f *sField) *ast.Type { return f.typ }), false)
	g.addJoinField(parent, dest, sources, allTypesEqual, ctx)
	dest.dirs = g.mergeAppliedWithAuth(dest.dirs, appl, coord, true)
}

func (g *supergraph) needsJoinField(parent string, sources []src[*sField], allTypesEqual bool, ctx *mergeCtx) bool {
	if !allTypesEqual || len(ctx.usedOverridden) > 0 || len(ctx.label) > 0 {
		return true
	}
	for _, s := range sources {
		sg := g.subgraphs[s.idx]
		if s.el != nil && !ctx.unusedOverridden[s.idx] {
			if sg.isExternal(s.el) || s.el.provides != nil || s.el.requires != nil {
				return true
			}
		} else if sg.types[parent] != nil {
			return true
		}
	}
	return false
}

func (g *supergraph) addJoinField(parent *gType, dest *gField, sources []src[*sField], allTypesEqual bool, ctx *mergeCtx) {
	if !g.needsJoinField(parent.name, sources, allTypesEqual, ctx) {
		return
	}
	for _, s := range sources {
		label, hasLabel := ctx.label[s.idx]
		if s.el == nil || (ctx.unusedOverridden[s.idx] && !hasLabel) {
			continue
		}
		sg := g.subgraphs[s.idx]
		args := []dirArg{{"graph", g.graph(s.idx)}}
		if s.el.requires != nil {
			args = append(args, dirArg{"requires", quote(*s.el.requires)})
		}
		if s.el.provides != nil {
			args = append(args, dirArg{"provides", quote(*s.el.provides)})
		}
		if !allTypesEqual {
			args = append(args, dirArg{"type", quote(s.el.typ.String())})
		}
		if sg.isExternal(s.el) {
			args = append(args, dirArg{"external", "true"})
		}
		if s.el.override != nil && sg.fed2 {
			args = append(args, dirArg{"override", quote(s.el.override.from)})
		}
		if ctx.usedOverridden[s.idx] {
			args = append(args, dirArg{"usedOverridden", "true"})
		}
		if hasLabel {
			args = append(args, dirArg{"overrideLabel", quote(label)})
		}
		dest.dirs = append(dest.dirs, dir{"join__field", args})
	}
}

func (g *supergraph) mergeArguments(parent *gType, dest *gField, sources []src[*sField]) {
	var names []string
	for _, s := range sources {
		if s.el == nil {
			continue
		}
		for _, a := range s.el.args {
			if !contains(names, a.name) {
				names = append(names, a.name)
			}
		}
	}
	for _, n := range names {
		coord := fmt.Sprintf("%s.%s(%s:)", parent.name, dest.name, n)
		var required, missing []string
		argSrc := make([]src[*sArg], 0, len(sources))
		for _, s := range sources {
			if s.el == nil {
				argSrc = append(argSrc, src[*sArg]{s.idx, nil})
				continue
			}
			a := s.el.arg(n)
			argSrc = append(argSrc, src[*sArg]{s.idx, a})
			if a == nil {
				missing = append(missing, g.subgraphs[s.idx].name)
			} else if a.typ.NonNull && a.def == nil {
				required = append(required, g.subgraphs[s.idx].name)
			}
		}
		if len(missing) > 0 {
			if len(required) > 0 {
				g.errorf("REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH", missing[0], parent.name, dest.name,
					"Argument %q is required in some subgraphs but does not appear in all subgraphs: it is required in %s but does not appear in %s", coord, subgraphNames(required), subgraphNames(missing))
			}
			continue
		}
		a := &gArg{name: n}
		a.desc = mergeDescriptions(mapSrc(argSrc, func(x *sArg) *string { return x.desc }))
		appl := mapSrc(argSrc, func(x *sArg) []applied { return x.applied })
		a.dirs = g.mergeInaccessible(a.dirs, appl)
		g.mergeTypeReference(parent.name, dest.name, n, &a.typ, mapSrc(argSrc, func(x *sArg) *ast.Type { return x.typ }), true)
		a.def = g.mergeDefault("Argument", coord, parent.name, dest.name, mapSrc(argSrc, func(x *sArg) *ast.Value { return x.def }))
		a.dirs = g.mergeOtherApplied(a.dirs, appl)
		dest.args = append(dest.args, a)
	}
}

// mergeTypeReference merges the types of a field (output position: the most general type
// wins) or argument/input field (input position: the most specific wins). It returns
// whether all types were equal.
func (g *supergraph) mergeTypeReference(typ, field, arg string, dest **ast.Type, sources []src[*ast.Type], input bool) bool {
	var out *ast.Type
	hasSubtypes, incompatible := false, false
	for _, s := range sources {
		if s.el == nil {
			continue
		}
		switch {
		case out == nil || sameType(out, s.el):
			out = s.el
		case g.isStrictSubtype(out, s.el):
			hasSubtypes = true
			if input {
				out = s.el
			}
		case g.isStrictSubtype(s.el, out):
			hasSubtypes = true
			if !input {
				out = s.el
			}
		default:
			incompatible = true
		}
	}
	if out == nil {
		return true
	}
	*dest = out
	coord := typ + "." + field
	if arg != "" {
		coord = fmt.Sprintf("%s.%s(%s:)", typ, field, arg)
	}
	if base := g.types[baseName(out)]; base != nil && base.kind == ast.Enum {
		u := g.enumUsage[base.name]
		if u == nil {
			u = &enumUsage{}
			g.enumUsage[base.name] = u
		}
		pos := "Output"
		if input {
			pos = "Input"
			if u.inputExample == "" {
				u.inputExample = coord
			}
		} else if u.outputExample == "" {
			u.outputExample = coord
		}
		if u.position == "" {
			u.position = pos
		} else if u.position != pos {
			u.position = "Both"
		}
	}
	if incompatible {
		kind, code := "field", "FIELD_TYPE_MISMATCH"
		if arg != "" {
			kind, code = "argument", "ARGUMENT_TYPE_MISMATCH"
		}
		g.errorf(code, "", typ, field, "Type of %s %q is incompatible across subgraphs: it has %s", kind, coord,
			g.distribution(sources, func(t *ast.Type) string { return fmt.Sprintf("type %q", t.String()) }))
		return false
	}
	return !hasSubtypes
}

// distribution renders `X in subgraph "a" but Y in subgraphs "b" and "c"`.
func (g *supergraph) distribution(sources []src[*ast.Type], show func(*ast.Type) string) string {
	var keys []string
	by := map[string][]string{}
	for _, s := range sources {
		if s.el == nil {
			continue
		}
		k := show(s.el)
		if by[k] == nil {
			keys = append(keys, k)
		}
		by[k] = append(by[k], g.subgraphs[s.idx].name)
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+" in "+subgraphNames(by[k]))
	}
	return joinStrings(parts, " and ", " but ")
}

func sameType(a, b *ast.Type) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.NonNull != b.NonNull {
		return false
	}
	if (a.Elem == nil) != (b.Elem == nil) {
		return false
	}
	if a.Elem != nil {
		return sameType(a.Elem, b.Elem)
	}
	return a.NamedType == b.NamedType
}

// isStrictSubtype reports whether sub is a strict subtype of t under Apollo's default
// rules: direct (union member / interface implementation), non-nullable downgrade,
// list propagation and non-nullable propagation.
func (g *supergraph) isStrictSubtype(t, sub *ast.Type) bool {
	if sub.NonNull {
		subInner := *sub
		subInner.NonNull = false
		if t.NonNull {
			tInner := *t
			tInner.NonNull = false
			return g.isStrictSubtype(&tInner, &subInner)
		}
		return sameType(t, &subInner) || g.isStrictSubtype(t, &subInner)
	}
	if t.NonNull {
		return false
	}
	if sub.Elem != nil || t.Elem != nil {
		if sub.Elem == nil || t.Elem == nil {
			return false
		}
		return g.isStrictSubtype(t.Elem, sub.Elem)
	}
	if t.NamedType == sub.NamedType {
		return false
	}
	parent := g.types[t.NamedType]
	child := g.types[sub.NamedType]
	if parent == nil || child == nil {
		return false
	}
	switch parent.kind {
	case ast.Union:
		return contains(parent.members, child.name)
	case ast.Interface:
		return contains(child.interfaces, parent.name)
	}
	return false
}

func (g *supergraph) mergeDefault(kind, coord, typ, field string, sources []src[*ast.Value]) *ast.Value {
	var out *ast.Value
	seen, inconsistent, incompatible := false, false, false
	for _, s := range sources {
		if s.idx < 0 {
			continue
		}
		if out == nil {
			out = s.el
			if seen && s.el != nil {
				inconsistent = true
			}
		} else if !valueEquals(out, s.el) {
			inconsistent = true
			if s.el != nil {
				incompatible = true
			}
		}
		seen = true
	}
	if incompatible {
		var parts []string
		by := map[string][]string{}
		var keys []string
		for _, s := range sources {
			if s.idx < 0 {
				continue
			}
			k := "no default value"
			if s.el != nil {
				k = "default value " + valueString(s.el)
			}
			if by[k] == nil {
				keys = append(keys, k)
			}
			by[k] = append(by[k], g.subgraphs[s.idx].name)
		}
		for _, k := range keys {
			parts = append(parts, k+" in "+subgraphNames(by[k]))
		}
		code := "INPUT_FIELD_DEFAULT_MISMATCH"
		if kind == "Argument" {
			code = "ARGUMENT_DEFAULT_MISMATCH"
		}
		g.errorf(code, "", typ, field, "%s %q has incompatible default values across subgraphs: it has %s", kind, coord, joinStrings(parts, " and ", " but "))
		return out
	}
	if inconsistent {
		return nil
	}
	return out
}

func (g *supergraph) mergeUnion(dest *gType, sources []src[*sType]) {
	for _, s := range sources {
		for _, m := range s.el.members {
			if !contains(dest.members, m) {
				dest.members = append(dest.members, m)
			}
		}
	}
	for _, m := range dest.members {
		for _, s := range sources {
			if s.el.hasMember(m) {
				dest.dirs = append(dest.dirs, dir{"join__unionMember", []dirArg{{"graph", g.graph(s.idx)}, {"member", quote(m)}}})
			}
		}
	}
}

func (g *supergraph) mergeEnum(dest *gType, sources []src[*sType]) {
	u := g.enumUsage[dest.name]
	if u == nil {
		u = &enumUsage{position: "Output"}
	}
	var names []string
	for _, s := range sources {
		for _, v := range s.el.values {
			if !contains(names, v.name) {
				names = append(names, v.name)
			}
		}
	}
	for _, n := range names {
		vs := make([]src[*sValue], 0, len(sources))
		var has, lacks []string
		for _, s := range sources {
			v := s.el.value(n)
			vs = append(vs, src[*sValue]{s.idx, v})
			if v == nil {
				lacks = append(lacks, g.subgraphs[s.idx].name)
			} else {
				has = append(has, g.subgraphs[s.idx].name)
			}
		}
		val := &gValue{name: n}
		val.desc = mergeDescriptions(mapSrc(vs, func(v *sValue) *string { return v.desc }))
		appl := mapSrc(vs, func(v *sValue) []applied { return v.applied })
		val.dirs = g.mergeInaccessible(val.dirs, appl)
		for _, s := range vs {
			if s.el != nil {
				val.dirs = append(val.dirs, dir{"join__enumValue", []dirArg{{"graph", g.graph(s.idx)}}})
			}
		}
		val.dirs = g.mergeOtherApplied(val.dirs, appl)
		inaccessible := hasDir(val.dirs, "inaccessible")
		if !inaccessible && u.position != "Output" && len(lacks) > 0 {
			if u.position == "Both" {
				g.errorf("ENUM_VALUE_MISMATCH", lacks[0], dest.name, n,
					"Enum type %q is used as both input type (for example, as type of %q) and output type (for example, as type of %q), but value %q is not defined in all the subgraphs defining %q: %q is defined in %s but not in %s",
					dest.name, u.inputExample, u.outputExample, n, dest.name, n, subgraphNames(has), subgraphNames(lacks))
			}
			continue // input-only: values not everywhere are dropped
		}
		dest.values = append(dest.values, val)
	}
	if len(dest.values) == 0 {
		g.errorf("EMPTY_MERGED_ENUM_TYPE", "", dest.name, "", "None of the values of enum type %q are defined consistently in all the subgraphs defining that type. As only values common to all subgraphs are merged, this would result in an empty type.", dest.name)
	}
}

func (g *supergraph) mergeInput(dest *gType, sources []src[*sType]) {
	names, fsrc := g.fieldSources(dest, sources)
	for _, n := range names {
		sources := fsrc[n]
		coord := dest.name + "." + n
		f := &gField{name: n}
		f.desc = mergeDescriptions(mapSrc(sources, func(x *sField) *string { return x.desc }))
		appl := mapSrc(sources, func(x *sField) []applied { return x.applied })
		f.dirs = g.mergeInaccessible(f.dirs, appl)
		allEqual := g.mergeTypeReference(dest.name, n, "", &f.typ, mapSrc(sources, func(x *sField) *ast.Type { return x.typ }), true)
		g.addJoinField(dest, f, sources, allEqual, newMergeCtx())
		f.def = g.mergeDefault("Input field", coord, dest.name, n, mapSrc(sources, func(x *sField) *ast.Value { return x.def }))
		f.dirs = g.mergeOtherApplied(f.dirs, appl)
		var required, missing []string
		for _, s := range sources {
			if s.el == nil {
				missing = append(missing, g.subgraphs[s.idx].name)
			} else if s.el.typ.NonNull && s.el.def == nil {
				required = append(required, g.subgraphs[s.idx].name)
			}
		}
		if !hasDir(f.dirs, "inaccessible") && len(missing) > 0 {
			if len(required) > 0 {
				g.errorf("REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH", missing[0], dest.name, n,
					"Input object field %q is required in some subgraphs but does not appear in all subgraphs: it is required in %s but does not appear in %s", coord, subgraphNames(required), subgraphNames(missing))
			}
			continue
		}
		dest.fields = append(dest.fields, f)
	}
	if len(dest.fields) == 0 {
		g.errorf("EMPTY_MERGED_INPUT_TYPE", "", dest.name, "", "None of the fields of input object type %q are consistently defined in all the subgraphs defining that type. As only fields common to all subgraphs are merged, this would result in an empty type.", dest.name)
	}
}

// addMissingInterfaceObjectFields adds to each implementation of an interface the fields
// an @interfaceObject contributes to the interface, with a bare @join__field.
func (g *supergraph) addMissingInterfaceObjectFields() {
	for _, n := range g.order {
		t := g.types[n]
		if t.kind != ast.Object || t.removed {
			continue
		}
		for _, in := range t.interfaces {
			itf := g.types[in]
			if itf == nil || itf.kind != ast.Interface {
				continue
			}
			for _, f := range itf.fields {
				if t.field(f.name) != nil || !g.providedByInterfaceObject(in, f.name) {
					continue
				}
				nf := &gField{name: f.name, desc: f.desc, typ: f.typ}
				for _, a := range f.args {
					nf.args = append(nf.args, &gArg{name: a.name, desc: a.desc, typ: a.typ, def: a.def, dirs: withoutJoin(a.dirs)})
				}
				nf.dirs = append(withoutJoin(f.dirs), dir{name: "join__field"})
				t.fields = append(t.fields, nf)
			}
		}
	}
}

func (g *supergraph) providedByInterfaceObject(itf, field string) bool {
	for _, s := range g.subgraphs {
		if t := s.types[itf]; t != nil && t.interfaceObject {
			if f := t.field(field); f != nil && !s.isExternal(f) {
				return true
			}
		}
	}
	return false
}

func withoutJoin(ds []dir) []dir {
	var out []dir
	for _, d := range ds {
		if !strings.HasPrefix(d.name, "join__") {
			out = append(out, d)
		}
	}
	return out
}

func hasDir(ds []dir, name string) bool {
	for _, d := range ds {
		if d.name == name {
			return true
		}
	}
	return false
}

// mapSrc maps sources with a non-nil element; absent elements become idx -1 entries.
func mapSrc[T any, U any](in []src[T], fn func(T) U) []src[U] {
	out := make([]src[U], 0, len(in))
	for _, s := range in {
		if isNil(s.el) {
			out = append(out, src[U]{idx: -1})
			continue
		}
		out = append(out, src[U]{s.idx, fn(s.el)})
	}
	return out
}

func isNil(v any) bool {
	switch x := v.(type) {
	case *sType:
		return x == nil
	case *sField:
		return x == nil
	case *sArg:
		return x == nil
	case *sValue:
		return x == nil
	case nil:
		return true
	}
	return false
}

func mergeDescriptions(sources []src[*string]) *string {
	var descs []string
	var counts []int
	for _, s := range sources {
		if s.idx < 0 || s.el == nil {
			continue
		}
		found := false
		for i, d := range descs {
			if d == *s.el {
				counts[i]++
				found = true
			}
		}
		if !found {
			descs = append(descs, *s.el)
			counts = append(counts, 1)
		}
	}
	if len(descs) == 0 {
		return nil
	}
	best := 0
	for i := range counts {
		if counts[i] > counts[best] {
			best = i
		}
	}
	d := descs[best]
	return &d
}

// mergeInaccessible applies @inaccessible when any subgraph applies it (Apollo applies it
// before the join directives).
func (g *supergraph) mergeInaccessible(dest []dir, sources []src[[]applied]) []dir {
	for _, s := range sources {
		if s.idx < 0 {
			continue
		}
		for _, a := range s.el {
			if a.name == "inaccessible" {
				g.specs["inaccessible"] = true
				return append(dest, dir{name: "inaccessible"})
			}
		}
	}
	return dest
}

// mergeOtherApplied merges the other kept directives (@tag, @authenticated,
// @requiresScopes, @policy, @deprecated, @specifiedBy), after the join directives.
func (g *supergraph) mergeOtherApplied(dest []dir, sources []src[[]applied]) []dir {
	var names []string
	for _, s := range sources {
		if s.idx < 0 {
			continue
		}
		for _, a := range s.el {
			if a.name != "inaccessible" && !contains(names, a.name) {
				names = append(names, a.name)
			}
		}
	}
	for _, n := range names {
		var per [][]applied
		for _, s := range sources {
			if s.idx < 0 {
				continue
			}
			var mine []applied
			for _, a := range s.el {
				if a.name == n {
					mine = append(mine, a)
				}
			}
			if len(mine) > 0 {
				per = append(per, mine)
			}
		}
		if composedSpecByName(n) != nil {
			g.specs[n] = true
		}
		if spec := composedSpecByName(n); spec != nil && spec.repeatable {
			var done []string
			for _, list := range per {
				for _, a := range list {
					k := argsKey(a.args)
					if !contains(done, k) {
						done = append(done, k)
						dest = append(dest, dir{n, printArgs(a.args)})
					}
				}
			}
			continue
		}
		var distinct []applied
		var counts []int
		for _, list := range per {
			a := list[0]
			found := false
			for i, d := range distinct {
				if argsKey(d.args) == argsKey(a.args) {
					counts[i]++
					found = true
				}
			}
			if !found {
				distinct = append(distinct, a)
				counts = append(counts, 1)
			}
		}
		if len(distinct) > 1 && (n == "cost" || n == "listSize") {
			dest = append(dest, dir{n, mergeCost(n, distinct)})
			continue
		}
		if len(distinct) > 1 && (n == "requiresScopes" || n == "policy") {
			dest = append(dest, dir{n, []dirArg{{argNameOf(n), mergeDNF(distinct, argNameOf(n))}}})
			continue
		}
		best := 0
		for i := range counts {
			if counts[i] > counts[best] {
				best = i
			}
		}
		dest = append(dest, dir{n, printArgs(distinct[best].args)})
	}
	return dest
}

func argNameOf(directive string) string {
	if directive == "policy" {
		return "policies"
	}
	return "scopes"
}

func argsKey(args ast.ArgumentList) string {
	var parts []string
	for _, a := range args {
		parts = append(parts, a.Name+":"+valueString(a.Value))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func printArgs(args ast.ArgumentList) []dirArg {
	var out []dirArg
	for _, a := range args {
		out = append(out, dirArg{a.Name, valueString(a.Value)})
	}
	return out
}

// mergeCost merges the differing @cost or @listSize applications of one element
// as Apollo's composition does: the largest weight; for @listSize the largest
// assumedSize, the union of slicingArguments and of sizedFields, and
// requireOneSlicingArgument only when every subgraph requires it.
func mergeCost(name string, apps []applied) []dirArg {
	arg := func(a applied, n string) *ast.Value {
		if v := a.args.ForName(n); v != nil {
			return v.Value
		}
		return nil
	}
	if name == "cost" {
		best, have := 0, false
		for _, a := range apps {
			if v := arg(a, "weight"); v != nil {
				if w, err := strconv.Atoi(v.Raw); err == nil && (!have || w > best) {
					best, have = w, true
				}
			}
		}
		return []dirArg{{"weight", strconv.Itoa(best)}}
	}
	var out []dirArg
	size, haveSize := 0, false
	var slicing, sized []string
	haveSlicing, haveSized, require, haveRequire := false, false, true, false
	for _, a := range apps {
		if v := arg(a, "assumedSize"); v != nil {
			if n, err := strconv.Atoi(v.Raw); err == nil && (!haveSize || n > size) {
				size, haveSize = n, true
			}
		}
		for _, l := range []struct {
			name string
			to   *[]string
			have *bool
		}{{"slicingArguments", &slicing, &haveSlicing}, {"sizedFields", &sized, &haveSized}} {
			if v := arg(a, l.name); v != nil {
				*l.have = true
				for _, c := range v.Children {
					if !contains(*l.to, c.Value.Raw) {
						*l.to = append(*l.to, c.Value.Raw)
					}
				}
			}
		}
		b := true
		if v := arg(a, "requireOneSlicingArgument"); v != nil {
			b = v.Raw == "true"
		}
		require, haveRequire = require && b, true
	}
	list := func(names []string) string {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = quote(n)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	if haveSize {
		out = append(out, dirArg{"assumedSize", strconv.Itoa(size)})
	}
	if haveSlicing {
		out = append(out, dirArg{"slicingArguments", list(slicing)})
	}
	if haveSized {
		out = append(out, dirArg{"sizedFields", list(sized)})
	}
	if haveRequire {
		out = append(out, dirArg{"requireOneSlicingArgument", strconv.FormatBool(require)})
	}
	return out
}
