package limits_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/studio-platform/studio/router/limits"
	"github.com/studio-platform/studio/router/supergraph"
)

func load(t *testing.T, replace ...string) *supergraph.Supergraph {
	t.Helper()
	sdl, err := os.ReadFile("testdata/supergraph.graphql")
	require.NoError(t, err)
	sg, err := supergraph.Parse(strings.NewReplacer(replace...).Replace(string(sdl)))
	require.NoError(t, err)
	return sg
}

func estimate(t *testing.T, sg *supergraph.Supergraph, query string, vars map[string]any) float64 {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	require.NoError(t, err)
	require.Empty(t, validator.Validate(sg.API, doc))
	return limits.NewModel(sg, 10).Estimate(doc, doc.Operations[0], vars)
}

func TestCost(t *testing.T) {
	sg := load(t)
	cases := []struct {
		query string
		vars  map[string]any
		want  float64
	}{
		// Objects 1, scalars 0; @cost on a field replaces its type's weight.
		{`{ me { id } }`, nil, 1},
		{`{ me { id email } }`, nil, 6},
		// A list without @listSize: the default size (10); Project weighs 3.
		{`{ me { projects { id } } }`, nil, 1 + 10*3},
		// @listSize: assumedSize, else the largest slicing argument given (plus the argument's @cost).
		{`{ projects { id } }`, nil, 50 * 3},
		{`{ projects(first: 2) { id } }`, nil, 2*3 + 7},
		{`{ projects(first: 2, last: 4) { id } }`, nil, 4*3 + 7},
		{`query($n: Int) { projects(first: $n) { id } }`, map[string]any{"n": int64(5)}, 5*3 + 7},
		// Lists multiply what is below them.
		{`{ projects(last: 2) { owner { projects { owner { id } } } } }`, nil, 2 * (3 + 1 + 10*(3+1))},
		// sizedFields: the slicing argument sizes the named sub-field.
		{`{ projectPage(first: 4) { items { id } total } }`, nil, 1 + 4*3},
		// Fragments count once per use; @skip/@include apply.
		{`{ me { ...U ...U } } fragment U on User { email }`, nil, 1 + 5 + 5},
		{`query($no: Boolean!) { me { email @skip(if: $no) } }`, map[string]any{"no": true}, 1},
		// Input fields with @cost; a mutation costs 10 more.
		{`mutation { createProject(input: {name: "x"}) { id } }`, nil, 10 + 3 + 4},
		// Introspection and __typename are answered by the router.
		{`{ __typename __schema { types { name fields { name } } } }`, nil, 0},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, estimate(t, sg, tc.query, tc.vars), tc.query)
	}
}

func TestCostDirectivesByTheirLinkedNames(t *testing.T) {
	sg := load(t,
		`@link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@listSize"])`,
		`@link(url: "https://specs.apollo.dev/cost/v0.1", as: "price")`,
		"directive @cost(", "directive @price(", "directive @listSize(", "directive @price__listSize(",
		"@cost(weight", "@price(weight", "@listSize(", "@price__listSize(")
	require.Equal(t, float64(2*3+7), estimate(t, sg, `{ projects(first: 2) { id } }`, nil))
	require.Equal(t, float64(6), estimate(t, sg, `{ me { email } }`, nil))
	require.NotContains(t, fmt.Sprint(sg.API.Directives), "price")
}

func TestCheckCountsFragmentsOnce(t *testing.T) {
	q := "{ me { ...F40 } } fragment F0 on User { id a: email }"
	for i := 1; i <= 40; i++ {
		q += fmt.Sprintf(" fragment F%d on User { ...F%d ...F%d }", i, i-1, i-1)
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	require.NoError(t, err)
	start := time.Now()
	v := limits.Defaults().Check(doc, doc.Operations[0])
	require.Less(t, time.Since(start), time.Second) // microseconds: 2^41 fields are never expanded
	require.NotNil(t, v)
	require.Equal(t, limits.CodeAliases, v.Code)
	require.Contains(t, v.Message, "1099511627776 aliases")

	// A fragment spread in itself (validation rejects it) counts as nothing.
	doc, err = parser.ParseQuery(&ast.Source{Input: "{ me { ...A } } fragment A on User { id ...A }"})
	require.NoError(t, err)
	require.Nil(t, limits.Defaults().Check(doc, doc.Operations[0]))
}

func TestCheck(t *testing.T) {
	l := limits.Limits{MaxDepth: 3, MaxAliases: 2, MaxRootFields: 2, MaxFields: 6, MaxDirectives: 2, MaxWidth: 4}
	cases := map[string]string{
		`{ me { id } }`:                                                         "",
		`{ me { projects { owner { id } } } }`:                                  limits.CodeDepth,
		`{ a: me { id } b: me { id } c: me { id } }`:                            limits.CodeRootFields,
		`{ me { a: id b: id c: id } }`:                                          limits.CodeAliases,
		`{ me { ...F ...F } } fragment F on User { id name email }`:             limits.CodeFields,
		`{ me @skip(if: false) @include(if: true) @skip(if: false) { id } }`:    limits.CodeDirectives,
		`{ me { id id id id id } }`:                                             limits.CodeWidth,
		`query @a @b @c { me { id } }`:                                          limits.CodeDirectives,
		`{ me { ...F } } fragment F on User @a @b @c { id }`:                    limits.CodeDirectives,
		`{ me { ... on User { projects { owner { id } } } } }`:                  limits.CodeDepth,
		`{ me { ...F } } fragment F on User { x: projects { id } y: id z: id }`: limits.CodeAliases,
	}
	for q, code := range cases {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		require.NoError(t, err, q)
		v := l.Check(doc, doc.Operations[0])
		if code == "" {
			require.Nil(t, v, q)
			continue
		}
		require.NotNil(t, v, q)
		require.Equal(t, code, v.Code, q)
	}
}

func TestTokenLimitError(t *testing.T) {
	_, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: "{" + strings.Repeat(" a", 100) + " }"}, 50)
	v := limits.TokenLimitError(err, 50)
	require.NotNil(t, v, "gqlparser's token limit error is recognized")
	require.Equal(t, limits.CodeTokens, v.Code)
	_, err = parser.ParseQueryWithTokenLimit(&ast.Source{Input: "{"}, 50)
	require.Nil(t, limits.TokenLimitError(err, 50))
}

// TestCostFromComposedSupergraph reads the directives as our composition
// writes them (router/compose/testdata/cost: two subgraphs, merged @cost and
// @listSize).
func TestCostFromComposedSupergraph(t *testing.T) {
	sdl, err := os.ReadFile("../compose/testdata/cost/supergraph.graphql")
	require.NoError(t, err)
	sg, err := supergraph.Parse(string(sdl))
	require.NoError(t, err)
	require.Equal(t, float64(8), estimate(t, sg, `{ count }`, nil))                              // the larger weight
	require.Equal(t, float64(1+3*5), estimate(t, sg, `{ page(last: 3) { items { id } } }`, nil)) // slicing arguments merged
	require.Equal(t, float64(1+40*5), estimate(t, sg, `{ page { items { id } total } }`, nil))   // the larger assumedSize
	require.Equal(t, float64(50*(5+3)), estimate(t, sg, `{ projects { notes } }`, nil))          // a scalar's weight
	require.Equal(t, float64(2*5+4), estimate(t, sg, `{ projects(first: 2, filter: {status: OPEN}) { id } }`, nil))
}
