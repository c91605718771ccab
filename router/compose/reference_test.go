package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// TestReference compares our composition with supergraphs composed by another tool.
// It runs only when COMPOSE_REFERENCE_DIR is set; that directory holds one folder per
// case with the subgraphs as <name>.graphql and the reference result as supergraph.graphql
// (subgraph URLs are read from its join__Graph enum). It reports, per case, whether the
// output is byte-identical, semantically equal (same definitions, fields, arguments and
// directive applications, ignoring order and whitespace) or different. See
// docs/compose.md for how the reference folders are produced.
func TestReference(t *testing.T) {
	root := os.Getenv("COMPOSE_REFERENCE_DIR")
	if root == "" {
		t.Skip("COMPOSE_REFERENCE_DIR not set")
	}
	dirs, err := filepath.Glob(filepath.Join(root, "*"))
	require.NoError(t, err)
	var identical, semantic, different, failed []string
	for _, dir := range dirs {
		refBytes, err := os.ReadFile(filepath.Join(dir, "supergraph.graphql"))
		if err != nil {
			continue
		}
		ref := string(refBytes)
		urls := map[string]string{}
		for _, m := range regexp.MustCompile(`@join__graph\(name: "([^"]+)", url: "([^"]*)"\)`).FindAllStringSubmatch(ref, -1) {
			urls[m[1]] = m[2]
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.graphql"))
		var subs []Subgraph
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".graphql")
			if name == "supergraph" {
				continue
			}
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			subs = append(subs, Subgraph{Name: name, URL: urls[name], SDL: string(b)})
		}
		name := filepath.Base(dir)
		got, err := Compose(subs)
		switch {
		case err != nil:
			failed = append(failed, name)
			t.Logf("%s: composition failed: %v", name, err)
		case got == ref:
			identical = append(identical, name)
		case normalize(t, got) == normalize(t, ref):
			semantic = append(semantic, name)
		default:
			different = append(different, name)
			if os.Getenv("COMPOSE_REFERENCE_DIFF") != "" {
				_ = os.WriteFile(filepath.Join(dir, "ours.graphql"), []byte(got), 0o644)
			}
		}
	}
	total := len(identical) + len(semantic) + len(different) + len(failed)
	t.Logf("identical: %d %v", len(identical), identical)
	t.Logf("semantically equal: %d %v", len(semantic), semantic)
	t.Logf("different: %d %v", len(different), different)
	t.Logf("failed: %d %v", len(failed), failed)
	t.Logf("matching %d of %d", len(identical)+len(semantic), total)
	if len(different)+len(failed) > 0 {
		t.Fail()
	}
}

// normalize prints a schema canonically: definitions, fields, arguments, values and
// directive applications sorted.
func normalize(t *testing.T, sdl string) string {
	doc, err := parser.ParseSchema(&ast.Source{Input: sdl})
	require.Nil(t, err)
	var lines []string
	dirs := func(list ast.DirectiveList) string {
		var out []string
		for _, d := range list {
			var args []string
			for _, a := range d.Arguments {
				args = append(args, a.Name+": "+valueString(a.Value))
			}
			sort.Strings(args)
			out = append(out, "@"+d.Name+"("+strings.Join(args, ", ")+")")
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for _, sd := range doc.Schema {
		var ops []string
		for _, o := range sd.OperationTypes {
			ops = append(ops, string(o.Operation)+":"+o.Type)
		}
		sort.Strings(ops)
		lines = append(lines, "schema "+dirs(sd.Directives)+" "+strings.Join(ops, " "))
	}
	for _, d := range doc.Directives {
		var args []string
		for _, a := range d.Arguments {
			args = append(args, a.Name+": "+a.Type.String())
		}
		var locs []string
		for _, l := range d.Locations {
			locs = append(locs, string(l))
		}
		sort.Strings(locs)
		lines = append(lines, fmt.Sprintf("directive @%s(%s) %v %s", d.Name, strings.Join(args, ", "), d.IsRepeatable, strings.Join(locs, "|")))
	}
	for _, def := range doc.Definitions {
		itfs := append([]string(nil), def.Interfaces...)
		sort.Strings(itfs)
		members := append([]string(nil), def.Types...)
		sort.Strings(members)
		lines = append(lines, fmt.Sprintf("%s %s %q %v %v %s", def.Kind, def.Name, def.Description, itfs, members, dirs(def.Directives)))
		defName := def.Name
		for _, f := range def.Fields {
			var args []string
			for _, a := range f.Arguments {
				def := ""
				if a.DefaultValue != nil {
					def = " = " + valueString(a.DefaultValue)
				}
				args = append(args, fmt.Sprintf("%s: %s%s %q %s", a.Name, a.Type, def, a.Description, dirs(a.Directives)))
			}
			sort.Strings(args)
			def := ""
			if f.DefaultValue != nil {
				def = " = " + valueString(f.DefaultValue)
			}
			lines = append(lines, fmt.Sprintf("  %s.%s(%s): %s%s %q %s", defName, f.Name, strings.Join(args, "; "), f.Type, def, f.Description, dirs(f.Directives)))
		}
		for _, v := range def.EnumValues {
			lines = append(lines, fmt.Sprintf("  %s.%s %q %s", def.Name, v.Name, v.Description, dirs(v.Directives)))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
