package compose

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// loadFixture reads every <name>.graphql of dir (but supergraph.graphql) as a subgraph
// named <name> routed at http://<name>:4000/graphql.
func loadFixture(t *testing.T, dir string) []Subgraph {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.graphql"))
	require.NoError(t, err)
	var out []Subgraph
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".graphql")
		if name == "supergraph" {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out = append(out, Subgraph{Name: name, URL: "http://" + name + ":4000/graphql", SDL: string(b)})
	}
	require.NotEmpty(t, out, "no subgraphs in %s", dir)
	return out
}

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	require.NoError(t, err)
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || filepath.Base(dir) == "errors" || filepath.Base(dir) == "config" {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			sdl, err := Compose(loadFixture(t, dir))
			require.NoError(t, err)
			golden := filepath.Join(dir, "supergraph.graphql")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(sdl), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), sdl)

			// Round trip: the supergraph parses, and composing again gives the same bytes.
			_, perr := parser.ParseSchema(&ast.Source{Name: "supergraph", Input: sdl})
			require.Nil(t, perr)
			again, err := Compose(loadFixture(t, dir))
			require.NoError(t, err)
			require.Equal(t, sdl, again)
		})
	}
}

// TestErrors composes each testdata/errors/<case>/ and compares the error messages with
// errors.txt (one per line).
func TestErrors(t *testing.T) {
	dirs, err := filepath.Glob("testdata/errors/*")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, err := Compose(loadFixture(t, dir))
			require.Error(t, err)
			require.ErrorIs(t, err, ErrComposition)
			var msgs []string
			for _, e := range unjoin(err) {
				var ce *Error
				require.True(t, errors.As(e, &ce), "not a *compose.Error: %v", e)
				require.NotEmpty(t, ce.Code)
				msgs = append(msgs, ce.Message)
			}
			got := strings.Join(msgs, "\n") + "\n"
			golden := filepath.Join(dir, "errors.txt")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), got)
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func TestErrorNamesElement(t *testing.T) {
	_, err := Compose([]Subgraph{
		{Name: "a", URL: "http://a", SDL: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { a: Int }
type T @key(fields: "id") { id: ID! name: String }`},
		{Name: "b", URL: "http://b", SDL: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type T @key(fields: "id") { id: ID! name: String }`},
	})
	var ce *Error
	require.True(t, errors.As(err, &ce))
	require.Equal(t, "INVALID_FIELD_SHARING", ce.Code)
	require.Equal(t, "T", ce.Type)
	require.Equal(t, "name", ce.Field)
	require.Contains(t, ce.Message, `subgraphs "a" and "b"`)
}

func TestDeterministicOrderOfInput(t *testing.T) {
	subs := loadFixture(t, "testdata/abstract")
	a, err := Compose(subs)
	require.NoError(t, err)
	rev := append([]Subgraph(nil), subs...)
	sort.Slice(rev, func(i, j int) bool { return rev[i].Name > rev[j].Name })
	b, err := Compose(rev)
	require.NoError(t, err)
	require.Equal(t, a, b)
}

func TestGraphEnumNames(t *testing.T) {
	got := graphEnumNames([]Subgraph{{Name: "identity"}, {Name: "my-svc"}, {Name: "2fa"}, {Name: "a_1"}, {Name: "x.y"}, {Name: "x-y"}})
	require.Equal(t, []string{"IDENTITY", "MY_SVC", "_2FA", "A_1_", "X_Y_1", "X_Y_2"}, got)
}

func TestCollate(t *testing.T) {
	names := []string{"User", "link__Import", "join__Graph", "Agency", "join__FieldSet", "Query", "requiresScopes__Scope", "policy__Policy", "link__Purpose", "ab", "Ab", "a_b"}
	sort.SliceStable(names, func(i, j int) bool { return collate(names[i], names[j]) < 0 })
	require.Equal(t, []string{"a_b", "ab", "Ab", "Agency", "join__FieldSet", "join__Graph", "link__Import", "link__Purpose", "policy__Policy", "Query", "requiresScopes__Scope", "User"}, names)
}
