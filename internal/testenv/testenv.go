// Package testenv is the integration-test harness: one real infrastructure stack per
// test process, a fresh PostgreSQL database per test, and HTTP fault injection.
//
// # One stack per test process
//
// Stack(t) starts the stack on first use (sync.Once) and keeps it for the whole test
// process. When DATABASE_URL, REDIS_URL, NATS_URL, NEO4J_URL and S3_URL are set (`make
// test` runs `studio stack -- go test ./...`, which starts one stack and exports them),
// those servers are used and nothing is started. Otherwise a private stack is started
// under a fresh /tmp/studio-testenv-* folder (servers whose URL is set are still reused).
//
// Neo4j Community has a single database, so tests share it: Neo4j(t) returns its URL
// and tests keep apart by scoping their data (e.g. a random organization id). MinIO
// tests get a fresh bucket each from Bucket(t).
//
// To stop that private stack and delete its folder when the tests end, call Main from
// TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Without Main the stack still cannot outlive the process: redis-server, postgres,
// Neo4j and MinIO are child processes that receive a signal when the test binary exits (Pdeathsig),
// and NATS is embedded. The folder is left behind and garbage-collected by the next
// test process that starts a private stack (folders whose owner pid is gone).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/studio-platform/studio/internal/devstack"
)

const dirPrefix = "studio-testenv-"

// process-wide stack: the whole point of this package is one stack per test process.
var shared struct {
	once  sync.Once
	mu    sync.Mutex
	stack *devstack.Stack
	dir   string // private folder to delete on Close, "" when none
	err   error
}

// Stack returns the test process's stack, starting it on first use (see the package
// documentation). It fails the test if the stack cannot start.
func Stack(t testing.TB) *devstack.Stack {
	t.Helper()
	shared.once.Do(func() {
		st, dir, err := startShared()
		shared.mu.Lock()
		shared.stack, shared.dir, shared.err = st, dir, err
		shared.mu.Unlock()
	})
	shared.mu.Lock()
	st, err := shared.stack, shared.err
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("testenv: start stack: %v", err)
	}
	if st == nil {
		t.Fatalf("testenv: stack already closed")
	}
	return st
}

func startShared() (*devstack.Stack, string, error) {
	// Generous: on a new machine the first start builds the Neo4j launcher and MinIO.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	log := logger()
	if allSet(devstack.EnvDatabaseURL, devstack.EnvRedisURL, devstack.EnvNatsURL, devstack.EnvNeo4jURL, devstack.EnvS3URL) {
		st, err := devstack.Start(ctx, os.TempDir(), devstack.WithLogger(log))
		return st, "", err
	}
	collectGarbage(log)
	dir, err := os.MkdirTemp("/tmp", dirPrefix)
	if err != nil {
		return nil, "", fmt.Errorf("create stack folder: %w", err)
	}
	// 0755 so that, under root, the postgres user can reach the cluster in <dir>/postgres.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("chmod stack folder: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, "", fmt.Errorf("write owner pid: %w", err)
	}
	// A throwaway cluster: trade crash safety for speed (fsync off).
	st, err := devstack.Start(ctx, dir, devstack.WithLogger(log), devstack.WithFastUnsafePostgres())
	if err != nil {
		removeStackDir(dir)
		return nil, "", err
	}
	return st, dir, nil
}

func allSet(keys ...string) bool {
	for _, k := range keys {
		if os.Getenv(k) == "" {
			return false
		}
	}
	return true
}

// logger: warnings only, unless STUDIO_TESTENV_LOG=info|debug.
func logger() *slog.Logger {
	level := slog.LevelWarn
	switch strings.ToLower(os.Getenv("STUDIO_TESTENV_LOG")) {
	case "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "off":
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Close stops the private stack (if one was started) and deletes its folder. Later
// calls to Stack fail. Main calls it; it is safe to call more than once.
func Close() error {
	shared.once.Do(func() {}) // a Stack after Close must not start a new one
	shared.mu.Lock()
	st, dir := shared.stack, shared.dir
	shared.stack, shared.dir = nil, ""
	if shared.err == nil {
		shared.err = errors.New("testenv: stack closed")
	}
	shared.mu.Unlock()
	var err error
	if st != nil {
		err = st.Close()
	}
	if dir != "" {
		removeStackDir(dir)
	}
	return err
}

// Main runs the tests, then closes the stack: use it as TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := Close(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: close stack: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func removeStackDir(dir string) {
	_ = os.RemoveAll(devstack.FallbackPostgresDir(dir))
	_ = os.RemoveAll(dir)
}

// collectGarbage removes /tmp/studio-testenv-* folders left by test processes that
// exited without Main.
func collectGarbage(log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join("/tmp", dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			// Being created right now, or broken: only collect when old.
			if fi, serr := os.Stat(dir); serr == nil && time.Since(fi.ModTime()) > time.Hour {
				removeStackDir(dir)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // owner alive
		}
		log.Debug("testenv: removing stale stack folder", "dir", dir, "pid", pid)
		removeStackDir(dir)
	}
}

// Database creates a fresh, empty database on the stack's PostgreSQL and returns its
// URL. The database is dropped (open connections terminated) when the test ends.
func Database(t testing.TB) string {
	t.Helper()
	st := Stack(t)
	if st.DatabaseURL == "" {
		t.Fatalf("testenv: stack has no PostgreSQL")
	}
	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, err := devstack.CreateDatabase(ctx, st.DatabaseURL, name)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := devstack.DropDatabase(ctx, st.DatabaseURL, name); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return url
}

// databaseName is "t_<sanitised test name>_<random>", at most 63 bytes.
func databaseName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	base := b.String()
	if len(base) > 40 {
		base = base[:40]
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return "t_" + base + "_" + hex.EncodeToString(rnd[:])
}

// Neo4j returns the Bolt URL of the stack's Neo4j (bolt://[user:password@]host:port).
// The database is shared by every test: scope the data a test writes.
func Neo4j(t testing.TB) string {
	t.Helper()
	st := Stack(t)
	if st.Neo4jURL == "" {
		t.Fatalf("testenv: stack has no Neo4j")
	}
	return st.Neo4jURL
}

// S3 is how to reach the stack's S3 server (MinIO) and one bucket on it.
type S3 struct {
	URL       string // http://host:port
	AccessKey string
	SecretKey string
	Bucket    string
}

// Bucket creates a fresh, empty bucket on the stack's MinIO. The bucket and every object
// in it are removed when the test ends.
func Bucket(t testing.TB) S3 {
	t.Helper()
	st := Stack(t)
	if st.S3URL == "" {
		t.Fatalf("testenv: stack has no S3 server")
	}
	client, err := devstack.S3Client(st.S3URL, st.S3AccessKey, st.S3SecretKey)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// Bucket names: 3-63 characters of [a-z0-9-].
	name := strings.ReplaceAll(databaseName(t.Name()), "_", "-")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := client.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("testenv: create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := client.RemoveBucketWithOptions(ctx, name, minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
			t.Errorf("testenv: remove bucket %s: %v", name, err)
		}
	})
	return S3{URL: st.S3URL, AccessKey: st.S3AccessKey, SecretKey: st.S3SecretKey, Bucket: name}
}
