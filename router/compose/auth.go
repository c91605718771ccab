package compose

import (
	"encoding/json"
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
// strategy does: every subgraph's requirement must hold, so the disjunctions are
// multiplied out; conjunctions are sorted, repeated ones dropped, and a conjunction
// that includes a shorter one already kept is dropped (it is implied).
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
		if len(disj) == 0 {
			disj = [][]string{{}}
		}
		values = append(values, disj)
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
		return "[]"
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
	parts := make([]string, 0, len(result))
	for _, r := range result {
		qs := make([]string, 0, len(r))
		for _, s := range r {
			qs = append(qs, quote(s))
		}
		parts = append(parts, "["+strings.Join(qs, ", ")+"]")
	}
	return "[" + strings.Join(parts, ", ") + "]"
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
