package fedsub

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// fieldDef is one field of a subgraph schema: its named return type ("" for a scalar,
// "_Entity" for the entities union) and its resolver.
type fieldDef struct {
	typ     string
	resolve func(c *execCtx, parent any, f *ast.Field) any
}

// Schema is a subgraph's executable schema: type name → field name → definition.
type Schema struct {
	Name        string
	SDL         string
	types       map[string]map[string]*fieldDef
	entityTypes []string
}

// selPlan is a selection set compiled for one concrete type: fields collected
// (fragments flattened, same response keys merged), in response order.
type selPlan struct {
	fields []*fieldPlan
}

type fieldPlan struct {
	key      []byte // `"responseKey":`
	typename bool
	def      *fieldDef
	field    *ast.Field
	sub      map[string]*selPlan // by concrete type name
}

// opPlan is a compiled operation.
type opPlan struct {
	root *selPlan
	err  error
}

// resolveErr is what a resolver returns for a field error: null plus an error entry.
type resolveErr struct{ msg string }

type execCtx struct {
	vars map[string]any
	errs []string
}

func compileOperation(s *Schema, query, opName string) *opPlan {
	doc, gerr := parser.ParseQuery(&ast.Source{Input: query})
	if gerr != nil {
		return &opPlan{err: gerr}
	}
	var op *ast.OperationDefinition
	if opName == "" {
		if len(doc.Operations) != 1 {
			return &opPlan{err: errors.New("operationName is required when the document has several operations")}
		}
		op = doc.Operations[0]
	} else if op = doc.Operations.ForName(opName); op == nil {
		return &opPlan{err: fmt.Errorf("unknown operation %q", opName)}
	}
	if op.Operation != ast.Query {
		return &opPlan{err: fmt.Errorf("%s operations are not supported", op.Operation)}
	}
	root, err := compileSel(s, doc, "Query", []ast.SelectionSet{op.SelectionSet})
	return &opPlan{root: root, err: err}
}

func compileSel(s *Schema, doc *ast.QueryDocument, typeName string, sets []ast.SelectionSet) (*selPlan, error) {
	var order []string
	byKey := map[string][]*ast.Field{}
	var walk func(ast.SelectionSet) error
	walk = func(set ast.SelectionSet) error {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				key := sel.Alias
				if key == "" {
					key = sel.Name
				}
				if _, ok := byKey[key]; !ok {
					order = append(order, key)
				}
				byKey[key] = append(byKey[key], sel)
			case *ast.InlineFragment:
				if sel.TypeCondition == "" || sel.TypeCondition == typeName {
					if err := walk(sel.SelectionSet); err != nil {
						return err
					}
				}
			case *ast.FragmentSpread:
				fr := doc.Fragments.ForName(sel.Name)
				if fr == nil {
					return fmt.Errorf("unknown fragment %q", sel.Name)
				}
				if fr.TypeCondition == typeName {
					if err := walk(fr.SelectionSet); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	for _, set := range sets {
		if err := walk(set); err != nil {
			return nil, err
		}
	}
	p := &selPlan{}
	for _, key := range order {
		fs := byKey[key]
		f := fs[0]
		fp := &fieldPlan{key: []byte(strconv.Quote(key) + ":"), field: f}
		if f.Name == "__typename" {
			fp.typename = true
			p.fields = append(p.fields, fp)
			continue
		}
		def := s.types[typeName][f.Name]
		if def == nil {
			return nil, fmt.Errorf("cannot query field %q on type %q", f.Name, typeName)
		}
		fp.def = def
		if def.typ != "" {
			var subSets []ast.SelectionSet
			for _, ff := range fs {
				subSets = append(subSets, ff.SelectionSet)
			}
			targets := []string{def.typ}
			if def.typ == "_Entity" {
				targets = s.entityTypes
			}
			fp.sub = map[string]*selPlan{}
			for _, t := range targets {
				sp, err := compileSel(s, doc, t, subSets)
				if err != nil {
					return nil, err
				}
				fp.sub[t] = sp
			}
		}
		p.fields = append(p.fields, fp)
	}
	return p, nil
}

func (c *execCtx) writeObject(buf []byte, typeName string, obj any, p *selPlan) []byte {
	buf = append(buf, '{')
	for i, f := range p.fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, f.key...)
		if f.typename {
			buf = appendString(buf, typeName)
			continue
		}
		buf = c.writeValue(buf, f.def.resolve(c, obj, f.field), f)
	}
	return append(buf, '}')
}

func (c *execCtx) writeValue(buf []byte, v any, f *fieldPlan) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendString(buf, v)
	case int:
		return strconv.AppendInt(buf, int64(v), 10)
	case bool:
		return strconv.AppendBool(buf, v)
	case resolveErr:
		c.errs = append(c.errs, v.msg)
		return append(buf, "null"...)
	case []*User:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = c.writeValue(buf, e, f)
		}
		return append(buf, ']')
	case []*Product:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = c.writeValue(buf, e, f)
		}
		return append(buf, ']')
	case []*Review:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = c.writeValue(buf, e, f)
		}
		return append(buf, ']')
	case []any:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = c.writeValue(buf, e, f)
		}
		return append(buf, ']')
	}
	tn := typeNameOf(v)
	p := f.sub[tn]
	if p == nil {
		c.errs = append(c.errs, fmt.Sprintf("no selection for type %s", tn))
		return append(buf, "null"...)
	}
	return c.writeObject(buf, tn, v, p)
}

// Nil pointers are returned as untyped nil by resolvers, so v is never a nil pointer here.
func typeNameOf(v any) string {
	switch v.(type) {
	case *User:
		return "User"
	case *Product, *invProduct:
		return "Product"
	case *Review:
		return "Review"
	case *service:
		return "_Service"
	}
	return fmt.Sprintf("%T", v)
}

func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b >= 0x20 && b != '"' && b != '\\' && b < utf8.RuneSelf {
			i++
			continue
		}
		if b < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, `\u00`...)
				buf = append(buf, "0123456789abcdef"[b>>4], "0123456789abcdef"[b&0xF])
			}
			i++
			start = i
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

func (c *execCtx) arg(f *ast.Field, name string) any {
	for _, a := range f.Arguments {
		if a.Name == name {
			v, err := a.Value.Value(c.vars)
			if err != nil {
				return nil
			}
			return v
		}
	}
	return nil
}

func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

func keyString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}
