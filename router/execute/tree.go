package execute

import (
	"bytes"
	"slices"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/plan"
)

// The response tree is the subgraph responses themselves (scan.go), merged without
// copying: an object that receives a subgraph result gets a link to it, and a
// member is looked up in the object first, then in its links in the order they
// were made. A value that a later result replaces is marked forwarded. So one
// execution holds its subgraph responses' bytes and 28 bytes per value.

// A value is named by its node index in the run's tree.

// resolve follows replacements.
func (t *tree) resolve(x uint32) uint32 {
	for t.nodes[x].flags&flagForward != 0 {
		x = t.forward[x]
	}
	return x
}

func (t *tree) kind(x uint32) uint8 { return t.nodes[x].kind }

// get finds a member of an object, merged members included.
func (t *tree) get(obj uint32, key string) (uint32, bool) {
	m, _, _, ok := t.locate(obj, key)
	if !ok {
		return 0, false
	}
	return t.resolve(m), true
}

// locate finds the first member with key in an object and its merged parts:
// the member, the part holding it and the link that led there (0: the object).
func (t *tree) locate(obj uint32, key string) (m, part, l uint32, ok bool) {
	part = obj
	for {
		n := &t.nodes[part]
		if n.kind != kindObject {
			return 0, 0, 0, false
		}
		if c, found := t.member(part, key); found {
			return c, part, l, true
		}
		if l == 0 {
			l = n.ext
		} else {
			l = t.links[l].next
		}
		if l == 0 {
			return 0, 0, 0, false
		}
		part = t.links[l].to
	}
}

// cursor looks up an object's fields faster when each of its parts (the
// object and the results merged into it) holds them in the order they are
// asked (the usual case: subgraph operations select fields in the client's
// order): it keeps, for each of the first parts, the member after the last one
// found there, and tries those before searching.
type cursor struct {
	obj  uint32
	n    int
	next [cursorParts]uint32 // per part, the member to try (0: none)
	// safe[i]: a member of part i is the first match get would find: part 0
	// is the object itself, a later part must not repeat members of the parts
	// before it (but __typename, which guesses skip).
	safe [cursorParts]bool
	part [cursorParts]uint32
}

const cursorParts = 4

func (t *tree) cursor(obj uint32) cursor {
	c := cursor{obj: obj}
	part, l := obj, uint32(0)
	for c.n < cursorParts {
		n := &t.nodes[part]
		if n.kind != kindObject {
			break
		}
		c.part[c.n], c.safe[c.n] = part, l == 0 || !t.links[l].shadows
		if n.count > 0 {
			c.next[c.n] = t.skipTypename(part + 1)
		}
		c.n++
		if l == 0 {
			l = n.ext
		} else {
			l = t.links[l].next
		}
		if l == 0 {
			break
		}
		part = t.links[l].to
	}
	return c
}

// skipTypename returns member m, or the one after it when m is __typename (0: none).
func (t *tree) skipTypename(m uint32) uint32 {
	if n := &t.nodes[m]; n.keyLen == uint16(len("__typename")) && t.keyOf(n) == "__typename" {
		return n.next
	}
	return m
}

// getNext is get through a cursor.
func (t *tree) getNext(c *cursor, key string) (uint32, bool) {
	for i := 0; i < c.n; i++ {
		m := c.next[i]
		if m == 0 || !c.safe[i] {
			continue
		}
		if cn := &t.nodes[m]; int(cn.keyLen) == len(key) && t.keyOf(cn) == key {
			c.next[i] = t.nodes[m].next
			if c.next[i] != 0 {
				c.next[i] = t.skipTypename(c.next[i])
			}
			return t.resolve(m), true
		}
	}
	m, part, _, ok := t.locate(c.obj, key)
	if !ok {
		return 0, false
	}
	for i := 0; i < c.n; i++ {
		if c.part[i] == part {
			if c.next[i] = t.nodes[m].next; c.next[i] != 0 {
				c.next[i] = t.skipTypename(c.next[i])
			}
			break
		}
	}
	return t.resolve(m), true
}

// members calls fn for every member of an object, merged members included,
// each key once (the first one found, as get finds it).
func (t *tree) members(obj uint32, fn func(key string, v uint32)) {
	var seen []string
	part := obj
	var l uint32
	for {
		n := &t.nodes[part]
		for c, i := part+1, uint32(0); i < n.count; i++ {
			cn := &t.nodes[c]
			key := t.keyOf(cn)
			if !slices.Contains(seen, key) {
				seen = append(seen, key)
				fn(key, t.resolve(c))
			}
			c = cn.next
		}
		if l == 0 {
			l = n.ext
		} else {
			l = t.links[l].next
		}
		if l == 0 {
			return
		}
		part = t.links[l].to
	}
}

// items calls fn for every item of an array until fn returns false.
func (t *tree) items(arr uint32, fn func(i int, v uint32) bool) {
	n := &t.nodes[arr]
	for c, i := arr+1, uint32(0); i < n.count; i++ {
		if !fn(int(i), t.resolve(c)) {
			return
		}
		c = t.nodes[c].next
	}
}

// stringOf returns a string value's content ("" for other kinds).
func (t *tree) stringOf(x uint32) string {
	n := &t.nodes[x]
	if n.kind != kindString {
		return ""
	}
	return t.str(n)
}

// appendValue writes a value as JSON, merged members included.
func (t *tree) appendValue(buf []byte, x uint32) []byte {
	n := &t.nodes[x]
	switch n.kind {
	case kindString:
		return t.appendString(buf, n)
	case kindObject:
		buf = append(buf, '{')
		first := true
		t.members(x, func(key string, v uint32) {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = appendJSONString(buf, key)
			buf = append(buf, ':')
			buf = t.appendValue(buf, v)
		})
		return append(buf, '}')
	case kindArray:
		buf = append(buf, '[')
		t.items(x, func(i int, v uint32) bool {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = t.appendValue(buf, v)
			return true
		})
		return append(buf, ']')
	default:
		return append(buf, t.bytes(n)...)
	}
}

// collect finds the objects at a plan path ("@" walks into lists). With paths
// non-nil it also records each object's client path (only needed for errors).
func (t *tree) collect(root uint32, path []string, paths *[][]any) []uint32 {
	cur := []uint32{root}
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
		next := make([]uint32, 0, len(cur))
		var nextPaths [][]any
		for k, obj := range cur {
			v, ok := t.get(obj, seg)
			if !ok || t.kind(v) == kindNull {
				continue
			}
			var p []any
			if paths != nil {
				p = append(append([]any(nil), curPaths[k]...), seg)
			}
			next, nextPaths = t.flatten(next, nextPaths, v, p, lists, paths != nil)
		}
		cur, curPaths = next, nextPaths
	}
	if paths != nil {
		*paths = curPaths
	}
	return cur
}

func (t *tree) flatten(out []uint32, outPaths [][]any, v uint32, path []any, lists int, withPaths bool) ([]uint32, [][]any) {
	if lists == 0 {
		if t.kind(v) == kindObject {
			out = append(out, v)
			if withPaths {
				outPaths = append(outPaths, path)
			}
		}
		return out, outPaths
	}
	if t.kind(v) != kindArray {
		return out, outPaths
	}
	t.items(v, func(i int, item uint32) bool {
		if t.kind(item) == kindNull {
			return true
		}
		var p []any
		if withPaths {
			p = append(append([]any(nil), path...), i)
		}
		out, outPaths = t.flatten(out, outPaths, item, p, lists-1, withPaths)
		return true
	})
	return out, outPaths
}

// appendRepresentation writes the representation of an object for an entity
// fetch; false when its type is not fetched or a key field is missing or null.
func (t *tree) appendRepresentation(buf []byte, obj uint32, specs []*plan.RepresentationSpec) ([]byte, bool) {
	tn, ok := t.get(obj, "__typename")
	if !ok {
		return buf, false
	}
	typeName := t.stringOf(tn)
	for _, s := range specs {
		if s.TypeName != typeName {
			continue
		}
		for _, k := range s.KeyFields {
			if v, ok := t.get(obj, k); !ok || t.kind(v) == kindNull {
				return buf, false // null keys identify nothing
			}
		}
		as := s.As
		if as == "" {
			as = s.TypeName
		}
		buf = append(buf, `{"__typename":`...)
		buf = appendJSONString(buf, as)
		return t.appendFields(buf, obj, s.Selection, false)
	}
	return buf, false
}

// appendFields writes the selected fields of obj (after the opening brace; first
// says whether a member was written already) and the closing brace.
func (t *tree) appendFields(buf []byte, obj uint32, sel []*plan.KeyField, first bool) ([]byte, bool) {
	for _, f := range sel {
		if f.Name == "__typename" {
			continue
		}
		key := f.Name
		if f.Key != "" {
			key = f.Key
		}
		v, ok := t.get(obj, key)
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
		if buf, ok = t.appendSelected(buf, v, f.Children); !ok {
			return buf, false
		}
	}
	return append(buf, '}'), true
}

func (t *tree) appendSelected(buf []byte, v uint32, children []*plan.KeyField) ([]byte, bool) {
	if len(children) == 0 {
		return t.appendValue(buf, v), true
	}
	switch t.kind(v) {
	case kindObject:
		buf = append(buf, '{')
		first := true
		if tn, ok := t.get(v, "__typename"); ok {
			buf = append(buf, `"__typename":`...)
			buf = t.appendValue(buf, tn)
			first = false
		}
		return t.appendFields(buf, v, children, first)
	case kindArray:
		buf = append(buf, '[')
		ok := true
		t.items(v, func(i int, item uint32) bool {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf, ok = t.appendSelected(buf, item, children)
			return ok
		})
		if !ok {
			return buf, false
		}
		return append(buf, ']'), true
	default:
		return t.appendValue(buf, v), true
	}
}

// merge merges a subgraph result into the response tree. An object's __typename
// is only replaced by a concrete type's name: an @interfaceObject subgraph
// answers with the interface's name, its owner with the real type.
func (r *run) merge(dst, src uint32) {
	t := r.tree
	if t.kind(dst) != kindObject || t.kind(src) != kindObject {
		return
	}
	fresh := false    // src has members dst lacks: link it
	shadowed := false // dst has some of src's members (but __typename)
	sn := &t.nodes[src]
	for c, i := src+1, uint32(0); i < sn.count; i++ {
		cn := &t.nodes[c]
		k, v := t.keyOf(cn), t.resolve(c)
		c = cn.next
		cur, ok := t.get(dst, k)
		if !ok {
			fresh = true
			continue
		}
		if k != "__typename" {
			shadowed = true
		}
		if cur == v || t.same(cur, v) {
			continue
		}
		if k == "__typename" {
			if r.concrete(v) {
				t.replace(cur, v)
			}
			continue
		}
		ck, vk := t.kind(cur), t.kind(v)
		switch {
		case ck == kindObject && vk == kindObject:
			r.merge(cur, v)
		case ck == kindArray && vk == kindArray && t.nodes[cur].count == t.nodes[v].count:
			r.mergeItems(cur, v)
		default:
			t.replace(cur, v)
		}
	}
	if fresh {
		t.appendLink(dst, src, shadowed)
	}
}

func (r *run) mergeItems(dst, src uint32) {
	t := r.tree
	dc, sc := dst+1, src+1
	for i := uint32(0); i < t.nodes[dst].count; i++ {
		cur, v := t.resolve(dc), t.resolve(sc)
		dc, sc = t.nodes[dc].next, t.nodes[sc].next
		switch {
		case cur == v:
		case t.kind(cur) == kindObject && t.kind(v) == kindObject:
			r.merge(cur, v)
		case t.kind(cur) == kindArray && t.kind(v) == kindArray && t.nodes[cur].count == t.nodes[v].count:
			r.mergeItems(cur, v)
		case !t.same(cur, v):
			t.replace(cur, v)
		}
	}
}

// same reports two scalars with the same bytes (nothing to merge).
func (t *tree) same(a, b uint32) bool {
	an, bn := &t.nodes[a], &t.nodes[b]
	if an.kind != bn.kind || an.kind == kindObject || an.kind == kindArray {
		return false
	}
	return bytes.Equal(t.bytes(an), t.bytes(bn))
}

func (t *tree) replace(old, v uint32) {
	if t.forward == nil {
		t.forward = map[uint32]uint32{}
	}
	t.forward[old] = v
	t.nodes[old].flags |= flagForward
}

func (t *tree) appendLink(dst, src uint32, shadowed bool) {
	t.links = append(t.links, link{to: src, shadows: shadowed})
	l := uint32(len(t.links) - 1)
	n := &t.nodes[dst]
	if n.ext == 0 {
		n.ext = l
		return
	}
	last := n.ext
	for t.links[last].next != 0 {
		last = t.links[last].next
	}
	t.links[last].next = l
}

// concrete reports whether a __typename names an object type of the API schema.
func (r *run) concrete(v uint32) bool {
	if r.kind(v) != kindString {
		return false
	}
	def := r.e.schema.Types[r.stringOf(v)]
	return def != nil && def.Kind == ast.Object
}
