package compose

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Composition of the access-control directives (@authenticated, @requiresScopes,
// @policy) as Apollo's composition 2.9.4+ does it (composition/src/merging/merge.ts):
//
//   - an interface gets the requirements of its implementations (type-level
//     applications on any subgraph's object type that implements it in the
//     supergraph), merged with its own;
//   - an interface field I.f gets the requirements of the non-external T.f of
//     every implementation T; a field of an @interfaceObject gets applied to
//     the implementations' fields (and their other interfaces' fields);
//   - on fields and interfaces these directives are printed first, in the order
//     authenticated, requiresScopes, policy;
//   - different arguments merge as a DNF conjunction (dnfConjunction in
//     federation-internals/src/argumentCompositionStrategies.ts).

var accessControl = []string{"authenticated", "requiresScopes", "policy"}

func isAccessControl(name string) bool { return slices.Contains(accessControl, name) }

// authSources returns the additional sources of access-control applications for a
// supergraph coordinate ("Type" or "Type.field"), in subgraph order.
func (g *supergraph) authSources(coord string) []src[[]applied] {
	if g.authExtra == nil {
		g.authExtra = g.collectAuthSources()
	}
	return g.authExtra[coord]
}

func (g *supergraph) collectAuthSources() map[string][]src[[]applied] {
	out := map[string][]src[[]applied]{}
	implToItf := map[string][]string{}
	itfToImpl := map[string][]string{}
	for _, n := range g.order {
		t := g.types[n]
		if t.kind != ast.Object {
			continue
		}
		for _, itf := range t.interfaces {
			implToItf[n] = append(implToItf[n], itf)
			itfToImpl[itf] = append(itfToImpl[itf], n)
		}
	}
	for _, s := range g.subgraphs {
		for _, name := range accessControl {
			// Apollo walks each directive's applications: types, then their fields.
			for _, tn := range s.typeOrder {
				t := s.types[tn]
				if t == nil || t.kind != ast.Object {
					continue
				}
				for _, a := range t.applied {
					if a.name == name && !t.interfaceObject {
						for _, itf := range implToItf[tn] {
							out[itf] = append(out[itf], src[[]applied]{s.idx, []applied{a}})
						}
					}
				}
				for _, f := range t.fields {
					if s.isExternal(f) {
						continue
					}
					for _, a := range f.applied {
						if a.name != name {
							continue
						}
						add := func(coord string) { out[coord] = append(out[coord], src[[]applied]{s.idx, []applied{a}}) }
						if t.interfaceObject {
							var others []string
							for _, impl := range itfToImpl[tn] {
								add(impl + "." + f.name)
								for _, itf := range implToItf[impl] {
									if itf != tn && !slices.Contains(others, itf) {
										others = append(others, itf)
									}
								}
							}
							for _, itf := range others {
								add(itf + "." + f.name)
							}
							continue
						}
						for _, itf := range implToItf[tn] {
							add(itf + "." + f.name)
						}
					}
				}
			}
		}
	}
	return out
}

// mergeAppliedWithAuth merges the kept directive applications of an element. On fields
// and interfaces (authFirst) the access-control directives, with the additional
// sources of coord, come first; then the other directives in the order they appear.
func (g *supergraph) mergeAppliedWithAuth(dest []dir, sources []src[[]applied], coord string, authFirst bool) []dir {
	if !authFirst {
		return g.mergeOtherApplied(dest, sources)
	}
	extra := g.authSources(coord)
	for _, name := range accessControl {
		var only []src[[]applied]
		for _, s := range append(append([]src[[]applied]{}, sources...), extra...) {
			var mine []applied
			for _, a := range s.el {
				if a.name == name {
					mine = append(mine, a)
				}
			}
			if s.idx >= 0 && len(mine) > 0 {
				only = append(only, src[[]applied]{s.idx, mine})
			}
		}
		if len(only) > 0 {
			dest = g.mergeOtherApplied(dest, only)
		}
	}
	rest := make([]src[[]applied], 0, len(sources))
	for _, s := range sources {
		var kept []applied
		for _, a := range s.el {
			if !isAccessControl(a.name) {
				kept = append(kept, a)
			}
		}
		rest = append(rest, src[[]applied]{s.idx, kept})
	}
	return g.mergeOtherApplied(dest, rest)
}

// mergeDNF merges @requiresScopes/@policy applications as Apollo's DNF_CONJUNCTION
// strategy does (see dnfConjunction) and prints the result.
func mergeDNF(apps []applied, arg string) string {
	var values [][][]string
	for _, a := range apps {
		v := a.args.ForName(arg)
		if v == nil || v.Value == nil {
			continue
		}
		var disj [][]string
		for _, c := range v.Value.Children {
			conj := []string{}
			for _, x := range c.Value.Children {
				conj = append(conj, x.Value.Raw)
			}
			disj = append(disj, conj)
		}
		values = append(values, disj)
	}
	return printDNF(dnfConjunction(values))
}

func printDNF(dnf [][]string) string {
	parts := make([]string, 0, len(dnf))
	for _, r := range dnf {
		qs := make([]string, 0, len(r))
		for _, s := range r {
			qs = append(qs, quote(s))
		}
		parts = append(parts, "["+strings.Join(qs, ", ")+"]")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// dnfConjunction is federation-internals' dnfConjunction: every value must hold,
// so the disjunctions are multiplied out; conjunctions are sorted, repeated ones
// dropped, and a conjunction that includes a shorter one already kept is dropped
// (it is implied). An empty disjunction counts as true ([[]]).
func dnfConjunction(in [][][]string) [][]string {
	var values [][][]string
	for _, v := range in {
		c := make([][]string, 0, len(v))
		for _, conj := range v {
			c = append(c, append([]string{}, conj...))
		}
		if len(c) == 0 {
			c = [][]string{{}}
		}
		values = append(values, c)
	}
	// filterNestedArrayDuplicates: sort inside each value, drop repeated values.
	var filtered [][][]string
	seen := map[string]bool{}
	for _, v := range values {
		for _, c := range v {
			sort.Strings(c)
		}
		sort.SliceStable(v, func(i, j int) bool { return jsonKey(v[i]) < jsonKey(v[j]) })
		k := jsonKey(v)
		if !seen[k] {
			seen[k] = true
			filtered = append(filtered, v)
		}
	}
	if len(filtered) == 0 {
		return [][]string{}
	}
	result := filtered[0]
	for _, cur := range filtered[1:] {
		var acc [][]string
		done := map[string]bool{}
		for _, a := range result {
			for _, c := range cur {
				cand := append([]string{}, a...)
				for _, e := range c {
					if !slices.Contains(a, e) {
						cand = append(cand, e)
					}
				}
				sort.Strings(cand)
				if k := jsonKey(cand); !done[k] {
					done[k] = true
					acc = append(acc, cand)
				}
			}
		}
		result = dropSubsumed(acc)
	}
	return result
}

// dropSubsumed keeps, shortest first (stable), the conjunctions that contain no kept one.
func dropSubsumed(in [][]string) [][]string {
	sort.SliceStable(in, func(i, j int) bool { return len(in[i]) < len(in[j]) })
	var out [][]string
	for _, c := range in {
		redundant := false
		for _, r := range out {
			all := true
			for _, e := range r {
				if !slices.Contains(c, e) {
					all = false
					break
				}
			}
			if all {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, c)
		}
	}
	return out
}

func jsonKey(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// validateAuthOnInterfaces reports access-control directives on interfaces,
// interface fields and interface objects (AUTH_REQUIREMENTS_APPLIED_ON_INTERFACE,
// Apollo 2.9.4+: their requirements come from the implementations instead).
func (s *subgraph) validateAuthOnInterfaces() []error {
	var errs []error
	for _, name := range accessControl {
		for _, tn := range s.typeOrder {
			t := s.types[tn]
			if t == nil || (t.kind != ast.Interface && !t.interfaceObject) {
				continue
			}
			kind := "interface"
			if t.interfaceObject {
				kind = "interface object"
			}
			for _, a := range t.applied {
				if a.name == name {
					errs = append(errs, authOnInterface(s.name, name, kind, tn, ""))
				}
			}
			if t.kind != ast.Interface {
				continue
			}
			for _, f := range t.fields {
				for _, a := range f.applied {
					if a.name == name {
						errs = append(errs, authOnInterface(s.name, name, "field", tn, f.name))
					}
				}
			}
		}
	}
	return errs
}

func authOnInterface(subgraph, directive, kind, typ, field string) error {
	coord := typ
	if field != "" {
		coord += "." + field
	}
	return newError("AUTH_REQUIREMENTS_APPLIED_ON_INTERFACE", subgraph, typ, field,
		fmt.Sprintf("Invalid use of @%s on %s %q: @%s cannot be applied on interfaces, interface fields and interface objects", directive, kind, coord, directive))
}

// authReqs are the merged access-control requirements of a supergraph element.
type authReqs struct {
	authenticated    bool
	scopes, policies [][]string // nil: none
}

func reqsOf(dirs []dir) *authReqs {
	var r *authReqs
	for _, d := range dirs {
		if !isAccessControl(d.name) {
			continue
		}
		if r == nil {
			r = &authReqs{}
		}
		switch d.name {
		case "authenticated":
			r.authenticated = true
		case "requiresScopes":
			r.scopes = parseDNF(d.args)
		case "policy":
			r.policies = parseDNF(d.args)
		}
	}
	return r
}

// parseDNF reads a printed [[String]] argument (a list of lists of strings prints
// as JSON).
func parseDNF(args []dirArg) [][]string {
	out := [][]string{}
	if len(args) == 1 {
		_ = json.Unmarshal([]byte(args[0].value), &out)
	}
	return out
}

// satisfies is Apollo's AuthRequirementsOnElement.satisfies: r implies other.
func (r *authReqs) satisfies(other *authReqs) bool {
	if other == nil {
		return true
	}
	return (r.authenticated || !other.authenticated) && implies(r.scopes, other.scopes) && implies(r.policies, other.policies)
}

func implies(first, second [][]string) bool {
	if len(first) == 0 {
		first = [][]string{{}}
	}
	if len(second) == 0 {
		second = [][]string{{}}
	}
	for _, f := range first {
		ok := false
		for _, s := range second {
			all := true
			for _, e := range s {
				if !slices.Contains(f, e) {
					all = false
					break
				}
			}
			if all {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// validateTransitiveAuth reports a field whose @requires selects data its own
// requirements (with its type's) do not imply (MISSING_TRANSITIVE_AUTH_REQUIREMENTS,
// Apollo 2.9.4+): the router would fetch that data for a caller who may not see it.
func (g *supergraph) validateTransitiveAuth() {
	if !g.specs["authenticated"] && !g.specs["requiresScopes"] && !g.specs["policy"] {
		return
	}
	for _, tn := range g.order {
		t := g.types[tn]
		if t.removed || (t.kind != ast.Object && t.kind != ast.Interface) {
			continue
		}
		for _, f := range t.fields {
			own := &authReqs{}
			var scopes, policies [][][]string
			for _, r := range []*authReqs{reqsOf(t.dirs), reqsOf(f.dirs)} {
				if r == nil {
					continue
				}
				own.authenticated = own.authenticated || r.authenticated
				if r.scopes != nil {
					scopes = append(scopes, r.scopes)
				}
				if r.policies != nil {
					policies = append(policies, r.policies)
				}
			}
			if scopes != nil {
				own.scopes = dnfConjunction(scopes)
			}
			if policies != nil {
				own.policies = dnfConjunction(policies)
			}
			for _, s := range g.subgraphs {
				st := s.types[tn]
				if st == nil {
					continue
				}
				sf := st.field(f.name)
				if sf == nil || sf.requires == nil {
					continue
				}
				sel, err := parseFieldSet(*sf.requires)
				if err != nil {
					continue
				}
				if msg := g.transitiveAuth(own, tn, sel); msg != "" {
					g.errorf("MISSING_TRANSITIVE_AUTH_REQUIREMENTS", s.name, tn, f.name,
						"Field %q does not specify necessary @authenticated, @requiresScopes and/or @policy auth requirements to access the transitive %s from @requires selection set.", tn+"."+f.name, msg)
				}
			}
		}
	}
}

// transitiveAuth returns what of sel (on type parent) own does not cover, or "".
func (g *supergraph) transitiveAuth(own *authReqs, parent string, sel ast.SelectionSet) string {
	pt := g.types[parent]
	for _, x := range sel {
		switch x := x.(type) {
		case *ast.Field:
			if pt == nil || x.Name == "__typename" {
				continue
			}
			f := pt.field(x.Name)
			if f == nil {
				continue
			}
			var ret *authReqs
			if rt := g.types[f.typ.Name()]; rt != nil {
				ret = reqsOf(rt.dirs)
			}
			if !own.satisfies(reqsOf(f.dirs)) || !own.satisfies(ret) {
				return fmt.Sprintf("field %q data", parent+"."+x.Name)
			}
			if msg := g.transitiveAuth(own, f.typ.Name(), x.SelectionSet); msg != "" {
				return msg
			}
		case *ast.InlineFragment:
			next := parent
			if x.TypeCondition != "" {
				next = x.TypeCondition
				if ct := g.types[next]; ct != nil && !own.satisfies(reqsOf(ct.dirs)) {
					return fmt.Sprintf("data in inline fragment type condition %q", next)
				}
			}
			if msg := g.transitiveAuth(own, next, x.SelectionSet); msg != "" {
				return msg
			}
		}
	}
	return ""
}
