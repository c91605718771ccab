package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// ReferenceReport counts how our composition compares with supergraphs composed by
// another tool.
type ReferenceReport struct {
	Identical, Semantic, Different, Failed []string
}

// Total is the number of cases compared.
func (r *ReferenceReport) Total() int {
	return len(r.Identical) + len(r.Semantic) + len(r.Different) + len(r.Failed)
}

// Matching is the number of cases identical or semantically equal.
func (r *ReferenceReport) Matching() int { return len(r.Identical) + len(r.Semantic) }

var joinGraphURL = regexp.MustCompile(`@join__graph\(name: "([^"]+)", url: "([^"]*)"\)`)

// CompareReference composes every case folder under root and compares the result with
// the reference. A case folder holds the subgraphs as <name>.graphql and the reference
// result as supergraph.graphql (subgraph URLs are read from its join__Graph enum).
// "Semantically equal" means the same definitions, fields, arguments and directive
// applications, ignoring order and whitespace. `studio compose --reference DIR` runs it.
//
// The reference folders are made outside the repository, e.g. by composing the same
// subgraph files with Apollo's composition (npm package @apollo/composition,
// composeServices) and saving its supergraphSdl as supergraph.graphql.
func CompareReference(root string) (*ReferenceReport, error) {
	dirs, err := filepath.Glob(filepath.Join(root, "*"))
	if err != nil {
		return nil, err
	}
	rep := &ReferenceReport{}
	for _, dir := range dirs {
		refBytes, err := os.ReadFile(filepath.Join(dir, "supergraph.graphql"))
		if err != nil {
			continue
		}
		ref := string(refBytes)
		urls := map[string]string{}
		for _, m := range joinGraphURL.FindAllStringSubmatch(ref, -1) {
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
			if err != nil {
				return nil, err
			}
			subs = append(subs, Subgraph{Name: name, URL: urls[name], SDL: string(b)})
		}
		name := filepath.Base(dir)
		got, err := Compose(subs)
		if err != nil {
			rep.Failed = append(rep.Failed, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		if got == ref {
			rep.Identical = append(rep.Identical, name)
			continue
		}
		a, errA := Normalize(got)
		b, errB := Normalize(ref)
		if errA == nil && errB == nil && a == b {
			rep.Semantic = append(rep.Semantic, name)
		} else {
			rep.Different = append(rep.Different, name)
		}
	}
	return rep, nil
}

// Normalize prints a schema canonically: definitions, fields, arguments, values and
// directive applications sorted.
func Normalize(sdl string) (string, error) {
	doc, err := parser.ParseSchema(&ast.Source{Input: sdl})
	if err != nil {
		return "", err
	}
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
	return strings.Join(lines, "\n"), nil
}
