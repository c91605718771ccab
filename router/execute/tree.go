package execute

import (
	"unsafe"

	"github.com/valyala/fastjson"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/plan"
)

// The response tree is made of fastjson values: subgraph responses are parsed
// into pooled parsers (no per-value allocation once warm) and merged in place;
// objects of one response are linked into the tree, never copied.

// collect finds the objects at a plan path ("@" walks into lists). With paths
// non-nil it also records each object's client path (only needed for errors).
func collect(root *fastjson.Value, path []string, paths *[][]any) []*fastjson.Value {
	cur := []*fastjson.Value{root}
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
		next := make([]*fastjson.Value, 0, len(cur))
		var nextPaths [][]any
		for k, obj := range cur {
			v := obj.Get(seg)
			if v == nil || v.Type() == fastjson.TypeNull {
				continue
			}
			var p []any
			if paths != nil {
				p = append(append([]any(nil), curPaths[k]...), seg)
			}
			next, nextPaths = flatten(next, nextPaths, v, p, lists, paths != nil)
		}
		cur, curPaths = next, nextPaths
	}
	if paths != nil {
		*paths = curPaths
	}
	return cur
}

func flatten(out []*fastjson.Value, outPaths [][]any, v *fastjson.Value, path []any, lists int, withPaths bool) ([]*fastjson.Value, [][]any) {
	if lists == 0 {
		if v.Type() == fastjson.TypeObject {
			out = append(out, v)
			if withPaths {
				outPaths = append(outPaths, path)
			}
		}
		return out, outPaths
	}
	if v.Type() != fastjson.TypeArray {
		return out, outPaths
	}
	for i, item := range v.GetArray() {
		if item.Type() == fastjson.TypeNull {
			continue
		}
		var p []any
		if withPaths {
			p = append(append([]any(nil), path...), i)
		}
		out, outPaths = flatten(out, outPaths, item, p, lists-1, withPaths)
	}
	return out, outPaths
}

// appendRepresentation writes the representation of an object for an entity
// fetch; false when its type is not fetched or a key field is missing or null.
func appendRepresentation(buf []byte, obj *fastjson.Value, specs []*plan.RepresentationSpec) ([]byte, bool) {
	tn := obj.GetStringBytes("__typename")
	for _, s := range specs {
		if s.TypeName != string(tn) {
			continue
		}
		for _, k := range s.KeyFields {
			if v := obj.Get(k); v == nil || v.Type() == fastjson.TypeNull {
				return buf, false // null keys identify nothing
			}
		}
		as := s.As
		if as == "" {
			as = s.TypeName
		}
		buf = append(buf, `{"__typename":`...)
		buf = appendJSONString(buf, as)
		return appendFields(buf, obj, s.Selection, false)
	}
	return buf, false
}

// appendFields writes the selected fields of obj (after the opening brace; first
// says whether a member was written already) and the closing brace.
func appendFields(buf []byte, obj *fastjson.Value, sel []*plan.KeyField, first bool) ([]byte, bool) {
	for _, f := range sel {
		if f.Name == "__typename" {
			continue
		}
		key := f.Name
		if f.Key != "" {
			key = f.Key
		}
		v := obj.Get(key)
		if v == nil {
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
		var ok bool
		if buf, ok = appendSelected(buf, v, f.Children); !ok {
			return buf, false
		}
	}
	return append(buf, '}'), true
}

func appendSelected(buf []byte, v *fastjson.Value, children []*plan.KeyField) ([]byte, bool) {
	if len(children) == 0 {
		return v.MarshalTo(buf), true
	}
	switch v.Type() {
	case fastjson.TypeObject:
		buf = append(buf, '{')
		first := true
		if tn := v.Get("__typename"); tn != nil {
			buf = append(buf, `"__typename":`...)
			buf = tn.MarshalTo(buf)
			first = false
		}
		return appendFields(buf, v, children, first)
	case fastjson.TypeArray:
		buf = append(buf, '[')
		for i, item := range v.GetArray() {
			if i > 0 {
				buf = append(buf, ',')
			}
			var ok bool
			if buf, ok = appendSelected(buf, item, children); !ok {
				return buf, false
			}
		}
		return append(buf, ']'), true
	default:
		return v.MarshalTo(buf), true
	}
}

// merge merges a subgraph result into the response tree. An object's __typename
// is only replaced by a concrete type's name: an @interfaceObject subgraph
// answers with the interface's name, its owner with the real type.
func (r *run) merge(dst, src *fastjson.Value) {
	dobj, _ := dst.Object()
	sobj, _ := src.Object()
	if dobj == nil || sobj == nil {
		return
	}
	sobj.Visit(func(key []byte, v *fastjson.Value) {
		k := unsafe.String(unsafe.SliceData(key), len(key)) // parser memory lives as long as the tree
		cur := dobj.Get(k)
		if cur == nil {
			dobj.Set(k, v)
			return
		}
		if k == "__typename" {
			if r.concrete(v) {
				dobj.Set(k, v)
			}
			return
		}
		switch {
		case cur.Type() == fastjson.TypeObject && v.Type() == fastjson.TypeObject:
			r.merge(cur, v)
		case cur.Type() == fastjson.TypeArray && v.Type() == fastjson.TypeArray && len(cur.GetArray()) == len(v.GetArray()):
			ca, sa := cur.GetArray(), v.GetArray()
			for i := range ca {
				if ca[i].Type() == fastjson.TypeObject && sa[i].Type() == fastjson.TypeObject {
					r.merge(ca[i], sa[i])
				} else {
					cur.SetArrayItem(i, sa[i])
				}
			}
		default:
			dobj.Set(k, v)
		}
	})
}

// concrete reports whether a __typename names an object type of the API schema.
func (r *run) concrete(v *fastjson.Value) bool {
	name, err := v.StringBytes()
	if err != nil {
		return false
	}
	def := r.e.schema.Types[string(name)]
	return def != nil && def.Kind == ast.Object
}
