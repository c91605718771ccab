package devstack_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/devstack"
)

func quietLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// stackDir returns a fresh dir and removes the fallback cluster folder (used when the
// postgres user cannot reach the dir, e.g. t.TempDir() is 0700 root) after the test.
func stackDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { _ = os.RemoveAll(devstack.FallbackPostgresDir(dir)) })
	return dir
}

func start(t *testing.T, dir string, opts ...devstack.Option) *devstack.Stack {
	t.Helper()
	// Generous: on a new machine the first start builds the Neo4j launcher and MinIO.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	opts = append([]devstack.Option{devstack.WithoutEnv(), devstack.WithLogger(quietLogger(t))}, opts...)
	st, err := devstack.Start(ctx, dir, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

func pgExec(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	require.NoError(t, err)
}

func pgCount(t *testing.T, url, sql string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, sql).Scan(&n))
	return n
}

func neo4jCount(t *testing.T, url, cypher string) int64 {
	t.Helper()
	ctx := context.Background()
	drv, err := neo4j.NewDriverWithContext(url, neo4j.NoAuth())
	require.NoError(t, err)
	defer drv.Close(ctx)
	res, err := neo4j.ExecuteQuery(ctx, drv, cypher, nil, neo4j.EagerResultTransformer)
	require.NoError(t, err)
	require.Len(t, res.Records, 1)
	n, ok := res.Records[0].Values[0].(int64)
	require.True(t, ok, "got %T", res.Records[0].Values[0])
	return n
}

func s3Client(t *testing.T, st *devstack.Stack) *minio.Client {
	t.Helper()
	c, err := devstack.S3Client(st.S3URL, st.S3AccessKey, st.S3SecretKey)
	require.NoError(t, err)
	return c
}

func TestStartAllAndRestartKeepsData(t *testing.T) {
	dir := stackDir(t)
	ctx := context.Background()

	st := start(t, dir)
	require.Contains(t, st.DatabaseURL, "postgres://studio@127.0.0.1:")
	require.Regexp(t, `^bolt://127\.0\.0\.1:\d+$`, st.Neo4jURL)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, st.S3URL)
	require.NotEmpty(t, st.S3AccessKey)
	require.NotEmpty(t, st.S3SecretKey)
	require.Len(t, st.Env(), 7)

	// Postgres.
	require.Equal(t, 1, pgCount(t, st.DatabaseURL, "select 1"))
	pgExec(t, st.DatabaseURL, "create table survivor (id int primary key)")
	pgExec(t, st.DatabaseURL, "insert into survivor values (1), (2)")
	// Running as root the cluster must be owned by / run as postgres, never root.
	var user string
	conn, err := pgx.Connect(ctx, st.DatabaseURL)
	require.NoError(t, err)
	require.NoError(t, conn.QueryRow(ctx, "select current_user").Scan(&user))
	require.Equal(t, "studio", user)
	conn.Close(ctx)

	// Redis.
	opt, err := redis.ParseURL(st.RedisURL)
	require.NoError(t, err)
	rc := redis.NewClient(opt)
	require.NoError(t, rc.Ping(ctx).Err())
	require.NoError(t, rc.Set(ctx, "k", "v", 0).Err())
	require.NoError(t, rc.Close())

	// NATS JetStream.
	nc, err := nats.Connect(st.NatsURL)
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"studio.>"}})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "studio.test.thing.created", []byte("hi"))
	require.NoError(t, err)
	nc.Close()

	// Neo4j.
	require.EqualValues(t, 0, neo4jCount(t, st.Neo4jURL, "MATCH (n:Survivor) RETURN count(n)"))
	require.EqualValues(t, 2, neo4jCount(t, st.Neo4jURL, "UNWIND [1, 2] AS i CREATE (n:Survivor {i: i}) RETURN count(n)"))

	// MinIO: a bucket and an object, with the generated root credentials only.
	s3 := s3Client(t, st)
	require.NoError(t, s3.MakeBucket(ctx, "survivors", minio.MakeBucketOptions{}))
	_, err = s3.PutObject(ctx, "survivors", "a.txt", strings.NewReader("hello"), 5, minio.PutObjectOptions{ContentType: "text/plain"})
	require.NoError(t, err)
	anon, err := minio.New(strings.TrimPrefix(st.S3URL, "http://"), &minio.Options{})
	require.NoError(t, err)
	_, err = anon.ListBuckets(ctx)
	require.Error(t, err, "anonymous access must be refused")

	oldDB, oldRedis, oldNeo4j, oldS3 := st.DatabaseURL, st.RedisURL, st.Neo4jURL, st.S3URL
	require.NoError(t, st.Close())
	require.NoError(t, st.Close(), "Close must be safe twice")

	// Postgres is really gone.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = pgx.Connect(cctx, oldDB)
	cancel()
	require.Error(t, err)
	// So are Neo4j and MinIO.
	drv, err := neo4j.NewDriverWithContext(oldNeo4j, neo4j.NoAuth())
	require.NoError(t, err)
	cctx, cancel = context.WithTimeout(ctx, 2*time.Second)
	require.Error(t, drv.VerifyConnectivity(cctx))
	cancel()
	require.NoError(t, drv.Close(ctx))
	_, err = http.Get(oldS3 + "/minio/health/live")
	require.Error(t, err)

	// Restart on the same dir: same ports (recorded), data survived.
	st2 := start(t, dir)
	require.Equal(t, oldDB, st2.DatabaseURL)
	require.Equal(t, oldRedis, st2.RedisURL)
	require.Equal(t, oldNeo4j, st2.Neo4jURL)
	require.Equal(t, oldS3, st2.S3URL)
	require.Equal(t, 2, pgCount(t, st2.DatabaseURL, "select count(*) from survivor"))
	require.EqualValues(t, 2, neo4jCount(t, st2.Neo4jURL, "MATCH (n:Survivor) RETURN count(n)"))
	obj, err := s3Client(t, st2).GetObject(ctx, "survivors", "a.txt", minio.GetObjectOptions{})
	require.NoError(t, err)
	body, err := io.ReadAll(obj)
	require.NoError(t, err)
	require.Equal(t, "hello", string(body))

	opt, err = redis.ParseURL(st2.RedisURL)
	require.NoError(t, err)
	rc = redis.NewClient(opt)
	defer rc.Close()
	require.Equal(t, "v", rc.Get(ctx, "k").Val())

	nc, err = nats.Connect(st2.NatsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err = jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx, "EVENTS")
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, info.State.Msgs)
}

func TestPostgresReuseRunningCluster(t *testing.T) {
	dir := stackDir(t)
	first := start(t, dir, devstack.WithoutRedis(), devstack.WithoutNATS(), devstack.WithoutNeo4j(), devstack.WithoutMinIO())
	require.Empty(t, first.RedisURL)
	require.Empty(t, first.NatsURL)

	// A second Start while the first is running reuses it and does not own it.
	second := start(t, dir, devstack.WithoutRedis(), devstack.WithoutNATS(), devstack.WithoutNeo4j(), devstack.WithoutMinIO())
	require.Equal(t, first.DatabaseURL, second.DatabaseURL)
	require.NoError(t, second.Close())
	require.Equal(t, 1, pgCount(t, first.DatabaseURL, "select 1"), "closing a reusing stack must not stop postgres")

	// Create / drop database helpers.
	ctx := context.Background()
	dbURL, err := devstack.CreateDatabase(ctx, first.DatabaseURL, "helper_db")
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, dbURL) // an open connection must not block the drop
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, devstack.DropDatabase(ctx, first.DatabaseURL, "helper_db"))
	require.Equal(t, 0, pgCount(t, first.DatabaseURL, "select count(*) from pg_database where datname = 'helper_db'"))
}

func TestPostgresReachableDir(t *testing.T) {
	// A dir the server's user can traverse (the postgres user when running as
	// root, this user otherwise): the cluster lives in <dir>/postgres.
	base, err := os.MkdirTemp("", "devstack-open-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	st := start(t, base, devstack.WithoutRedis(), devstack.WithoutNATS(), devstack.WithoutNeo4j(), devstack.WithoutMinIO())
	fi, err := os.Lstat(filepath.Join(base, "postgres"))
	require.NoError(t, err)
	require.True(t, fi.IsDir(), "expected a real folder, not a fallback symlink")
	require.FileExists(t, filepath.Join(base, "postgres", "data", "PG_VERSION"))
	require.Equal(t, 1, pgCount(t, st.DatabaseURL, "select 1"))
}

func TestFallbackRecordedAsSymlink(t *testing.T) {
	dir := stackDir(t) // 0700: unreachable for the postgres user when we are root
	start(t, dir, devstack.WithoutRedis(), devstack.WithoutNATS(), devstack.WithoutNeo4j(), devstack.WithoutMinIO())
	if os.Geteuid() != 0 {
		// Not root: the server runs as this user, who owns dir, so no fallback.
		fi, err := os.Lstat(filepath.Join(dir, "postgres"))
		require.NoError(t, err)
		require.True(t, fi.IsDir(), "expected a real folder when not root")
		return
	}
	target, err := os.Readlink(filepath.Join(dir, "postgres"))
	require.NoError(t, err)
	require.Equal(t, devstack.FallbackPostgresDir(dir), target)
}

func TestEnvURLsAreUsed(t *testing.T) {
	env := map[string]string{
		devstack.EnvDatabaseURL: "postgres://x@db.example:5432/x",
		devstack.EnvRedisURL:    "redis://cache.example:6379/0",
		devstack.EnvNatsURL:     "nats://bus.example:4222",
		devstack.EnvNeo4jURL:    "bolt://graph.example:7687",
		devstack.EnvS3URL:       "https://s3.example",
		devstack.EnvS3AccessKey: "AK",
		devstack.EnvS3SecretKey: "SK",
	}
	st, err := devstack.Start(context.Background(), t.TempDir(),
		devstack.WithEnvLookup(func(k string) string { return env[k] }), devstack.WithLogger(quietLogger(t)))
	require.NoError(t, err)
	require.Equal(t, env[devstack.EnvDatabaseURL], st.DatabaseURL)
	require.Equal(t, env[devstack.EnvRedisURL], st.RedisURL)
	require.Equal(t, env[devstack.EnvNatsURL], st.NatsURL)
	require.Equal(t, env[devstack.EnvNeo4jURL], st.Neo4jURL)
	require.Equal(t, env[devstack.EnvS3URL], st.S3URL)
	require.Equal(t, "AK", st.S3AccessKey)
	require.Equal(t, "SK", st.S3SecretKey)
	require.Len(t, st.Env(), 7)
	require.NoError(t, st.Close())
}

func TestRunWith(t *testing.T) {
	dir := stackDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Neo4j and MinIO are covered by TestStartAllAndRestartKeepsData; RunWith's job is the
	// environment and the exit code.
	opts := []devstack.Option{devstack.WithoutEnv(), devstack.WithLogger(quietLogger(t)), devstack.WithoutNeo4j(), devstack.WithoutMinIO()}

	out := filepath.Join(t.TempDir(), "env")
	script := `printf '%s\n%s\n%s\n' "$DATABASE_URL" "$REDIS_URL" "$NATS_URL" > "$1"; exit 0`
	require.NoError(t, devstack.RunWith(ctx, dir, []string{"sh", "-c", script, "sh", out}, opts...))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Regexp(t, `^postgres://studio@127\.0\.0\.1:\d+/studio\?sslmode=disable\nredis://127\.0\.0\.1:\d+/0\nnats://127\.0\.0\.1:\d+\n$`, string(b))

	err = devstack.RunWith(ctx, dir, []string{"sh", "-c", "exit 3"}, opts...)
	var exitErr *exec.ExitError
	require.True(t, errors.As(err, &exitErr), "got %v", err)
	require.Equal(t, 3, exitErr.ExitCode())
}

func TestMissingToolsNameTheInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no java, javac, mvn or go
	only := []devstack.Option{devstack.WithoutEnv(), devstack.WithLogger(quietLogger(t)), devstack.WithCacheDir(t.TempDir()), devstack.WithoutInstall(),
		devstack.WithoutPostgres(), devstack.WithoutRedis(), devstack.WithoutNATS()}

	_, err := devstack.Start(context.Background(), t.TempDir(), append(only, devstack.WithoutMinIO())...)
	require.ErrorContains(t, err, "apt-get install -y openjdk-17-jdk-headless maven")
	require.ErrorContains(t, err, devstack.EnvNeo4jURL)

	_, err = devstack.Start(context.Background(), t.TempDir(), append(only, devstack.WithoutNeo4j())...)
	require.ErrorContains(t, err, "go install github.com/minio/minio@"+devstack.MinIOModuleVersion)
	require.ErrorContains(t, err, devstack.EnvS3URL)
}
