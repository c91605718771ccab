package execute

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/plan"
)

// local answers the root fields the router owns (__schema, __type).
func (r *run) local(sel *plan.Selection) {
	if r.e.localFields == nil {
		return
	}
	for _, f := range sel.Fields[sel.TypeName] {
		if f.Name != "__schema" && f.Name != "__type" {
			continue
		}
		v, err := r.e.localFields(f, r.req.Variables)
		if err == nil {
			var b []byte
			if b, err = json.Marshal(v); err == nil {
				doc := append(appendJSONString([]byte{'{'}, f.DataKey()), ':')
				doc = append(append(doc, b...), '}')
				var v uint32
				if v, err = r.parse(doc); err == nil {
					r.merge(0, v)
				}
			}
		}
		if err != nil {
			r.errors = append(r.errors, Error{Message: err.Error(), Path: []any{f.ResponseKey}})
		}
	}
}

// pathElem is one step of the response path being written: a key, or a list index.
type pathElem struct {
	key   string
	index int
}

// shaper writes the client's response from the merged tree: fields in the
// client's order, only what was asked, with GraphQL null propagation.
type shaper struct {
	r *run
	b []byte
	// path is the response path being written (a stack; turned into a slice only
	// for an error).
	path []pathElem
}

func (s *shaper) pathSlice() []any {
	out := make([]any, len(s.path))
	for i, e := range s.path {
		if e.key != "" {
			out[i] = e.key
		} else {
			out[i] = e.index
		}
	}
	return out
}

// shape writes the client's data into a pooled buffer (nil when the data is null).
func (r *run) shape(sel *plan.Selection) (json.RawMessage, *outBuf) {
	out := outPool.get()
	s := &shaper{r: r, b: out.b[:0]}
	// The client's JSON is about the size of the subgraph data it comes from,
	// often larger (names repeat where the subgraphs' answers were shared).
	if need := 4096 + len(r.raw)*3/2; cap(s.b) < need {
		s.b = make([]byte, 0, need)
	}
	ok := s.object(0, sel, sel.TypeName)
	out.b = s.b
	if !ok {
		outPool.put(out)
		return json.RawMessage("null"), nil
	}
	return s.b, out
}

// object writes an object; false means it must be null (a non-null field was null).
func (s *shaper) object(obj uint32, sel *plan.Selection, typeName string) bool {
	start := len(s.b)
	if sel.Unauthorized[typeName] {
		s.r.errors = append(s.r.errors, unauthorizedError(s.pathSlice()))
	}
	s.b = append(s.b, '{')
	cur := s.r.cursor(obj)
	for i, f := range sel.FieldsFor(typeName) {
		if i > 0 {
			s.b = append(s.b, ',')
		}
		// Response keys and type names are GraphQL names ([_A-Za-z][_0-9A-Za-z]*):
		// nothing to escape.
		s.b = append(s.b, '"')
		s.b = append(s.b, f.ResponseKey...)
		s.b = append(s.b, '"', ':')
		if f.Name == "__typename" {
			s.b = append(s.b, '"')
			s.b = append(s.b, typeName...)
			s.b = append(s.b, '"')
			continue
		}
		s.path = append(s.path, pathElem{key: f.ResponseKey})
		var ok bool
		if f.Unauthorized {
			ok = s.unauthorized(f)
		} else {
			v, found := s.r.getNext(&cur, f.DataKey())
			ok = s.value(v, found, f.Def.Type, f, typeName)
		}
		s.path = s.path[:len(s.path)-1]
		if !ok {
			s.b = s.b[:start]
			return false
		}
	}
	s.b = append(s.b, '}')
	return true
}

// value writes one value of the given type; false means a null reached a non-null position.
func (s *shaper) value(v uint32, found bool, t *ast.Type, f *plan.Field, parent string) bool {
	kind := s.r.kind(v)
	if !found || kind == kindNull {
		if t.NonNull {
			s.nullError(f, parent, !found)
			return false
		}
		s.b = append(s.b, "null"...)
		return true
	}
	start := len(s.b)
	if t.Elem != nil {
		if kind != kindArray {
			s.typeError(f, "a list")
			return s.nullOrFail(start, t)
		}
		s.b = append(s.b, '[')
		ok := true
		s.r.items(v, func(i int, item uint32) bool {
			if i > 0 {
				s.b = append(s.b, ',')
			}
			s.path = append(s.path, pathElem{index: i})
			ok = s.value(item, true, t.Elem, f, parent)
			s.path = s.path[:len(s.path)-1]
			return ok
		})
		if !ok {
			return s.nullOrFail(start, t)
		}
		s.b = append(s.b, ']')
		return true
	}
	if f.Selection == nil {
		if !s.leaf(v, f.Enum) {
			return s.nullOrFail(start, t)
		}
		return true
	}
	if kind != kindObject {
		s.typeError(f, "an object")
		return s.nullOrFail(start, t)
	}
	tn := f.Selection.TypeName
	if f.Selection.Abstract {
		tn = ""
		if x, ok := s.r.get(v, "__typename"); ok {
			tn = s.r.stringOf(x)
		}
		if tn == f.Selection.TypeName && len(f.Selection.Types) > 0 {
			// An @interfaceObject answered and no type-specific field was asked:
			// every possible type selects the same fields.
			tn = f.Selection.Types[0]
		}
		if !slices.Contains(f.Selection.Types, tn) {
			s.r.errors = append(s.r.errors, Error{
				Message: fmt.Sprintf("abstract type %s resolved to unknown type %q", f.Selection.TypeName, tn),
				Path:    s.pathSlice(), Extensions: map[string]any{"code": "INVALID_TYPENAME"},
			})
			return s.nullOrFail(start, t)
		}
	}
	if !s.object(v, f.Selection, tn) {
		return s.nullOrFail(start, t)
	}
	return true
}

// leaf writes a scalar or enum value; enum values must be in the API schema.
func (s *shaper) leaf(v uint32, enum *ast.Definition) bool {
	n := &s.r.nodes[v]
	if def := enum; def != nil {
		if n.kind != kindString || def.EnumValues.ForName(s.r.str(n)) == nil {
			s.r.errors = append(s.r.errors, Error{
				Message:    fmt.Sprintf("Enum %q cannot represent value: %s", def.Name, s.r.appendValue(nil, v)),
				Path:       s.pathSlice(),
				Extensions: map[string]any{"code": "INVALID_SUBGRAPH_RESPONSE"},
			})
			return false
		}
	}
	s.b = s.r.appendValue(s.b, v)
	return true
}

// unauthorized writes null for a field the request may not see, with an error at
// its path; false when the field is non-null (the null propagates).
func (s *shaper) unauthorized(f *plan.Field) bool {
	s.r.errors = append(s.r.errors, unauthorizedError(s.pathSlice()))
	if f.Def != nil && f.Def.Type.NonNull {
		return false
	}
	s.b = append(s.b, "null"...)
	return true
}

func unauthorizedError(path []any) Error {
	return Error{Message: "Unauthorized field or type", Path: path, Extensions: map[string]any{"code": "UNAUTHORIZED_FIELD_OR_TYPE"}}
}

func (s *shaper) nullOrFail(start int, t *ast.Type) bool {
	s.b = s.b[:start]
	if t.NonNull {
		return false
	}
	s.b = append(s.b, "null"...)
	return true
}

// nullError reports a null at a non-null field, unless an error already
// explains it: one at or under the field, or, for a field missing from the
// tree, one without a path (a failed fetch) or under its parent object (a
// subgraph that nulled the parent for another field's error, as a failed
// mutation field nulls the subgraph's whole data).
func (s *shaper) nullError(f *plan.Field, parent string, missing bool) {
	p := s.pathSlice()
	for _, e := range s.r.errors {
		if hasPrefix(e.Path, p) || missing && (len(e.Path) == 0 || hasPrefix(e.Path, p[:len(p)-1])) {
			return
		}
	}
	s.r.errors = append(s.r.errors, Error{
		Message: fmt.Sprintf("Cannot return null for non-nullable field %s.%s.", parent, f.Name),
		Path:    p,
	})
}

func (s *shaper) typeError(f *plan.Field, want string) {
	s.r.errors = append(s.r.errors, Error{
		Message:    fmt.Sprintf("subgraph returned an invalid value for %s: expected %s", f.ResponseKey, want),
		Path:       s.pathSlice(),
		Extensions: map[string]any{"code": "INVALID_SUBGRAPH_RESPONSE"},
	})
}

func hasPrefix(p, prefix []any) bool {
	if len(p) < len(prefix) {
		return false
	}
	for i := range prefix {
		if fmt.Sprint(p[i]) != fmt.Sprint(prefix[i]) {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string.
func writeString(buf *bytes.Buffer, s string) {
	buf.Write(appendJSONString(buf.AvailableBuffer(), s))
}

// appendJSONString appends s as a JSON string (no HTML escaping, like a GraphQL server).
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\')
				buf = append(buf, c)
			case '\n':
				buf = append(buf, `\n`...)
			case '\r':
				buf = append(buf, `\r`...)
			case '\t':
				buf = append(buf, `\t`...)
			default:
				buf = append(buf, `\u00`...)
				buf = append(buf, hexDigits[c>>4])
				buf = append(buf, hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\u202`...)
			buf = append(buf, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	buf = append(buf, '"')
	return buf
}
