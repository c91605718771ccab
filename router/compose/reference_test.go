package compose

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompareReference(t *testing.T) {
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
	}
	a := `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { me: User }
type User @key(fields: "id") { id: ID! name: String }`
	b := `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type User @key(fields: "id") { id: ID! age: Int }`
	sdl, err := Compose([]Subgraph{{Name: "a", URL: "http://a", SDL: a}, {Name: "b", URL: "http://b", SDL: b}})
	require.NoError(t, err)
	write("same/a.graphql", a)
	write("same/b.graphql", b)
	write("same/supergraph.graphql", sdl)
	write("other/a.graphql", a)
	write("other/b.graphql", b)
	write("other/supergraph.graphql", sdl+"\nscalar Extra\n")
	rep, err := CompareReference(root)
	require.NoError(t, err)
	require.Equal(t, []string{"same"}, rep.Identical)
	require.Equal(t, []string{"other"}, rep.Different)
	require.Equal(t, 1, rep.Matching())
	require.Equal(t, 2, rep.Total())
}
