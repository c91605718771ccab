package gateway

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/router/supergraph"
)

func TestCacheKeepsWhatIsUsedUnderAFlood(t *testing.T) {
	c := newCache[int](10, 0)
	c.put("hot", 1, 1)
	for i := range 1000 {
		c.put(fmt.Sprint("junk", i), i, 1)
		_, ok := c.get("hot")
		require.True(t, ok, "after %d junk entries", i)
	}
	require.Equal(t, 10, c.len())
}

func TestCacheBoundedByBytes(t *testing.T) {
	c := newCache[int](100, 100)
	for i := range 10 {
		c.put(fmt.Sprint(i), i, 30)
	}
	require.Equal(t, 3, c.len())
	_, ok := c.get("9")
	require.True(t, ok)
	_, ok = c.get("0")
	require.False(t, ok)
	c.put("huge", 0, 101)
	_, ok = c.get("huge")
	require.False(t, ok)
	c.put("9", 9, 30) // replacing an entry does not count it twice
	require.Equal(t, int64(90), c.bytes)
}

// TestPlanCacheKeyIsTheOperationShape: spacing, comments, other operations of
// the document and the order of fragments do not make a new plan.
func TestPlanCacheKeyIsTheOperationShape(t *testing.T) {
	sdl, err := os.ReadFile("../plan/testdata/basic/supergraph.graphql")
	require.NoError(t, err)
	sg, err := supergraph.Parse(string(sdl))
	require.NoError(t, err)
	g := New(sg)
	docs := []string{
		`query Q { me { ...A ...B } } fragment A on User { id } fragment B on User { name }`,
		"# a comment\nquery Q {\n  me { ...A ...B }\n}\nfragment B on User { name }\nfragment A on User { id }",
		`query Q { me { ...A ...B } } query Other { me { id } } fragment A on User { id } fragment B on User { name }`,
	}
	for _, d := range docs {
		pd := g.document(context.Background(), d)
		require.Equal(t, KindOK, pd.kind, "%+v", pd.errs)
		op := pd.doc.Operations.ForName("Q")
		_, _, err := g.plan(context.Background(), pd, op, nil, nil)
		require.NoError(t, err)
	}
	require.Equal(t, 3, g.docs.len())
	require.Equal(t, 1, g.plans.len())
	pd := g.document(context.Background(), `query Q { me { ...A ...B } } fragment A on User { id } fragment B on User { email }`)
	_, _, err = g.plan(context.Background(), pd, pd.doc.Operations[0], nil, nil)
	require.NoError(t, err)
	require.Equal(t, 2, g.plans.len())
}
