package compose

import "github.com/vektah/gqlparser/v2/ast"

// prepare computes the per-subgraph federation metadata used by merging: fake externals
// (@external key fields of type extensions), fields targeted by @provides, shareable fields
// and fields used by @key/@requires/@provides or to satisfy an interface.
func (s *subgraph) prepare() {
	s.fake = map[string]bool{}
	s.provided = map[string]bool{}
	s.shareable = map[string]bool{}
	s.used = map[string]bool{}
	for _, n := range s.typeOrder {
		t := s.types[n]
		for _, k := range t.keys {
			if k.ofExt || t.extends {
				for _, f := range s.targetFields(t, k.fields, false) {
					if f.external {
						s.fake[f.coord()] = true
					}
				}
			}
		}
	}
	for _, n := range s.typeOrder {
		t := s.types[n]
		if t.kind != ast.Object && t.kind != ast.Interface {
			continue
		}
		for _, k := range t.keys {
			for _, f := range s.targetFields(t, k.fields, true) {
				s.shareable[f.coord()] = true
				s.used[f.coord()] = true
			}
		}
		for _, f := range t.fields {
			if f.shareable {
				s.shareable[f.coord()] = true
			}
			if f.requires != nil {
				for _, g := range s.targetFields(t, *f.requires, true) {
					s.used[g.coord()] = true
				}
			}
			if f.provides != nil {
				if bt := s.types[baseName(f.typ)]; bt != nil && isComposite(bt.kind) {
					for _, g := range s.targetFields(bt, *f.provides, true) {
						s.provided[g.coord()] = true
						s.used[g.coord()] = true
					}
				}
			}
		}
		if t.kind == ast.Interface {
			for _, impl := range s.implementations(t.name) {
				for _, f := range t.fields {
					if g := impl.field(f.name); g != nil {
						s.used[g.coord()] = true
					}
				}
			}
		}
	}
	for c := range s.provided {
		if f := s.fieldByCoord(c); f != nil && s.isExternal(f) {
			s.shareable[c] = true
		}
	}
}

func (s *subgraph) fieldByCoord(c string) *sField {
	for _, t := range s.types {
		for _, f := range t.fields {
			if f.coord() == c {
				return f
			}
		}
	}
	return nil
}

func (s *subgraph) isExternal(f *sField) bool { return f.external && !s.fake[f.coord()] }
func (s *subgraph) isFullyExternal(f *sField) bool {
	return s.isExternal(f) && !s.provided[f.coord()]
}
func (s *subgraph) isPartiallyExternal(f *sField) bool {
	return s.isExternal(f) && s.provided[f.coord()]
}
func (s *subgraph) isShareable(f *sField) bool { return s.shareable[f.coord()] }

func isComposite(k ast.DefinitionKind) bool {
	return k == ast.Object || k == ast.Interface || k == ast.Union
}

func (s *subgraph) isRoot(name string) bool {
	for _, r := range s.roots {
		if r == name {
			return true
		}
	}
	return false
}

// isFederationTypeExtension: an object/interface declared only through `extend type`
// (or marked @extends).
func (t *sType) isFederationTypeExtension() bool {
	return (t.hasExt || t.extends) && (t.kind == ast.Object || t.kind == ast.Interface) && (t.extends || !t.hasDef)
}

// upgradeFed1 applies the rules Apollo's composition uses to read a Federation v1
// subgraph as a v2 one. all holds every subgraph, already prepare()d in its original form.
func upgradeFed1(s *subgraph, all []*subgraph) {
	// @external on interface fields and on object types means nothing in v2.
	for _, t := range s.types {
		t.external = false
		if t.kind == ast.Interface {
			for _, f := range t.fields {
				f.external = false
			}
		}
	}
	// @external on the key fields of type extensions is dropped.
	for _, n := range s.typeOrder {
		t := s.types[n]
		if !t.isFederationTypeExtension() && !(s.isRoot(n) && t.hasExt && !t.hasDef) {
			continue
		}
		if len(t.keys) > 0 {
			for _, k := range t.keys {
				for _, f := range s.targetFields(t, k.fields, false) {
					if f.parent == t {
						f.external = false
					}
				}
			}
			continue
		}
		for _, o := range all {
			if o == s {
				continue
			}
			ot := o.types[n]
			if ot == nil || len(ot.keys) == 0 {
				continue
			}
			for _, f := range o.targetFields(ot, ot.keys[0].fields, false) {
				if f.parent != ot {
					continue
				}
				if own := t.field(f.name); own != nil {
					own.external = false
				}
			}
		}
	}
	// Type extensions become definitions (an @extends stays, so does its extension flag).
	for _, n := range s.typeOrder {
		t := s.types[n]
		if t.isFederationTypeExtension() || (s.isRoot(n) && t.hasExt && !t.hasDef) {
			t.hasExt, t.hasDef = false, true
			for i := range t.keys {
				t.keys[i].ofExt = false
			}
			for _, f := range t.fields {
				f.ofExt = false
			}
		}
	}
	// Keys on interfaces, and @requires/@provides on interface fields, are dropped.
	for _, t := range s.types {
		if t.kind == ast.Interface {
			t.keys = nil
			for _, f := range t.fields {
				f.requires, f.provides = nil, nil
			}
		}
	}
	// @provides on a non-composite field is dropped.
	for _, t := range s.types {
		for _, f := range t.fields {
			if f.provides != nil {
				if bt := s.types[baseName(f.typ)]; bt == nil || !isComposite(bt.kind) {
					f.provides = nil
				}
			}
		}
	}
	// Unused @external fields are removed.
	original := map[string]bool{}
	for c := range s.shareable {
		original[c] = true
	}
	s.prepare()
	for _, n := range append([]string(nil), s.typeOrder...) {
		t := s.types[n]
		if t.kind != ast.Object && t.kind != ast.Interface {
			continue
		}
		kept := t.fields[:0]
		removed := false
		for _, f := range t.fields {
			if s.isExternal(f) && !s.used[f.coord()] {
				removed = true
				continue
			}
			kept = append(kept, f)
		}
		t.fields = kept
		if removed && len(t.fields) == 0 {
			delete(s.types, n)
			s.typeOrder = removeString(s.typeOrder, n)
		}
	}
	// Shareability is implied: fields of entities and root types resolved elsewhere too,
	// and value types defined elsewhere too.
	for _, n := range s.typeOrder {
		t := s.types[n]
		if t.kind != ast.Object || n == "Subscription" {
			continue
		}
		if len(t.keys) > 0 || s.isRoot(n) {
			for _, f := range t.fields {
				if original[f.coord()] {
					continue
				}
				for _, o := range all {
					if o == s {
						continue
					}
					ot := o.types[n]
					if ot == nil {
						continue
					}
					if g := ot.field(f.name); g != nil && (!o.origExternal(g) || o.origPartiallyExternal(g)) {
						f.shareable = true
						break
					}
				}
			}
			continue
		}
		for _, o := range all {
			if o != s && o.types[n] != nil {
				for _, f := range t.fields {
					f.shareable = true
				}
				break
			}
		}
	}
}

func removeString(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// snapshot records the external status of fields before any v1 upgrade, as the upgrade
// of one subgraph looks at the others in their original form.
func (s *subgraph) snapshot() {
	s.origExt = map[string]bool{}
	s.origPartial = map[string]bool{}
	for _, t := range s.types {
		for _, f := range t.fields {
			s.origExt[f.coord()] = s.isExternal(f)
			s.origPartial[f.coord()] = s.isPartiallyExternal(f)
		}
	}
}

func (s *subgraph) origExternal(f *sField) bool          { return s.origExt[f.coord()] }
func (s *subgraph) origPartiallyExternal(f *sField) bool { return s.origPartial[f.coord()] }
