package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/router/execute"
	"github.com/studio-platform/studio/router/gateway"
	"github.com/studio-platform/studio/router/limits"
)

// TestOperationLimits sends the abusive operations of issue 9 through the real
// gateway: each is refused with its own code before any subgraph is called,
// and quickly.
func TestOperationLimits(t *testing.T) {
	f := newFixture(t, 5)
	nested := func(levels int) string {
		return "{ me {" + strings.Repeat(" projects { owner {", levels) + " id" + strings.Repeat(" } }", levels) + " } }"
	}
	repeat := func(n int, format string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	bomb := "{ me { ...F24 } } fragment F0 on User { id name }"
	for i := 1; i <= 24; i++ {
		bomb += fmt.Sprintf(" fragment F%d on User { ...F%d ...F%d }", i, i-1, i-1)
	}
	cases := []struct {
		name, query, code string
	}{
		{"40,000 __typename", "{" + strings.Repeat(" __typename", 40_000) + " }", limits.CodeTokens},
		{"deep nesting", nested(13), limits.CodeDepth},
		{"many aliases", "{ me { projects {" + repeat(60, " a%d: id") + " } owner: projects {" + repeat(60, " b%d: name") + " } } }", limits.CodeAliases},
		{"many root fields", "{" + repeat(40, " m%d: me { id }") + " }", limits.CodeRootFields},
		{"many fields", "{ me {" + strings.Repeat(" projects { id name owner { id } }", 100) + strings.Repeat(" projects { name }", 20) + " } }", limits.CodeWidth},
		{"many fields, nested", "{ me {" + strings.Repeat(" projects {"+strings.Repeat(" id", 60)+" }", 40) + " } }", limits.CodeFields},
		{"many fragments", "{ me {" + repeat(150, " ...F%d") + " } }" + repeat(150, " fragment F%d on User { id }"), limits.CodeWidth},
		{"fragment bomb", bomb, limits.CodeFields},
		{"30,000 @include on one field", "{ me" + strings.Repeat(" @include(if: true)", 30_000) + " { id } }", limits.CodeTokens},
		{"lists of lists", "{ projects { owner { projects { owner { projects { owner { projects { owner { projects { id } } } } } } } } } }", limits.CodeCost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			resp := do(t, f.gw, tc.query, nil)
			require.Less(t, time.Since(start), 2*time.Second) // milliseconds when the machine is idle
			require.Equal(t, gateway.KindLimit, resp.Kind, "%+v", resp.Errors)
			require.Len(t, resp.Errors, 1)
			require.Equal(t, tc.code, resp.Errors[0].Extensions["code"], resp.Errors[0].Message)
			require.Nil(t, resp.Data)
		})
	}
	require.Empty(t, f.accounts.Requests())
	require.Empty(t, f.projects.Requests())

	// Within the limits, the same shapes are served.
	resp := do(t, f.gw, nested(1), nil)
	require.Equal(t, gateway.KindOK, resp.Kind)
	require.Empty(t, resp.Errors)
}

func TestDirectiveLimitWithoutTokenLimit(t *testing.T) {
	l := limits.Defaults()
	l.MaxTokens = 0
	gw := gateway.New(basicSupergraph(t), gateway.WithLimits(l))
	resp := do(t, gw, "{ me"+strings.Repeat(" @include(if: true)", 30_000)+" { id } }", nil)
	require.Equal(t, gateway.KindLimit, resp.Kind)
	require.Len(t, resp.Errors, 1)
	require.Equal(t, limits.CodeDirectives, resp.Errors[0].Extensions["code"])
	body, err := json.Marshal(resp.Errors)
	require.NoError(t, err)
	require.Less(t, len(body), 500)
}

func TestLimitsOff(t *testing.T) {
	gw := gateway.New(basicSupergraph(t), gateway.WithLimits(limits.Limits{}))
	resp := do(t, gw, "{ me {"+strings.Repeat(" id", 150)+" } }", nil)
	require.NotEqual(t, gateway.KindLimit, resp.Kind)
}

func TestValidationErrorsAreCapped(t *testing.T) {
	gw := gateway.New(basicSupergraph(t))
	var b strings.Builder
	for i := range 20 {
		b.WriteString(" me {")
		for j := range 25 {
			fmt.Fprintf(&b, " x%d_%d", i, j)
		}
		b.WriteString(" }")
	}
	resp := do(t, gw, "{"+b.String()+" }", nil)
	require.Equal(t, gateway.KindValidation, resp.Kind)
	require.Len(t, resp.Errors, gateway.MaxErrors+1)
	require.Equal(t, "400 more errors not reported", resp.Errors[gateway.MaxErrors].Message)
}

func TestPlanningBudget(t *testing.T) {
	f := newFixture(t, 5)
	gw := gateway.New(basicSupergraph(t), gateway.WithPlanningBudget(5), gateway.WithExecutorOptions(execute.WithSubgraphURL("accounts", "http://127.0.0.1:1")))
	resp := do(t, gw, "{ projects { name owner { email projects { owner { email } } } } }", nil)
	require.Equal(t, gateway.KindLimit, resp.Kind)
	require.Equal(t, gateway.CodePlanningBudget, resp.Errors[0].Extensions["code"])
	require.Empty(t, f.projects.Requests())
}

func TestPlanningObservesCancellation(t *testing.T) {
	gw := gateway.New(basicSupergraph(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var b strings.Builder
	b.WriteString("{")
	for i := range 30 {
		fmt.Fprintf(&b, " a%d: projects { owner { email projects { owner { name } } } }", i)
	}
	b.WriteString(" }")
	resp := gw.Do(ctx, gateway.Request{Query: b.String()})
	require.Len(t, resp.Errors, 1)
	require.Equal(t, "SERVICE_UNAVAILABLE", resp.Errors[0].Extensions["code"])
	require.Contains(t, resp.Errors[0].Message, "planned")
}

// introspectionQuery is GraphiQL's (graphql-js getIntrospectionQuery with
// every option on), its type references nested ten deep.
var introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name kind } mutationType { name kind } subscriptionType { name kind }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL isOneOf
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type {` + strings.Repeat(" kind name ofType {", 10) + " kind name" + strings.Repeat(" }", 10) + ` }`

func TestIntrospectionQueryWithinDefaultLimits(t *testing.T) {
	gw := gateway.New(basicSupergraph(t))
	resp := do(t, gw, strings.NewReplacer(" specifiedByURL isOneOf", "", "(includeDeprecated: true)", "", " isDeprecated deprecationReason }\n  inputFields", " }\n  inputFields").Replace(introspectionQuery), nil)
	require.Equal(t, gateway.KindOK, resp.Kind, "%+v", resp.Errors)
	require.Empty(t, resp.Errors)
}
