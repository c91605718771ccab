package supergraph_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/router/supergraph"
)

func load(t *testing.T, file string) *supergraph.Supergraph {
	t.Helper()
	sdl, err := os.ReadFile(file)
	require.NoError(t, err)
	sg, err := supergraph.Parse(string(sdl))
	require.NoError(t, err)
	return sg
}

func TestJoinV02(t *testing.T) {
	sg := load(t, "testdata/join-v0.2.graphql")
	require.Len(t, sg.Graphs, 2)
	require.Equal(t, "http://reviews/graphql", sg.Graph("reviews").URL)
	require.True(t, sg.Resolvable("User", "reviews", "reviews"))
	require.False(t, sg.Resolvable("User", "name", "reviews"))
	require.Equal(t, "name", sg.FieldIn("Review", "author", "reviews").Provides)
	require.Len(t, sg.ResolvableKeys("User", "accounts"), 1)
	require.NotNil(t, sg.API.Types["User"])
	require.Nil(t, sg.API.Types["join__Graph"], "the API schema has no join machinery")
}

func TestJoinV05(t *testing.T) {
	sg := load(t, "testdata/join-v0.5.graphql")
	fa := sg.FieldIn("Product", "price", "a")
	require.Equal(t, "b", fa.Override)
	require.Equal(t, "percent(10)", fa.OverrideLabel)
	require.True(t, sg.FieldIn("Product", "price", "b").UsedOverridden)
	require.True(t, sg.Resolvable("Product", "price", "b"), "label off: the overridden subgraph resolves")
	require.False(t, sg.Resolvable("Product", "price", "a"))
	on := func(l string) bool { return l == "percent(10)" }
	require.False(t, sg.ResolvableWith("Product", "price", "b", on))
	require.True(t, sg.ResolvableWith("Product", "price", "a", on), "label on: the overriding subgraph resolves")
	require.Equal(t, []string{"percent(10)"}, sg.OverrideLabels())
	require.Nil(t, sg.API.Types["Product"].Fields.ForName("secret"), "@inaccessible fields are not in the API schema")
	require.Nil(t, sg.API.Directives["tag"], "spec directives are not in the API schema")
}

func TestInvalidSupergraph(t *testing.T) {
	_, err := supergraph.Parse(`type Query { a: Int }`)
	require.ErrorIs(t, err, supergraph.ErrInvalid)
	_, err = supergraph.Parse(`type Query {`)
	require.ErrorIs(t, err, supergraph.ErrInvalid)
}
