package compose

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"unicode"

	"github.com/vektah/gqlparser/v2/ast"
)

// print renders the supergraph the way Apollo's composition prints it.
func (g *supergraph) print() string {
	var defs []string
	defs = append(defs, g.printSchemaDefinition())

	// Directive definitions, sorted by name.
	type named struct{ name, text string }
	directives := []named{
		{"join__enumValue", joinEnumDir},
		{"join__field", g.join.fieldDirective()},
		{"join__graph", joinGraphDir},
		{"join__implements", joinImplementDir},
		{"join__type", joinTypeDir},
		{"join__unionMember", joinUnionDir},
		{"link", linkDirective},
	}
	if g.join.minor >= 4 {
		directives = append(directives, named{"join__directive", joinDirectiveDir})
	}
	var types []named
	for _, spec := range composedSpecs {
		if g.specs[spec.name] {
			directives = append(directives, named{spec.name, spec.definition})
			for _, t := range spec.extraTypes {
				types = append(types, named{t.name, t.text})
			}
		}
	}
	sort.SliceStable(directives, func(i, j int) bool { return collate(directives[i].name, directives[j].name) < 0 })
	for _, d := range directives {
		defs = append(defs, d.text)
	}

	types = append(types,
		named{"join__FieldSet", "scalar join__FieldSet"},
		named{"join__Graph", g.printGraphEnum()},
		named{"link__Import", "scalar link__Import"},
		named{"link__Purpose", linkPurposeEnum},
	)
	if g.join.minor >= 4 {
		types = append(types, named{"join__DirectiveArguments", "scalar join__DirectiveArguments"})
	}
	if g.join.minor >= 5 {
		types = append(types, named{"join__FieldValue", "scalar join__FieldValue"}, named{"join__ContextArgument", joinContextArgumentInput})
	}
	for _, n := range g.order {
		t := g.types[n]
		if t.removed {
			continue
		}
		types = append(types, named{n, printType(t)})
	}
	sort.SliceStable(types, func(i, j int) bool { return collate(types[i].name, types[j].name) < 0 })
	for _, t := range types {
		defs = append(defs, t.text)
	}
	return strings.Join(defs, "\n\n")
}

func (g *supergraph) printSchemaDefinition() string {
	var b strings.Builder
	b.WriteString("schema\n")
	b.WriteString("  @link(url: \"" + linkURL + "\")\n")
	b.WriteString("  @link(url: \"" + g.join.url() + "\", for: EXECUTION)\n")
	for _, spec := range composedSpecs {
		if !g.specs[spec.name] || spec.name == "listSize" && g.specs["cost"] {
			continue
		}
		b.WriteString("  @link(url: \"" + spec.url + "\"")
		if spec.url == costURL && g.specs["listSize"] {
			b.WriteString(", import: [\"@listSize\"]")
		}
		if spec.purpose != "" {
			b.WriteString(", for: " + spec.purpose)
		}
		b.WriteString(")\n")
	}
	b.WriteString("{\n")
	for _, op := range []ast.Operation{ast.Query, ast.Mutation, ast.Subscription} {
		if g.roots[op] {
			b.WriteString("  " + string(op) + ": " + defaultRootName(op) + "\n")
		}
	}
	b.WriteString("}")
	return b.String()
}

func (g *supergraph) printGraphEnum() string {
	var b strings.Builder
	b.WriteString("enum join__Graph {\n")
	for _, s := range g.subgraphs {
		b.WriteString("  " + s.enumName + " @join__graph(name: " + quote(s.name) + ", url: " + quote(s.url) + ")\n")
	}
	b.WriteString("}")
	return b.String()
}

func printType(t *gType) string {
	var b strings.Builder
	b.WriteString(printDescription(t.desc, "", true))
	switch t.kind {
	case ast.Scalar:
		b.WriteString("scalar " + t.name + printDirectivesBlock(t.dirs, false))
	case ast.Union:
		b.WriteString("union " + t.name + printDirectivesBlock(t.dirs, len(t.members) > 0))
		if len(t.members) > 0 {
			b.WriteString(" = " + strings.Join(t.members, " | "))
		}
	case ast.Enum:
		var vals []string
		for i, v := range t.values {
			vals = append(vals, printDescription(v.desc, "  ", i == 0)+"  "+v.name+printDirectivesInline(v.dirs))
		}
		b.WriteString("enum " + t.name + printDirectivesBlock(t.dirs, len(vals) > 0))
		if len(t.dirs) == 0 && len(vals) > 0 {
			b.WriteString(" ")
		}
		b.WriteString(printBlock(vals))
	default:
		kw := map[ast.DefinitionKind]string{ast.Object: "type", ast.Interface: "interface", ast.InputObject: "input"}[t.kind]
		b.WriteString(kw + " " + t.name)
		if len(t.interfaces) > 0 {
			b.WriteString(" implements " + strings.Join(t.interfaces, " & "))
		}
		b.WriteString(printDirectivesBlock(t.dirs, len(t.fields) > 0))
		if len(t.dirs) == 0 && len(t.fields) > 0 {
			b.WriteString(" ")
		}
		var fields []string
		for i, f := range t.fields {
			fields = append(fields, printDescription(f.desc, "  ", i == 0)+"  "+printField(f)+printDirectivesInline(f.dirs))
		}
		b.WriteString(printBlock(fields))
	}
	return b.String()
}

func printField(f *gField) string {
	s := f.name + printArgDefs(f.args, "  ") + ": " + f.typ.String()
	if f.def != nil {
		s += " = " + valueString(f.def)
	}
	return s
}

func printArgDefs(args []*gArg, indent string) string {
	if len(args) == 0 {
		return ""
	}
	one := func(a *gArg) string {
		s := a.name + ": " + a.typ.String()
		if a.def != nil {
			s += " = " + valueString(a.def)
		}
		return s + printDirectivesInline(a.dirs)
	}
	described := false
	for _, a := range args {
		if a.desc != nil {
			described = true
		}
	}
	var parts []string
	if !described {
		for _, a := range args {
			parts = append(parts, one(a))
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	for i, a := range args {
		parts = append(parts, printDescription(a.desc, "  "+indent, i == 0)+"  "+indent+one(a))
	}
	return "(\n" + strings.Join(parts, "\n") + "\n" + indent + ")"
}

func printBlock(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return "{\n" + strings.Join(items, "\n") + "\n}"
}

func printDirectivesBlock(ds []dir, endWithNewLine bool) string {
	if len(ds) == 0 {
		return ""
	}
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.String())
	}
	s := "\n  " + strings.Join(parts, "\n  ")
	if endWithNewLine {
		s += "\n"
	}
	return s
}

func printDirectivesInline(ds []dir) string {
	var s string
	for _, d := range ds {
		s += " " + d.String()
	}
	return s
}

func (d dir) String() string {
	if len(d.args) == 0 {
		return "@" + d.name
	}
	var parts []string
	for _, a := range d.args {
		parts = append(parts, a.name+": "+a.value)
	}
	return "@" + d.name + "(" + strings.Join(parts, ", ") + ")"
}

func printDescription(desc *string, indent string, first bool) string {
	if desc == nil {
		return ""
	}
	block := printBlockString(*desc, len(*desc) > 70)
	prefix := indent
	if indent != "" && !first {
		prefix = "\n" + indent
	}
	return prefix + strings.ReplaceAll(block, "\n", "\n"+indent) + "\n"
}

func printBlockString(v string, preferMultipleLines bool) string {
	single := !strings.Contains(v, "\n")
	leadingSpace := strings.HasPrefix(v, " ") || strings.HasPrefix(v, "\t")
	multi := !single || strings.HasSuffix(v, `"`) || strings.HasSuffix(v, `\`) || preferMultipleLines
	r := ""
	if multi && !(single && leadingSpace) {
		r += "\n"
	}
	r += v
	if multi {
		r += "\n"
	}
	return `"""` + strings.ReplaceAll(r, `"""`, `\"""`) + `"""`
}

// valueString prints a GraphQL value as Apollo does (strings JSON-quoted, lists and
// objects with ", " separators).
func valueString(v *ast.Value) string {
	if v == nil {
		return "null"
	}
	switch v.Kind {
	case ast.StringValue, ast.BlockValue:
		return quote(v.Raw)
	case ast.ListValue:
		var parts []string
		for _, c := range v.Children {
			parts = append(parts, valueString(c.Value))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case ast.ObjectValue:
		var parts []string
		for _, c := range v.Children {
			parts = append(parts, c.Name+": "+valueString(c.Value))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case ast.Variable:
		return "$" + v.Raw
	case ast.NullValue:
		return "null"
	default:
		return v.Raw
	}
}

func valueEquals(a, b *ast.Value) bool {
	if a == nil || b == nil {
		return a == b
	}
	return valueString(a) == valueString(b)
}

// quote is JSON.stringify for strings.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

// collate orders names like JavaScript's String.prototype.localeCompare with the root
// ICU collation: case-insensitive first ("_" before digits before letters), then
// lowercase before uppercase, then code points.
func collate(a, b string) int {
	pa, pb := primaryKey(a), primaryKey(b)
	if c := compareRunes(pa, pb); c != 0 {
		return c
	}
	ra, rb := []rune(a), []rune(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		if ra[i] != rb[i] {
			la, lb := unicode.IsLower(ra[i]), unicode.IsLower(rb[i])
			if la != lb {
				if la {
					return -1
				}
				return 1
			}
		}
	}
	return strings.Compare(a, b)
}

func primaryKey(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r == '_':
			out = append(out, 1)
		case unicode.IsDigit(r):
			out = append(out, 100+r)
		case unicode.IsLetter(r):
			out = append(out, 1000+unicode.ToLower(r))
		default:
			out = append(out, 2+r%90)
		}
	}
	return out
}

func compareRunes(a, b []rune) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}
