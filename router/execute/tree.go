package execute

import (
	"bytes"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/plan"
)

// The response tree is the subgraph responses themselves (docs), merged without
// copying: an object that receives a subgraph result gets a link to it, and a
// member is looked up in the object first, then in its links in the order they
// were made. A value that a later result replaces is marked forwarded. So one
// execution holds its subgraph responses' bytes and 28 bytes per value.

// ref names a value: node n of doc d of the run.
type ref struct{ d, n uint32 }

// link chains an object merged into another one.
type link struct {
	to   ref
	next uint32
}

func (r *run) at(x ref) (*doc, *node) {
	d := r.docs[x.d]
	return d, &d.nodes[x.n]
}

func (r *run) kind(x ref) uint8 {
	return r.docs[x.d].nodes[x.n].kind
}

// resolve follows replacements.
func (r *run) resolve(x ref) ref {
	for r.docs[x.d].nodes[x.n].flags&flagForward != 0 {
		x = r.forward[x]
	}
	return x
}

// addDoc makes a parsed doc part of the run (under r.mu once fetches run).
func (r *run) addDoc(d *doc) uint32 {
	r.docs = append(r.docs, d)
	return uint32(len(r.docs) - 1)
}

// get finds a member of an object, merged members included.
func (r *run) get(obj ref, key string) (ref, bool) {
	part := obj
	var l uint32
	for {
		d, n := r.at(part)
		if n.kind != kindObject {
			return ref{}, false
		}
		if c, ok := d.member(part.n, key); ok {
			return r.resolve(ref{part.d, c}), true
		}
		if l == 0 {
			l = n.ext
		} else {
			l = r.links[l].next
		}
		if l == 0 {
			return ref{}, false
		}
		part = r.links[l].to
	}
}

// members calls fn for every member of an object, merged members included,
// each key once (the first one found, as get finds it).
func (r *run) members(obj ref, fn func(key string, v ref)) {
	var seen []string
	part := obj
	var l uint32
	for {
		d, n := r.at(part)
		for c, i := part.n+1, uint32(0); i < n.count; i++ {
			cn := &d.nodes[c]
			key := d.keyOf(cn)
			if !containsString(seen, key) {
				seen = append(seen, key)
				fn(key, r.resolve(ref{part.d, c}))
			}
			c = cn.next
		}
		if l == 0 {
			l = n.ext
		} else {
			l = r.links[l].next
		}
		if l == 0 {
			return
		}
		part = r.links[l].to
	}
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// items calls fn for every item of an array.
func (r *run) items(arr ref, fn func(i int, v ref) bool) {
	d, n := r.at(arr)
	for c, i := arr.n+1, uint32(0); i < n.count; i++ {
		if !fn(int(i), r.resolve(ref{arr.d, c})) {
			return
		}
		c = d.nodes[c].next
	}
}

// stringOf returns a string value's content ("" for other kinds).
func (r *run) stringOf(x ref) string {
	d, n := r.at(x)
	if n.kind != kindString {
		return ""
	}
	return d.str(n)
}

// appendValue writes a value as JSON, merged members included.
func (r *run) appendValue(buf []byte, x ref) []byte {
	d, n := r.at(x)
	switch n.kind {
	case kindString:
		return d.appendString(buf, n)
	case kindObject:
		buf = append(buf, '{')
		first := true
		r.members(x, func(key string, v ref) {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = appendJSONString(buf, key)
			buf = append(buf, ':')
			buf = r.appendValue(buf, v)
		})
		return append(buf, '}')
	case kindArray:
		buf = append(buf, '[')
		r.items(x, func(i int, v ref) bool {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = r.appendValue(buf, v)
			return true
		})
		return append(buf, ']')
	default:
		return append(buf, d.bytes(n)...)
	}
}

// collect finds the objects at a plan path ("@" walks into lists). With paths
// non-nil it also records each object's client path (only needed for errors).
func (r *run) collect(root ref, path []string, paths *[][]any) []ref {
	cur := []ref{root}
	var curPaths [][]any
	if paths != nil {
		curPaths = [][]any{nil}
	}
	for i := 0; i < len(path); i++ {
		seg := path[i]
		if seg == "@" {
			continue
		}
		lists := 0
		for j := i + 1; j < len(path) && path[j] == "@"; j++ {
			lists++
		}
		next := make([]ref, 0, len(cur))
		var nextPaths [][]any
		for k, obj := range cur {
			v, ok := r.get(obj, seg)
			if !ok || r.kind(v) == kindNull {
				continue
			}
			var p []any
			if paths != nil {
				p = append(append([]any(nil), curPaths[k]...), seg)
			}
			next, nextPaths = r.flatten(next, nextPaths, v, p, lists, paths != nil)
		}
		cur, curPaths = next, nextPaths
	}
	if paths != nil {
		*paths = curPaths
	}
	return cur
}

func (r *run) flatten(out []ref, outPaths [][]any, v ref, path []any, lists int, withPaths bool) ([]ref, [][]any) {
	if lists == 0 {
		if r.kind(v) == kindObject {
			out = append(out, v)
			if withPaths {
				outPaths = append(outPaths, path)
			}
		}
		return out, outPaths
	}
	if r.kind(v) != kindArray {
		return out, outPaths
	}
	r.items(v, func(i int, item ref) bool {
		if r.kind(item) == kindNull {
			return true
		}
		var p []any
		if withPaths {
			p = append(append([]any(nil), path...), i)
		}
		out, outPaths = r.flatten(out, outPaths, item, p, lists-1, withPaths)
		return true
	})
	return out, outPaths
}

// appendRepresentation writes the representation of an object for an entity
// fetch; false when its type is not fetched or a key field is missing or null.
func (r *run) appendRepresentation(buf []byte, obj ref, specs []*plan.RepresentationSpec) ([]byte, bool) {
	tn, ok := r.get(obj, "__typename")
	if !ok {
		return buf, false
	}
	typeName := r.stringOf(tn)
	for _, s := range specs {
		if s.TypeName != typeName {
			continue
		}
		for _, k := range s.KeyFields {
			if v, ok := r.get(obj, k); !ok || r.kind(v) == kindNull {
				return buf, false // null keys identify nothing
			}
		}
		as := s.As
		if as == "" {
			as = s.TypeName
		}
		buf = append(buf, `{"__typename":`...)
		buf = appendJSONString(buf, as)
		return r.appendFields(buf, obj, s.Selection, false)
	}
	return buf, false
}

// appendFields writes the selected fields of obj (after the opening brace; first
// says whether a member was written already) and the closing brace.
func (r *run) appendFields(buf []byte, obj ref, sel []*plan.KeyField, first bool) ([]byte, bool) {
	for _, f := range sel {
		if f.Name == "__typename" {
			continue
		}
		key := f.Name
		if f.Key != "" {
			key = f.Key
		}
		v, ok := r.get(obj, key)
		if !ok {
			if f.Optional {
				continue
			}
			return buf, false
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, f.Name)
		buf = append(buf, ':')
		if buf, ok = r.appendSelected(buf, v, f.Children); !ok {
			return buf, false
		}
	}
	return append(buf, '}'), true
}

func (r *run) appendSelected(buf []byte, v ref, children []*plan.KeyField) ([]byte, bool) {
	if len(children) == 0 {
		return r.appendValue(buf, v), true
	}
	switch r.kind(v) {
	case kindObject:
		buf = append(buf, '{')
		first := true
		if tn, ok := r.get(v, "__typename"); ok {
			buf = append(buf, `"__typename":`...)
			buf = r.appendValue(buf, tn)
			first = false
		}
		return r.appendFields(buf, v, children, first)
	case kindArray:
		buf = append(buf, '[')
		ok := true
		r.items(v, func(i int, item ref) bool {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf, ok = r.appendSelected(buf, item, children)
			return ok
		})
		if !ok {
			return buf, false
		}
		return append(buf, ']'), true
	default:
		return r.appendValue(buf, v), true
	}
}

// merge merges a subgraph result into the response tree. An object's __typename
// is only replaced by a concrete type's name: an @interfaceObject subgraph
// answers with the interface's name, its owner with the real type.
func (r *run) merge(dst, src ref) {
	if r.kind(dst) != kindObject || r.kind(src) != kindObject {
		return
	}
	sd, sn := r.at(src)
	fresh := false // src has members dst lacks: link it
	for c, i := src.n+1, uint32(0); i < sn.count; i++ {
		cn := &sd.nodes[c]
		k, v := sd.keyOf(cn), r.resolve(ref{src.d, c})
		c = cn.next
		cur, ok := r.get(dst, k)
		if !ok {
			fresh = true
			continue
		}
		if cur == v || r.same(cur, v) {
			continue
		}
		if k == "__typename" {
			if r.concrete(v) {
				r.replace(cur, v)
			}
			continue
		}
		ck, vk := r.kind(cur), r.kind(v)
		switch {
		case ck == kindObject && vk == kindObject:
			r.merge(cur, v)
		case ck == kindArray && vk == kindArray && r.count(cur) == r.count(v):
			r.mergeItems(cur, v)
		default:
			r.replace(cur, v)
		}
	}
	if fresh {
		r.appendLink(dst, src)
	}
}

func (r *run) mergeItems(dst, src ref) {
	dd, dn := r.at(dst)
	sd := r.docs[src.d]
	dc, sc := dst.n+1, src.n+1
	for i := uint32(0); i < dn.count; i++ {
		cur, v := r.resolve(ref{dst.d, dc}), r.resolve(ref{src.d, sc})
		dc, sc = dd.nodes[dc].next, sd.nodes[sc].next
		switch {
		case cur == v:
		case r.kind(cur) == kindObject && r.kind(v) == kindObject:
			r.merge(cur, v)
		case !r.same(cur, v):
			r.replace(cur, v)
		}
	}
}

func (r *run) count(x ref) uint32 { return r.docs[x.d].nodes[x.n].count }

// same reports two scalars with the same bytes (nothing to merge).
func (r *run) same(a, b ref) bool {
	ad, an := r.at(a)
	bd, bn := r.at(b)
	if an.kind != bn.kind || an.kind == kindObject || an.kind == kindArray {
		return false
	}
	return bytes.Equal(ad.bytes(an), bd.bytes(bn))
}

func (r *run) replace(old, v ref) {
	if r.forward == nil {
		r.forward = map[ref]ref{}
	}
	r.forward[old] = v
	_, n := r.at(old)
	n.flags |= flagForward
}

func (r *run) appendLink(dst, src ref) {
	r.links = append(r.links, link{to: src})
	l := uint32(len(r.links) - 1)
	_, n := r.at(dst)
	if n.ext == 0 {
		n.ext = l
		return
	}
	last := n.ext
	for r.links[last].next != 0 {
		last = r.links[last].next
	}
	r.links[last].next = l
}

// concrete reports whether a __typename names an object type of the API schema.
func (r *run) concrete(v ref) bool {
	if r.kind(v) != kindString {
		return false
	}
	def := r.e.schema.Types[r.stringOf(v)]
	return def != nil && def.Kind == ast.Object
}
