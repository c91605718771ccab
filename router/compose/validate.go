package compose

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
)

var (
	overrideLabelRe   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_\-:./]*$`)
	overridePercentRe = regexp.MustCompile(`^percent\((\d{1,2}(\.\d{1,8})?|100)\)$`)
)

// validateOverride checks the @override applications of one field and decides which
// subgraphs still resolve it.
func (g *supergraph) validateOverride(parent *gType, dest *gField, sources []src[*sField]) *mergeCtx {
	ctx := newMergeCtx()
	coord := parent.name + "." + dest.name
	bySubgraph := map[string]src[*sField]{}
	var withOverride []string
	for _, s := range sources {
		if s.el == nil {
			continue
		}
		sg := g.subgraphs[s.idx]
		bySubgraph[sg.name] = s
		if s.el.override != nil && sg.fed2 {
			withOverride = append(withOverride, sg.name)
		}
	}
	for _, name := range withOverride {
		s := bySubgraph[name]
		sg := g.subgraphs[s.idx]
		o := s.el.override
		if s.el.parent.kind == ast.Interface {
			g.errorf("OVERRIDE_ON_INTERFACE", name, parent.name, dest.name, "@override cannot be used on field %q on subgraph %q: @override is not supported on interface type fields.", coord, name)
			continue
		}
		if s.el.parent.interfaceObject {
			g.errorf("OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE", name, parent.name, dest.name, "@override is not yet supported on fields of @interfaceObject types: cannot be used on field %q on subgraph %q.", coord, name)
			continue
		}
		from := g.subgraphByName(o.from)
		switch {
		case from == nil:
			ctx.unknownTarget[s.idx] = true
		case o.from == name:
			g.errorf("OVERRIDE_FROM_SELF_ERROR", name, parent.name, dest.name, "Source and destination subgraphs %q are the same for overridden field %q", o.from, coord)
		case contains(withOverride, o.from):
			g.errorf("OVERRIDE_SOURCE_HAS_OVERRIDE", name, parent.name, dest.name, "Field %q on subgraph %q is also marked with directive @override in subgraph %q. Only one @override directive is allowed per field.", coord, name, o.from)
		default:
			fs, ok := bySubgraph[o.from]
			if !ok {
				continue // the field no longer exists in the source subgraph: nothing to take over
			}
			conflict := ""
			where := o.from
			switch {
			case fs.el.requires != nil:
				conflict = "requires"
			case fs.el.provides != nil:
				conflict = "provides"
			case sg.isExternal(s.el):
				conflict, where = "external", name
			}
			if conflict != "" {
				g.errorf("OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE", name, parent.name, dest.name, "@override cannot be used on field %q on subgraph %q since %q on %q is marked with directive \"@%s\"", coord, name, coord, where, conflict)
				continue
			}
			switch {
			case from.isExternal(fs.el):
				// already not resolved by the source subgraph
			case from.used[fs.el.coord()]:
				ctx.usedOverridden[from.idx] = true
			default:
				ctx.unusedOverridden[from.idx] = true
			}
			if o.label != nil {
				l := *o.label
				valid := overrideLabelRe.MatchString(l)
				if m := overridePercentRe.FindStringSubmatch(l); m != nil {
					if p, err := strconv.ParseFloat(m[1], 64); err == nil && p >= 0 && p <= 100 {
						valid = true
					}
				}
				if valid {
					ctx.label[s.idx] = l
					ctx.label[from.idx] = l
				} else {
					g.errorf("OVERRIDE_LABEL_INVALID", name, parent.name, dest.name, "Invalid @override label %q on field %q on subgraph %q: labels must start with a letter and after that may contain alphanumerics, underscores, minuses, colons, periods, or slashes. Alternatively, labels may be of the form \"percent(x)\" where x is a float between 0-100 inclusive.", l, coord, name)
				}
			}
		}
	}
	return ctx
}

func (g *supergraph) subgraphByName(name string) *subgraph {
	for _, s := range g.subgraphs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// validateFieldSharing rejects a non-shareable field resolved by several subgraphs.
func (g *supergraph) validateFieldSharing(parent *gType, dest *gField, sources []src[*sField], ctx *mergeCtx) {
	var shareable, nonShareable, resolving []string
	for _, s := range sources {
		sg := g.subgraphs[s.idx]
		if s.el == nil {
			// fields abstracted by an @interfaceObject count as resolved there
			for _, itf := range parent.interfaces {
				if it := sg.types[itf]; it != nil && it.interfaceObject {
					if f := it.field(dest.name); f != nil && !sg.isFullyExternal(f) {
						resolving = append(resolving, sg.name)
						if sg.isShareable(f) {
							shareable = append(shareable, sg.name)
						} else {
							nonShareable = append(nonShareable, sg.name)
						}
					}
				}
			}
			continue
		}
		if ctx.usedOverridden[s.idx] || ctx.unusedOverridden[s.idx] {
			continue
		}
		if sg.isFullyExternal(s.el) {
			continue
		}
		resolving = append(resolving, sg.name)
		if sg.isShareable(s.el) {
			shareable = append(shareable, sg.name)
		} else {
			nonShareable = append(nonShareable, sg.name)
		}
	}
	if len(nonShareable) > 0 && (len(shareable) > 0 || len(nonShareable) > 1) {
		non := "all of them"
		if len(shareable) > 0 {
			non = subgraphNames(nonShareable)
		}
		g.errorf("INVALID_FIELD_SHARING", nonShareable[0], parent.name, dest.name,
			"Non-shareable field \"%s.%s\" is resolved from multiple subgraphs: it is resolved from %s and defined as non-shareable in %s",
			parent.name, dest.name, subgraphNames(resolving), non)
	}
}

// validateInterfaceKeys: a subgraph with a resolvable @key on an interface must define
// every implementation of that interface.
func (g *supergraph) validateInterfaceKeys(dest *gType, sources []src[*sType]) {
	var impls []string
	for _, n := range g.order {
		if t := g.types[n]; t.kind == ast.Object && contains(t.interfaces, dest.name) {
			impls = append(impls, n)
		}
	}
	for _, s := range sources {
		if s.el.kind != ast.Interface {
			continue
		}
		var key *sKey
		for i, k := range s.el.keys {
			if k.resolvable == nil || *k.resolvable {
				key = &s.el.keys[i]
				break
			}
		}
		if key == nil {
			continue
		}
		sg := g.subgraphs[s.idx]
		var missing []string
		for _, impl := range impls {
			if t := sg.types[impl]; t == nil || !contains(t.interfaces, dest.name) {
				missing = append(missing, impl)
			}
		}
		if len(missing) > 0 {
			g.errorf("INTERFACE_KEY_MISSING_IMPLEMENTATION_TYPE", sg.name, dest.name, "",
				"[%s] Interface type %q has a resolvable key (@key(fields: %q)) in subgraph %q but that subgraph is missing some of the supergraph implementation types of %q. Subgraph %q should define %s (and have %s implement %q).",
				sg.name, dest.name, key.fields, sg.name, dest.name, sg.name, printTypes(missing), itOrThem(missing), dest.name)
		}
	}
}

func itOrThem(l []string) string {
	if len(l) > 1 {
		return "them"
	}
	return "it"
}

func printTypes(names []string) string {
	var q []string
	for _, n := range names {
		q = append(q, strconv.Quote(n))
	}
	prefix := "type "
	if len(q) > 1 {
		prefix = "types "
	}
	return prefix + joinStrings(q, ", ", " and ")
}

// validateInterfaceObjects: a subgraph using @interfaceObject for an interface must not
// define any of its implementations.
func (g *supergraph) validateInterfaceObjects(dest *gType, sources []src[*sType]) {
	for _, s := range sources {
		if !s.el.interfaceObject {
			continue
		}
		sg := g.subgraphs[s.idx]
		var defined []string
		for _, n := range g.order {
			if t := g.types[n]; t.kind == ast.Object && contains(t.interfaces, dest.name) && sg.types[n] != nil {
				defined = append(defined, n)
			}
		}
		if len(defined) > 0 {
			g.errorf("INTERFACE_OBJECT_USAGE_ERROR", sg.name, dest.name, "",
				"[%s] Interface type %q is defined as an @interfaceObject in subgraph %q so that subgraph should not define any of the implementation types of %q, but it defines %s",
				sg.name, dest.name, sg.name, dest.name, printTypes(defined))
		}
	}
}

// checkInterfaceObjectUsage: an @interfaceObject type must be an interface in some subgraph.
func (g *supergraph) checkInterfaceObjectUsage(name string) {
	var itfObj, asInterface []string
	for _, s := range g.subgraphs {
		t := s.types[name]
		if t == nil {
			continue
		}
		if t.interfaceObject {
			itfObj = append(itfObj, s.name)
		} else if t.kind == ast.Interface {
			asInterface = append(asInterface, s.name)
		}
	}
	if len(itfObj) > 0 && len(asInterface) == 0 {
		g.errorf("INTERFACE_OBJECT_USAGE_ERROR", itfObj[0], name, "",
			"Type %q is declared with @interfaceObject in all the subgraphs in which it is defined (it is defined in %s but should be defined as an interface in at least one subgraph)",
			name, subgraphNames(itfObj))
	}
}

// subgraphNames renders `subgraph "a"` or `subgraphs "a", "b" and "c"`.
func subgraphNames(names []string) string {
	var q []string
	for _, n := range names {
		q = append(q, strconv.Quote(n))
	}
	if len(q) == 1 {
		return "subgraph " + q[0]
	}
	return "subgraphs " + joinStrings(q, ", ", " and ")
}

// joinStrings joins with sep, using last between the last two elements.
func joinStrings(parts []string, sep, last string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	out := ""
	for i, p := range parts[:len(parts)-1] {
		if i > 0 {
			out += sep
		}
		out += p
	}
	return out + last + parts[len(parts)-1]
}

// validateFieldSets checks that @key, @requires and @provides select existing fields.
func (s *subgraph) validateFieldSets() []error {
	var errs []error
	check := func(parent *sType, directive, fs, typ, field string) {
		if msg := s.fieldSetProblem(parent, fs); msg != "" {
			code := map[string]string{"key": "KEY_INVALID_FIELDS", "requires": "REQUIRES_INVALID_FIELDS", "provides": "PROVIDES_INVALID_FIELDS"}[directive]
			where := fmt.Sprintf("On type %q", typ)
			if field != "" {
				where = fmt.Sprintf("On field \"%s.%s\"", typ, field)
			}
			errs = append(errs, newError(code, s.name, typ, field, fmt.Sprintf("[%s] %s, for @%s(fields: %s): %s", s.name, where, directive, quote(fs), msg)))
		}
	}
	for _, n := range s.typeOrder {
		t := s.types[n]
		for _, k := range t.keys {
			check(t, "key", k.fields, n, "")
		}
		for _, f := range t.fields {
			if f.requires != nil {
				check(t, "requires", *f.requires, n, f.name)
			}
			if f.provides != nil {
				if bt := s.types[baseName(f.typ)]; bt != nil {
					check(bt, "provides", *f.provides, n, f.name)
				}
			}
		}
	}
	return errs
}

// fieldSetProblem describes why a field set does not apply to parent ("" when it does).
func (s *subgraph) fieldSetProblem(parent *sType, fs string) string {
	sel, err := parseFieldSet(fs)
	if err != nil {
		return "invalid field set: " + err.Error()
	}
	var walk func(t *sType, set ast.SelectionSet) string
	walk = func(t *sType, set ast.SelectionSet) string {
		for _, x := range set {
			switch x := x.(type) {
			case *ast.Field:
				if x.Name == "__typename" {
					continue
				}
				f := t.field(x.Name)
				if f == nil {
					return fmt.Sprintf("Cannot query field %q on type %q (the field should either be added to this subgraph or, if it should not be resolved by this subgraph, you need to add it to this subgraph with @external).", x.Name, t.name)
				}
				if len(x.SelectionSet) > 0 {
					bt := s.types[baseName(f.typ)]
					if bt == nil {
						return fmt.Sprintf("Field \"%s.%s\" has no sub-selection", t.name, x.Name)
					}
					if m := walk(bt, x.SelectionSet); m != "" {
						return m
					}
				}
			case *ast.InlineFragment:
				nt := t
				if x.TypeCondition != "" {
					nt = s.types[x.TypeCondition]
				}
				if nt == nil {
					return fmt.Sprintf("Unknown type %q", x.TypeCondition)
				}
				if m := walk(nt, x.SelectionSet); m != "" {
					return m
				}
			}
		}
		return ""
	}
	return walk(parent, sel)
}

// validateExternalUsage (federation v2): an @external field must be used by @key,
// @requires, @provides or to satisfy an interface.
func (s *subgraph) validateExternalUsage() []error {
	if !s.fed2 {
		return nil
	}
	var errs []error
	for _, n := range s.typeOrder {
		t := s.types[n]
		if t.kind != ast.Object && t.kind != ast.Interface {
			continue
		}
		for _, f := range t.fields {
			if s.isExternal(f) && !s.used[f.coord()] {
				errs = append(errs, newError("EXTERNAL_UNUSED", s.name, n, f.name, fmt.Sprintf("[%s] Field %q is marked @external but is not used in any federation directive (@key, @provides, @requires) or to satisfy an interface; the field declaration has no use and should be removed (or the field should not be @external).", s.name, f.coord())))
			}
		}
	}
	return errs
}
