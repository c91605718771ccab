package kit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/kit"
)

type testLoaders struct {
	Double *dataloader.Loader[int, int]
}

func newTestLoaders(batches *atomic.Int64, orgs chan<- string) *kit.Loaders[testLoaders] {
	return kit.NewLoaders(func(s kit.Scope) *testLoaders {
		return &testLoaders{Double: kit.NewLoader(s, func(_ context.Context, orgID string, keys []int) ([]int, error) {
			batches.Add(1)
			orgs <- orgID
			out := make([]int, len(keys))
			for i, k := range keys {
				out[i] = 2 * k
			}
			return out, nil
		})}
	})
}

func withClaims(ctx context.Context) context.Context {
	return auth.WithClaims(ctx, &auth.Claims{OrgID: "org-1", Email: "a@b.c", RegisteredClaims: jwt.RegisteredClaims{Subject: "user-1"}})
}

func TestLoadersFailLoudlyWithoutMiddleware(t *testing.T) {
	var batches atomic.Int64
	l := newTestLoaders(&batches, make(chan string, 10))
	_, err := l.Get(withClaims(context.Background()))
	require.ErrorIs(t, err, kit.ErrNoLoaders)
	_, err = l.Get(context.Background())
	require.ErrorIs(t, err, kit.ErrUnauthenticated)
}

func TestLoadersBatchPerRequestAndOrganization(t *testing.T) {
	var batches atomic.Int64
	orgs := make(chan string, 100)
	l := newTestLoaders(&batches, orgs)
	var got []int
	h := l.Middleware(kit.Limits{MaxBatch: 3})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := withClaims(r.Context())
		set, err := l.Get(ctx)
		require.NoError(t, err)
		again, err := l.For(ctx, "org-1")
		require.NoError(t, err)
		require.Same(t, set, again, "one set per request and organization")
		var thunks []func() (int, error)
		for k := range 7 {
			thunks = append(thunks, set.Double.Load(ctx, k))
		}
		for _, th := range thunks {
			v, err := th()
			require.NoError(t, err)
			got = append(got, v)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/graphql", nil))
	require.Equal(t, []int{0, 2, 4, 6, 8, 10, 12}, got)
	require.Equal(t, int64(3), batches.Load(), "7 keys in batches of at most 3")
	close(orgs)
	for o := range orgs {
		require.Equal(t, "org-1", o)
	}
}

func TestInputLimits(t *testing.T) {
	var in kit.Input
	name := in.Text("name", "  Acme  ", kit.MaxName)
	require.Equal(t, "Acme", name)
	require.NoError(t, in.Err())

	long := strings.Repeat("é", kit.MaxName+1)
	in.Text("title", long, kit.MaxName)
	in.Text("code", "   ", kit.MaxName)
	desc := "ok"
	in.Optional("description", &desc, kit.MaxDescription)
	require.True(t, (&kit.Input{}).MaxLen("x", strings.Repeat("é", kit.MaxName), kit.MaxName), "limits count characters, not bytes")
	err := in.Err()
	var ke *kit.Error
	require.ErrorAs(t, err, &ke)
	require.Equal(t, kit.CodeBadUserInput, ke.Code)
	require.Equal(t, "title must be at most 200 characters; code is required", ke.Message)
}

func TestFindManyNeedsClaimsAndKeepsOrder(t *testing.T) {
	type rep struct{ ID string }
	type item struct{ ID string }
	reps := []*rep{{"b"}, {"a"}}
	load := func(_ context.Context, orgID string, ids []string) ([]*item, error) {
		require.Equal(t, "org-1", orgID)
		return kit.Order(ids, []*item{{"a"}}, func(i *item) string { return i.ID }), nil
	}
	_, err := kit.FindMany(context.Background(), reps, func(r *rep) string { return r.ID }, load)
	require.ErrorIs(t, err, kit.ErrUnauthenticated)
	out, err := kit.FindMany(withClaims(context.Background()), reps, func(r *rep) string { return r.ID }, load)
	require.NoError(t, err)
	require.Equal(t, []*item{nil, {"a"}}, out)

	short := func(context.Context, string, []string) ([]*item, error) { return nil, nil }
	_, err = kit.FindMany(withClaims(context.Background()), reps, func(r *rep) string { return r.ID }, short)
	require.ErrorContains(t, err, "2 representations")
}

func TestPageArgsAndConnections(t *testing.T) {
	p, err := kit.PageArgs(nil, nil)
	require.NoError(t, err)
	require.Equal(t, kit.Page{Limit: kit.DefaultFirst}, p)

	three := 3
	c := kit.NewConnection(kit.Page{Limit: 3}, []*int{new(int), new(int), new(int)}, 7)
	require.Equal(t, 7, c.TotalCount)
	require.True(t, c.PageInfo.HasNextPage)
	require.Equal(t, c.Edges[2].Cursor, *c.PageInfo.EndCursor)
	next, err := kit.PageArgs(&three, c.PageInfo.EndCursor)
	require.NoError(t, err)
	require.Equal(t, kit.Page{Offset: 3, Limit: 3}, next)

	last := kit.NewConnection(kit.Page{Offset: 6, Limit: 3}, []*int{new(int)}, 7)
	require.False(t, last.PageInfo.HasNextPage)
	empty := kit.NewConnection(kit.Page{Offset: 9, Limit: 3}, []*int{}, 7)
	require.Nil(t, empty.PageInfo.EndCursor)
	require.Empty(t, empty.Edges)

	tooMany, negative, bogus := kit.MaxFirst+1, -1, "not-a-cursor"
	for _, args := range []struct {
		first *int
		after *string
	}{{&tooMany, nil}, {&negative, nil}, {nil, &bogus}} {
		_, err := kit.PageArgs(args.first, args.after)
		var ke *kit.Error
		require.ErrorAs(t, err, &ke)
		require.Equal(t, kit.CodeBadUserInput, ke.Code)
	}
}
