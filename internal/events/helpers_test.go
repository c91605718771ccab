package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A subgraph's own migrations: a state table, and an effect log where every
// committed handler run leaves a row (so a second effect would show).
var appMigrations = fstest.MapFS{
	"0001_widgets.sql": {Data: []byte(`
CREATE TABLE widgets (id uuid PRIMARY KEY, org_id uuid NOT NULL, name text NOT NULL);
CREATE TABLE effects (consumer text NOT NULL, event_id uuid NOT NULL, subject text NOT NULL, payload jsonb NOT NULL);`)},
}

const (
	waitFor = 20 * time.Second
	tick    = 10 * time.Millisecond
)

// fixture: a fresh database with the app schema (own + pipeline migrations),
// a JetStream client, and names unique to the test (subjects and consumers
// share the stack's NATS with other tests).
type fixture struct {
	pool *pgxpool.Pool
	nc   *nats.Conn
	js   jetstream.JetStream
	sg   string // subgraph token of this test's subjects
	org  uuid.UUID
}

func newFixture(t *testing.T, natsURL string, opts ...events.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, err := pg.Open(ctx, testenv.Database(t), "app", events.WithMigrations(appMigrations))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = events.EnsureStream(ctx, js, opts...)
	require.NoError(t, err)
	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	return &fixture{pool: pool, nc: nc, js: js, sg: "t" + hex.EncodeToString(rnd[:]), org: uuid.New()}
}

func (f *fixture) subject(entityVerb string) string { return "studio." + f.sg + "." + entityVerb }

// createWidget inserts a widget and its event in one transaction.
func (f *fixture) createWidget(t *testing.T, name string) events.Event {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	ev, err := events.New(f.subject("widget.created"), f.org, map[string]string{"id": id.String(), "name": name})
	require.NoError(t, err)
	require.NoError(t, pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO widgets (id, org_id, name) VALUES ($1, $2, $3)`, id, f.org, name); err != nil {
			return err
		}
		return events.Append(ctx, tx, ev)
	}))
	return ev
}

// effectHandler applies an event once (Idempotent): one effects row.
func (f *fixture) effectHandler(name string) events.Handler {
	return events.Idempotent(f.pool, name, func(ctx context.Context, tx pgx.Tx, ev events.Event) error {
		_, err := tx.Exec(ctx, `INSERT INTO effects (consumer, event_id, subject, payload) VALUES ($1, $2, $3, $4)`,
			name, ev.ID, ev.Subject, string(ev.Payload))
		return err
	})
}

func (f *fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// effects returns how many times consumer's effect was applied for event id.
func (f *fixture) effects(t *testing.T, consumer string, id uuid.UUID) int {
	return f.count(t, `SELECT count(*) FROM effects WHERE consumer = $1 AND event_id = $2`, consumer, id)
}

// storedCopies returns how many messages the stream holds on subject.
func (f *fixture) storedCopies(t *testing.T, subject string) uint64 {
	t.Helper()
	s, err := f.js.Stream(context.Background(), events.DefaultStream)
	require.NoError(t, err)
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	require.NoError(t, err)
	return info.State.Subjects[subject]
}

// background runs fn until the test ends (cancel, then wait for it to return).
func background(t *testing.T, fn func(ctx context.Context) error) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return cancel
}

// natsServer is a test's own embedded nats-server with JetStream on a temp
// store, which it can stop and start again on the same port and store.
type natsServer struct {
	opts *server.Options
	ns   *server.Server
	url  string
}

func startNATS(t *testing.T) *natsServer {
	t.Helper()
	s := &natsServer{opts: &server.Options{
		ServerName: "events-test",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoSigs:     true,
		NoLog:      true,
	}}
	s.start(t)
	s.opts.Port = s.ns.Addr().(*net.TCPAddr).Port
	s.url = s.ns.ClientURL()
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) start(t *testing.T) {
	t.Helper()
	ns, err := server.NewServer(s.opts.Clone())
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second), "nats-server not ready")
	s.ns = ns
}

func (s *natsServer) stop() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
