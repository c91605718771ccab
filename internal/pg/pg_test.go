package pg_test

import (
	"context"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var migrations = fstest.MapFS{
	"0002_more.sql":      {Data: []byte(`INSERT INTO things (name) VALUES ('second');`)},
	"0001_init.sql":      {Data: []byte(`CREATE TABLE things (id serial PRIMARY KEY, name text NOT NULL); INSERT INTO things (name) VALUES ('first');`)},
	"README.md":          {Data: []byte(`not a migration`)},
	"nested/0000_no.sql": {Data: []byte(`this is not run`)},
}

func TestOpenMigratesOnceAndSetsSearchPath(t *testing.T) {
	url := testenv.Database(t)
	ctx := context.Background()

	// Two processes starting at once: the advisory lock makes each migration run once.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := pg.Open(ctx, url, "app_one", migrations)
			if err == nil {
				p.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	counter := &pg.QueryCounter{}
	pool, err := pg.Open(ctx, url, "app_one", migrations, pg.WithTracer(counter))
	require.NoError(t, err)
	defer pool.Close()

	// Unqualified names resolve in the schema; lexical order: first, then second.
	counter.Reset()
	rows, err := pool.Query(ctx, "SELECT name FROM things ORDER BY id")
	require.NoError(t, err)
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"first", "second"}, names)
	require.Equal(t, int64(1), counter.Count())

	var versions []string
	rows, err = pool.Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	require.NoError(t, err)
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		versions = append(versions, v)
	}
	require.Equal(t, []string{"0001_init.sql", "0002_more.sql"}, versions)
	require.Equal(t, int64(2), counter.Count())
	require.Len(t, counter.Queries(), 2)
	counter.Reset()
	require.Zero(t, counter.Count())
	require.Empty(t, counter.Queries())

	// Another schema in the same database is independent.
	other, err := pg.Open(ctx, url, "app_two", nil)
	require.NoError(t, err)
	defer other.Close()
	var sp string
	require.NoError(t, other.QueryRow(ctx, "SHOW search_path").Scan(&sp))
	require.Equal(t, "app_two", sp)
}

func TestOpenFailingMigrationIsNotRecorded(t *testing.T) {
	url := testenv.Database(t)
	ctx := context.Background()
	bad := fstest.MapFS{
		"0001_ok.sql":  {Data: []byte(`CREATE TABLE a (x int);`)},
		"0002_bad.sql": {Data: []byte(`CREATE TABLE b (x int); SELECT no_such_function();`)},
	}
	_, err := pg.Open(ctx, url, "broken", bad)
	require.ErrorContains(t, err, "0002_bad.sql")

	fixed := fstest.MapFS{
		"0001_ok.sql":  bad["0001_ok.sql"],
		"0002_bad.sql": {Data: []byte(`CREATE TABLE b (x int);`)},
	}
	pool, err := pg.Open(ctx, url, "broken", fixed)
	require.NoError(t, err)
	defer pool.Close()
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n))
	require.Equal(t, 2, n)
}

func TestOpenRejectsBadSchemaName(t *testing.T) {
	_, err := pg.Open(context.Background(), "postgres://localhost/x", `x"; DROP TABLE y; --`, nil)
	require.ErrorIs(t, err, pg.ErrBadSchema)
}

func TestQueryCounterConcurrent(t *testing.T) {
	var c pg.QueryCounter
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c.TraceQueryStart(context.Background(), nil, pgxStart("SELECT 1"))
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(800), c.Count())
}
