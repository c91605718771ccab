package compose

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// TestProjectSupergraph composes the project's own supergraph.yaml.
func TestProjectSupergraph(t *testing.T) {
	root := filepath.Join("..", "..")
	path := filepath.Join(root, "supergraph.yaml")
	cfg, err := LoadConfig(path)
	require.NoError(t, err)
	sdl, err := ComposeConfig(cfg, root)
	require.NoError(t, err)
	_, perr := parser.ParseSchema(&ast.Source{Input: sdl})
	require.Nil(t, perr)
	require.Contains(t, sdl, `@link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)`)
}
