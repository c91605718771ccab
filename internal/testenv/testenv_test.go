package testenv_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/devstack"
	"github.com/studio-platform/studio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestStackIsShared(t *testing.T) {
	a := testenv.Stack(t)
	b := testenv.Stack(t)
	require.Same(t, a, b)
	require.NotEmpty(t, a.DatabaseURL)
	require.NotEmpty(t, a.RedisURL)
	require.NotEmpty(t, a.NatsURL)
	require.NotEmpty(t, a.Neo4jURL)
	require.NotEmpty(t, a.S3URL)
}

func TestNeo4j(t *testing.T) {
	ctx := context.Background()
	drv, err := neo4j.NewDriverWithContext(testenv.Neo4j(t), neo4j.NoAuth())
	require.NoError(t, err)
	defer drv.Close(ctx)
	res, err := neo4j.ExecuteQuery(ctx, drv, "RETURN 40 + $n AS v", map[string]any{"n": 2}, neo4j.EagerResultTransformer)
	require.NoError(t, err)
	v, _ := res.Records[0].Get("v")
	require.EqualValues(t, 42, v)
}

func TestBucket(t *testing.T) {
	ctx := context.Background()
	var first testenv.S3
	t.Run("isolated/buckets", func(t *testing.T) {
		first = testenv.Bucket(t)
		second := testenv.Bucket(t)
		require.NotEqual(t, first.Bucket, second.Bucket)
		c, err := devstack.S3Client(first.URL, first.AccessKey, first.SecretKey)
		require.NoError(t, err)
		_, err = c.PutObject(ctx, first.Bucket, "doc.txt", strings.NewReader("left behind"), 11, minio.PutObjectOptions{})
		require.NoError(t, err)
		objs := c.ListObjects(ctx, second.Bucket, minio.ListObjectsOptions{})
		_, more := <-objs
		require.False(t, more, "a fresh bucket is empty")
	})
	// After the subtest its buckets are gone, objects and all.
	c, err := devstack.S3Client(first.URL, first.AccessKey, first.SecretKey)
	require.NoError(t, err)
	ok, err := c.BucketExists(ctx, first.Bucket)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestDatabase(t *testing.T) {
	ctx := context.Background()
	var firstName string
	t.Run("isolated/databases", func(t *testing.T) {
		url1 := testenv.Database(t)
		url2 := testenv.Database(t)
		require.NotEqual(t, url1, url2)

		c1, err := pgx.Connect(ctx, url1)
		require.NoError(t, err)
		_, err = c1.Exec(ctx, "create table only_in_one (id int)")
		require.NoError(t, err)
		require.NoError(t, c1.QueryRow(ctx, "select current_database()").Scan(&firstName))
		require.True(t, strings.HasPrefix(firstName, "t_testdatabase_isolated_databases_"), firstName)
		// Left open on purpose: the cleanup must terminate it.
		t.Cleanup(func() { _ = c1.Close(ctx) })

		c2, err := pgx.Connect(ctx, url2)
		require.NoError(t, err)
		defer c2.Close(ctx)
		var n int
		require.NoError(t, c2.QueryRow(ctx, "select count(*) from information_schema.tables where table_name = 'only_in_one'").Scan(&n))
		require.Zero(t, n)
	})

	// After the subtest, its databases are gone.
	conn, err := pgx.Connect(ctx, testenv.Stack(t).DatabaseURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, "select count(*) from pg_database where datname = $1", firstName).Scan(&n))
	require.Zero(t, n)
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{"ok":true}}`)
	})
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestFault(t *testing.T) {
	f := testenv.NewFault(okHandler())
	url := testenv.Serve(t, f)
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"))
	c := &http.Client{Timeout: 5 * time.Second}

	resp, body, err := get(t, c, url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"data":{"ok":true}}`, body)

	// Delay.
	f.SetDelay(150 * time.Millisecond)
	start := time.Now()
	resp, _, err = get(t, c, url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	// A client that gives up first gets a timeout.
	f.SetDelay(time.Minute)
	_, _, err = get(t, &http.Client{Timeout: 100 * time.Millisecond}, url)
	require.Error(t, err)
	f.SetDelay(0)

	// Error status with a body.
	f.SetError(http.StatusServiceUnavailable)
	resp, body, err = get(t, c, url)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, body, "injected fault")
	require.True(t, json.Valid([]byte(body)))

	// Close without answering.
	f.SetClose()
	_, _, err = get(t, c, url)
	require.Error(t, err)
	require.False(t, errors.Is(err, context.DeadlineExceeded))

	// Garbage.
	f.SetGarbage()
	resp, body, err = get(t, c, url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, json.Valid([]byte(body)))

	// Delay combines with a fault.
	f.SetDelay(50 * time.Millisecond)
	f.SetError(http.StatusBadGateway)
	start = time.Now()
	resp, _, err = get(t, c, url)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	// Reset.
	f.Reset()
	resp, body, err = get(t, c, url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"data":{"ok":true}}`, body)
	require.GreaterOrEqual(t, f.Requests(), int64(8)) // the transport may retry the closed GET
}

func TestFaultConcurrent(t *testing.T) {
	f := testenv.NewFault(okHandler())
	url := testenv.Serve(t, f)
	c := &http.Client{Timeout: 5 * time.Second}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			switch i % 5 {
			case 0:
				f.SetDelay(time.Millisecond)
			case 1:
				f.SetError(http.StatusInternalServerError)
			case 2:
				f.SetClose()
			case 3:
				f.SetGarbage()
			case 4:
				f.Reset()
			}
		}
	})
	var clients sync.WaitGroup
	for range 8 {
		clients.Go(func() {
			for range 25 {
				// Any outcome is fine; the point is no race and no hang.
				if resp, err := c.Get(url); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			}
		})
	}
	clients.Wait()
	close(stop)
	wg.Wait()
	require.GreaterOrEqual(t, f.Requests(), int64(200))
}
