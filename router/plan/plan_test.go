package plan_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/supergraph"
)

var update = flag.Bool("update", false, "rewrite the golden plan files")

// TestGoldenPlans plans every testdata/<fixture>/*.graphql operation against the
// fixture's supergraph and compares the plan with the .plan.json file beside it.
func TestGoldenPlans(t *testing.T) {
	fixtures, err := filepath.Glob("testdata/*/supergraph.graphql")
	require.NoError(t, err)
	require.NotEmpty(t, fixtures)
	for _, sgFile := range fixtures {
		dir := filepath.Dir(sgFile)
		sdl, err := os.ReadFile(sgFile)
		require.NoError(t, err)
		sg, err := supergraph.Parse(string(sdl))
		require.NoError(t, err)
		ops, err := filepath.Glob(filepath.Join(dir, "*.graphql"))
		require.NoError(t, err)
		for _, opFile := range ops {
			if opFile == sgFile {
				continue
			}
			name := filepath.Base(dir) + "/" + strings.TrimSuffix(filepath.Base(opFile), ".graphql")
			t.Run(name, func(t *testing.T) {
				p := build(t, sg, opFile, plan.Conditions{"withName": true})
				got, err := json.MarshalIndent(p, "", "  ")
				require.NoError(t, err)
				golden := strings.TrimSuffix(opFile, ".graphql") + ".plan.json"
				if *update {
					require.NoError(t, os.WriteFile(golden, append(got, '\n'), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err, "run go test ./router/plan -update to create it")
				require.JSONEq(t, string(want), string(got))
				again := build(t, sg, opFile, plan.Conditions{"withName": true})
				gotAgain, _ := json.MarshalIndent(again, "", "  ")
				require.Equal(t, string(got), string(gotAgain), "planning is deterministic")
			})
		}
	}
}

func build(t testing.TB, sg *supergraph.Supergraph, opFile string, conds plan.Conditions) *plan.Plan {
	t.Helper()
	src, err := os.ReadFile(opFile)
	require.NoError(t, err)
	doc, perr := parser.ParseQuery(&ast.Source{Input: string(src)})
	require.NoError(t, perr)
	require.Empty(t, validator.Validate(sg.API, doc))
	p, err := plan.Build(plan.Input{Supergraph: sg, Document: doc, Operation: doc.Operations[0], Conditions: conds})
	require.NoError(t, err)
	return p
}

func TestUnreachableFieldIsAnError(t *testing.T) {
	sdl, err := os.ReadFile("testdata/basic/supergraph.graphql")
	require.NoError(t, err)
	// Drop the accounts key so that User.email cannot be reached from projects.
	broken := strings.Replace(string(sdl), `@join__type(graph: ACCOUNTS, key: "id")`, `@join__type(graph: ACCOUNTS)`, 1)
	sg, err := supergraph.Parse(broken)
	require.NoError(t, err)
	doc, perr := parser.ParseQuery(&ast.Source{Input: `{ projects { owner { email } } }`})
	require.NoError(t, perr)
	_, err = plan.Build(plan.Input{Supergraph: sg, Document: doc, Operation: doc.Operations[0]})
	require.ErrorIs(t, err, plan.ErrUnplannable)
	require.Contains(t, err.Error(), "User.email")
}

func BenchmarkPlan(b *testing.B) {
	sdl, err := os.ReadFile("testdata/basic/supergraph.graphql")
	require.NoError(b, err)
	sg, err := supergraph.Parse(string(sdl))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		build(b, sg, "testdata/basic/me_projects.graphql", nil)
	}
}
