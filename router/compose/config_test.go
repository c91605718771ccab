package compose

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadConfigAndCompose(t *testing.T) {
	cfg, err := LoadConfig("testdata/config/supergraph.yaml")
	require.NoError(t, err)
	require.Equal(t, "=2.3.0", cfg.FederationVersion)
	require.Equal(t, []string{"schema/users/link.graphqls", "schema/users/types.graphqls"}, cfg.Subgraphs["users"].Schema.Files)

	sdl, err := ComposeConfig(cfg, "testdata/config")
	require.NoError(t, err)
	require.Contains(t, sdl, `BILLING @join__graph(name: "billing", url: "http://localhost:4002/graphql")`)
	require.Contains(t, sdl, `USERS @join__graph(name: "users", url: "http://localhost:4001/graphql")`)
	require.Contains(t, sdl, "  plan: String @join__field(graph: BILLING)\n")
	require.Contains(t, sdl, "  me: User @join__field(graph: USERS)\n")
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	_, err := LoadConfig("testdata/config/bad.yaml")
	require.Error(t, err)
	require.Contains(t, err.Error(), `subgraph "a": routing_url is required`)
	require.Contains(t, err.Error(), `subgraph "a": schema needs exactly one of file, files or sdl`)
	require.Contains(t, err.Error(), `subgraph "b": schema needs exactly one of file, files or sdl`)
}

func TestComposeConfigMissingFile(t *testing.T) {
	cfg := &Config{Subgraphs: map[string]SubgraphConfig{"a": {RoutingURL: "http://a", Schema: SchemaSource{File: "nope.graphqls"}}}}
	_, err := ComposeConfig(cfg, t.TempDir())
	require.ErrorContains(t, err, `subgraph "a"`)
}
