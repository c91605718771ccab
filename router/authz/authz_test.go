package authz

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/supergraph"
)

// A supergraph as another tool may write it: the policy spec linked under another
// name (@authz), requirements on a field, a type, a scalar and an enum.
const renamedSDL = `schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY, import: [{name: "@policy", as: "@authz"}])
{ query: Query }

directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @authz(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
scalar policy__Policy
scalar requiresScopes__Scope
enum join__Graph { A @join__graph(name: "a", url: "http://a") }

type Query @join__type(graph: A) {
  doc: Doc
  level: Level
  secret: Secret
}

type Doc @join__type(graph: A) @requiresScopes(scopes: [["docs:read"], ["admin"]]) {
  title: String
  body: String @authz(policies: [["p1", "p2"], ["p3"]])
}

enum Level @join__type(graph: A) @authz(policies: [["levels"]]) { LOW HIGH }

scalar Secret @join__type(graph: A) @authenticated
`

func guardsFor(t *testing.T, a *Authorizer, query string) *Guards {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	require.NoError(t, err)
	sel, err := plan.Normalize(a.sg.API, doc, doc.Operations[0], nil)
	require.NoError(t, err)
	return a.Analyze(sel)
}

// allow is a PolicyDecider allowing a fixed set of policies, counting its calls.
type allow struct {
	set   map[string]bool
	calls int
	asked []string
}

func (d *allow) Decide(_ context.Context, _ *auth.Claims, policies []string) (map[string]bool, error) {
	d.calls++
	d.asked = policies
	out := map[string]bool{}
	for _, p := range policies {
		out[p] = d.set[p]
	}
	return out, nil
}

func TestRenamedSpecAndDNF(t *testing.T) {
	sg, err := supergraph.Parse(renamedSDL)
	require.NoError(t, err)
	require.Equal(t, &supergraph.Requirements{Policies: [][]string{{"p1", "p2"}, {"p3"}}}, sg.FieldRequirements("Doc", "body"))
	require.Nil(t, sg.API.Types["policy__Policy"], "spec scalars are not in the API schema")
	require.Nil(t, sg.API.Directives["authz"], "the renamed directive is not in the API schema")

	dec := &allow{set: map[string]bool{"p1": true, "p3": false}}
	a := New(sg, WithPolicyDecider(dec))
	g := guardsFor(t, a, `{ doc { title body } level secret }`)
	require.Equal(t, []string{"levels", "p1", "p2", "p3"}, g.policies)

	anon := a.Decide(context.Background(), nil, g)
	require.True(t, anon.Denied())
	// doc (scopes), body (policies), level (enum policy), secret (authenticated scalar)
	require.Equal(t, "1111", anon.Key())
	require.Equal(t, 1, dec.calls, "one batched call")

	reader := &auth.Claims{Scope: "docs:read"}
	require.Equal(t, "0110", a.Decide(context.Background(), reader, g).Key(), "authenticated: only the policies fail")

	dec.set = map[string]bool{"p1": true, "p2": true, "levels": true}
	require.Equal(t, "0000", a.Decide(context.Background(), &auth.Claims{Scopes: []string{"admin"}}, g).Key())
	require.Equal(t, 3, dec.calls)

	// Only what the operation names is asked.
	g = guardsFor(t, a, `{ doc { title } }`)
	require.Empty(t, g.policies)
	a.Decide(context.Background(), reader, g)
	require.Equal(t, 3, dec.calls, "no policy, no call")
}

func TestNoRequirementsNoAuthorizer(t *testing.T) {
	sg, err := supergraph.Parse(`schema @link(url: "https://specs.apollo.dev/link/v1.0") @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query }
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
enum join__Graph { A @join__graph(name: "a", url: "http://a") }
type Query @join__type(graph: A) { a: Int }`)
	require.NoError(t, err)
	require.Nil(t, New(sg))
}

func TestEmptyDisjunctionIsNeverSatisfied(t *testing.T) {
	require.False(t, anyAll([][]string{}, map[string]bool{"a": true}))
	require.True(t, anyAll([][]string{{}}, nil), "an empty conjunction holds")
}

// BenchmarkDecide is the per-request cost of authorization once the operation is
// analysed (the gateway caches the analysis with the plan): claims, scopes and one
// policy call to an in-process decider.
func BenchmarkDecide(b *testing.B) {
	sg, err := supergraph.Parse(renamedSDL)
	require.NoError(b, err)
	a := New(sg, WithPolicyDecider(&allow{set: map[string]bool{"p1": true, "p2": true, "levels": true}}))
	doc, err := parser.ParseQuery(&ast.Source{Input: `{ doc { title body } level secret }`})
	require.NoError(b, err)
	sel, err := plan.Normalize(sg.API, doc, doc.Operations[0], nil)
	require.NoError(b, err)
	g := a.Analyze(sel)
	claims := &auth.Claims{Scope: "profile docs:read"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if a.Decide(ctx, claims, g).Denied() {
			b.Fatal("denied")
		}
	}
}
