package execute

import (
	"bytes"
	"encoding/json"
	"fmt"
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
		if err != nil {
			r.errors = append(r.errors, Error{Message: err.Error(), Path: []any{f.ResponseKey}})
			continue
		}
		r.data[f.ResponseKey] = v
	}
}

// shaper writes the client's response from the merged tree: fields in the
// client's order, only what was asked, with GraphQL null propagation.
type shaper struct {
	r   *run
	buf bytes.Buffer
}

func (r *run) shape(sel *plan.Selection) json.RawMessage {
	s := &shaper{r: r}
	if !s.object(r.data, sel, sel.TypeName, nil) {
		return json.RawMessage("null")
	}
	return s.buf.Bytes()
}

// object writes an object; false means it must be null (a non-null field was null).
func (s *shaper) object(obj map[string]any, sel *plan.Selection, typeName string, path []any) bool {
	start := s.buf.Len()
	s.buf.WriteByte('{')
	for i, f := range sel.FieldsFor(typeName) {
		if i > 0 {
			s.buf.WriteByte(',')
		}
		writeString(&s.buf, f.ResponseKey)
		s.buf.WriteByte(':')
		if f.Name == "__typename" {
			writeString(&s.buf, typeName)
			continue
		}
		fpath := appendAny(path, f.ResponseKey)
		if !s.value(obj[f.DataKey()], f.Def.Type, f, fpath, typeName) {
			s.buf.Truncate(start)
			return false
		}
	}
	s.buf.WriteByte('}')
	return true
}

// value writes one value of the given type; false means a null reached a non-null position.
func (s *shaper) value(v any, t *ast.Type, f *plan.Field, path []any, parent string) bool {
	if v == nil {
		if t.NonNull {
			s.nullError(f, path, parent)
			return false
		}
		s.buf.WriteString("null")
		return true
	}
	start := s.buf.Len()
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			s.typeError(f, path, "a list")
			return s.nullOrFail(start, t)
		}
		s.buf.WriteByte('[')
		for i, item := range list {
			if i > 0 {
				s.buf.WriteByte(',')
			}
			if !s.value(item, t.Elem, f, appendAny(path, i), parent) {
				return s.nullOrFail(start, t)
			}
		}
		s.buf.WriteByte(']')
		return true
	}
	if f.Selection == nil {
		if def := s.r.e.schema.Types[t.Name()]; def != nil && def.Kind == ast.Enum {
			name, _ := v.(string)
			if def.EnumValues.ForName(name) == nil {
				s.r.errors = append(s.r.errors, Error{
					Message:    fmt.Sprintf("Enum %q cannot represent value: %v", def.Name, v),
					Path:       path,
					Extensions: map[string]any{"code": "INVALID_SUBGRAPH_RESPONSE"},
				})
				return s.nullOrFail(start, t)
			}
		}
		if !writeLeaf(&s.buf, v) {
			s.typeError(f, path, "a scalar")
			return s.nullOrFail(start, t)
		}
		return true
	}
	m, ok := v.(map[string]any)
	if !ok {
		s.typeError(f, path, "an object")
		return s.nullOrFail(start, t)
	}
	tn := f.Selection.TypeName
	if f.Selection.Abstract {
		tn, _ = m["__typename"].(string)
		if tn == f.Selection.TypeName && len(f.Selection.Types) > 0 {
			// An @interfaceObject answered and no type-specific field was asked:
			// every possible type selects the same fields.
			tn = f.Selection.Types[0]
		}
		if !contains(f.Selection.Types, tn) {
			s.r.errors = append(s.r.errors, Error{
				Message: fmt.Sprintf("abstract type %s resolved to unknown type %q", f.Selection.TypeName, tn),
				Path:    path, Extensions: map[string]any{"code": "INVALID_TYPENAME"},
			})
			return s.nullOrFail(start, t)
		}
	}
	if !s.object(m, f.Selection, tn, path) {
		return s.nullOrFail(start, t)
	}
	return true
}

func (s *shaper) nullOrFail(start int, t *ast.Type) bool {
	s.buf.Truncate(start)
	if t.NonNull {
		return false
	}
	s.buf.WriteString("null")
	return true
}

func (s *shaper) nullError(f *plan.Field, path []any, parent string) {
	for _, e := range s.r.errors {
		if hasPrefix(e.Path, path) {
			return
		}
	}
	s.r.errors = append(s.r.errors, Error{
		Message: fmt.Sprintf("Cannot return null for non-nullable field %s.%s.", parent, f.Name),
		Path:    path,
	})
}

func (s *shaper) typeError(f *plan.Field, path []any, want string) {
	s.r.errors = append(s.r.errors, Error{
		Message:    fmt.Sprintf("subgraph returned an invalid value for %s: expected %s", f.ResponseKey, want),
		Path:       path,
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func appendAny(path []any, e any) []any {
	out := make([]any, len(path)+1)
	copy(out, path)
	out[len(path)] = e
	return out
}

// writeLeaf writes a scalar or enum value as JSON.
func writeLeaf(buf *bytes.Buffer, v any) bool {
	switch x := v.(type) {
	case string:
		writeString(buf, x)
	case json.Number:
		buf.WriteString(string(x))
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case nil:
		buf.WriteString("null")
	default:
		// Custom scalars may be objects or lists.
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		buf.Write(b)
	}
	return true
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string (no HTML escaping, like a GraphQL server).
func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hexDigits[c>>4])
				buf.WriteByte(hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf.WriteString(s[start:i])
			buf.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf.WriteString(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}
