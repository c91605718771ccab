package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/testenv"
)

func TestEventValidation(t *testing.T) {
	org := uuid.New()
	_, err := events.New("studio.compliance.evidence.submitted", org, map[string]int{"n": 1})
	require.NoError(t, err)

	for _, subject := range []string{
		"", "studio.compliance.evidence", "studio.compliance.evidence.submitted.extra", "other.compliance.evidence.submitted",
		"studio.Compliance.evidence.submitted", "studio.dlq.evidence.submitted", "studio.compliance.*.submitted",
		"studio.compliance.evidence." + strings.Repeat("x", 64),
	} {
		_, err := events.New(subject, org, nil)
		require.ErrorIs(t, err, events.ErrBadSubject, subject)
		require.False(t, events.ValidSubject(subject), subject)
	}
	_, err = events.New("studio.compliance.evidence.submitted", uuid.Nil, nil)
	require.ErrorIs(t, err, events.ErrNoOrg)
	_, err = events.New("studio.compliance.evidence.submitted", org, strings.Repeat("x", events.MaxPayload))
	require.ErrorIs(t, err, events.ErrPayloadTooBig)
	err = events.Event{ID: uuid.New(), Subject: "studio.a.b.c", OrganizationID: org, Payload: []byte("{")}.Validate()
	require.ErrorIs(t, err, events.ErrBadPayload)
	err = events.Event{Subject: "studio.a.b.c", OrganizationID: org, Payload: []byte("{}")}.Validate()
	require.ErrorIs(t, err, events.ErrNoID)
}

func TestBackoffDoublesUpToTheMaximum(t *testing.T) {
	opt := events.WithBackoff(100*time.Millisecond, time.Second)
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, events.Backoff(n, opt))
	}
	ms := time.Millisecond
	require.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}, got)
	require.Equal(t, time.Second, events.Backoff(1), "default: 1 s")
	require.Equal(t, time.Minute, events.Backoff(1000), "default: at most 1 min")
}

// (a) A state change and its event commit together or not at all.
func TestAppendCommitsOrRollsBackWithTheStateChange(t *testing.T) {
	f := newFixture(t, testenv.Stack(t).NatsURL)
	ctx := context.Background()

	// Both migrations are applied in the app schema, recorded by file name.
	require.Equal(t, 2, f.count(t, `SELECT count(*) FROM schema_migrations WHERE version IN ('0001_widgets.sql', 'events_0001_outbox.sql')`))

	ev, err := events.New(f.subject("widget.created"), f.org, map[string]string{"name": "rolled back"})
	require.NoError(t, err)
	boom := errors.New("boom")
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO widgets (id, org_id, name) VALUES ($1, $2, 'rolled back')`, uuid.New(), f.org); err != nil {
			return err
		}
		if err := events.Append(ctx, tx, ev); err != nil {
			return err
		}
		return boom // the state change fails after the event was written
	})
	require.ErrorIs(t, err, boom)
	require.Zero(t, f.count(t, `SELECT count(*) FROM widgets`))
	require.Zero(t, f.count(t, `SELECT count(*) FROM events_outbox`))

	// An invalid event aborts the state change too.
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO widgets (id, org_id, name) VALUES ($1, $2, 'bad event')`, uuid.New(), f.org); err != nil {
			return err
		}
		return events.Append(ctx, tx, events.Event{ID: uuid.New(), Subject: "widget created", OrganizationID: f.org, Payload: []byte(`{}`)})
	})
	require.ErrorIs(t, err, events.ErrBadSubject)
	require.Zero(t, f.count(t, `SELECT count(*) FROM widgets`))

	committed := f.createWidget(t, "committed")
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM widgets`))
	var subject, payload string
	var org uuid.UUID
	var sent *time.Time
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT subject, organization_id, payload::text, sent_at FROM events_outbox WHERE id = $1`,
		committed.ID).Scan(&subject, &org, &payload, &sent))
	require.Equal(t, committed.Subject, subject)
	require.Equal(t, f.org, org)
	require.JSONEq(t, string(committed.Payload), payload)
	require.Nil(t, sent)

	// The same event id cannot be appended twice.
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error { return events.Append(ctx, tx, committed) })
	require.ErrorContains(t, err, "duplicate key")
}

// The pipeline end to end: outbox → relay (woken by NOTIFY) → JetStream →
// durable consumer → effect in PostgreSQL; metrics count what happened.
func TestRelayPublishesAndConsumerApplies(t *testing.T) {
	f := newFixture(t, testenv.Stack(t).NatsURL)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m, err := events.NewMetrics(reg)
	require.NoError(t, err)

	// A poll interval longer than the test: only the NOTIFY can wake the relay.
	relay := events.NewRelay(f.pool, f.js, events.WithPollInterval(time.Hour), events.WithMetrics(m))
	background(t, relay.Run)
	name := "projection-" + f.sg
	var mu sync.Mutex
	var got []events.Event
	handler := f.effectHandler(name)
	background(t, func(ctx context.Context) error {
		return events.Consume(ctx, f.js, name, []string{"studio." + f.sg + ".>"}, func(ctx context.Context, ev events.Event) error {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
			return handler(ctx, ev)
		}, events.WithMetrics(m))
	})

	var sent []events.Event
	for _, n := range []string{"one", "two", "three"} {
		sent = append(sent, f.createWidget(t, n))
	}
	require.Eventually(t, func() bool {
		return f.count(t, `SELECT count(*) FROM effects WHERE consumer = $1`, name) == 3
	}, waitFor, tick)
	for _, ev := range sent {
		require.Equal(t, 1, f.effects(t, name, ev.ID))
	}
	require.Eventually(t, func() bool {
		return f.count(t, `SELECT count(*) FROM events_outbox WHERE sent_at IS NULL`) == 0
	}, waitFor, tick)

	// What the consumer saw is what was appended, in outbox order.
	mu.Lock()
	require.Len(t, got, 3)
	for i, ev := range got {
		require.Equal(t, sent[i].ID, ev.ID)
		require.Equal(t, sent[i].Subject, ev.Subject)
		require.Equal(t, f.org, ev.OrganizationID)
		require.JSONEq(t, string(sent[i].Payload), string(ev.Payload))
		require.WithinDuration(t, sent[i].OccurredAt, ev.OccurredAt, time.Microsecond)
	}
	mu.Unlock()

	require.Equal(t, 3.0, testutil.ToFloat64(m.Published()))
	require.Zero(t, testutil.ToFloat64(m.PublishFailures()))
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.Consumed(name, "acked")) == 3 }, waitFor, tick)
	n, err := testutil.GatherAndCount(reg, "studio_events_published_total", "studio_events_outbox_lag_seconds", "studio_events_consumed_total")
	require.NoError(t, err)
	require.Equal(t, 3, n)

	// Nothing left: a RunOnce finds no row.
	published, err := events.NewRelay(f.pool, f.js).RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, published)
}

// Sent rows older than the retention are deleted by the relay; unsent rows never are.
func TestRelayPrunesSentRows(t *testing.T) {
	ns := startNATS(t)
	f := newFixture(t, ns.url)
	ctx := context.Background()
	kept := f.createWidget(t, "kept")
	n, err := events.NewRelay(f.pool, f.js, events.WithRetention(0)).RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM events_outbox WHERE id = $1 AND sent_at IS NOT NULL`, kept.ID), "retention 0 keeps sent rows")

	ns.stop() // the next event cannot be sent
	unsent := f.createWidget(t, "unsent")
	n, err = events.NewRelay(f.pool, f.js, events.WithRetention(time.Nanosecond), events.WithPublishTimeout(100*time.Millisecond)).RunOnce(ctx)
	require.Error(t, err)
	require.Zero(t, n)
	require.Zero(t, f.count(t, `SELECT count(*) FROM events_outbox WHERE id = $1`, kept.ID), "pruned")
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM events_outbox WHERE id = $1 AND sent_at IS NULL AND attempts = 1`, unsent.ID))
}

// Several relays on one outbox share the rows (FOR UPDATE SKIP LOCKED): each
// event is published once, none is left behind.
func TestRelaysShareTheOutbox(t *testing.T) {
	f := newFixture(t, testenv.Stack(t).NatsURL)
	ctx := context.Background()
	m, err := events.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	const total = 120
	require.NoError(t, pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		for i := range total {
			ev, err := events.New(f.subject("widget.created"), f.org, map[string]int{"n": i})
			if err != nil {
				return err
			}
			if err := events.Append(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	}))
	for range 3 {
		background(t, events.NewRelay(f.pool, f.js, events.WithBatchSize(7), events.WithMetrics(m)).Run)
	}
	require.Eventually(t, func() bool {
		return f.count(t, `SELECT count(*) FROM events_outbox WHERE sent_at IS NULL`) == 0
	}, waitFor, tick)
	require.Equal(t, float64(total), testutil.ToFloat64(m.Published()))
	require.Zero(t, testutil.ToFloat64(m.PublishDuplicates()), "no row was claimed twice")
	require.Equal(t, uint64(total), f.storedCopies(t, f.subject("widget.created")))
}

// Idempotent forgets processed events older than the stream keeps messages.
func TestIdempotentPrunesOldRecords(t *testing.T) {
	f := newFixture(t, testenv.Stack(t).NatsURL)
	ctx := context.Background()
	old, recent := uuid.New(), uuid.New()
	_, err := f.pool.Exec(ctx, `INSERT INTO events_processed (consumer, event_id, processed_at)
		VALUES ('pruner', $1, now() - interval '2 hours'), ('pruner', $2, now() - interval '30 minutes'), ('other', $1, now() - interval '2 hours')`, old, recent)
	require.NoError(t, err)
	h := events.Idempotent(f.pool, "pruner", func(context.Context, pgx.Tx, events.Event) error { return nil }, events.WithMaxAge(time.Hour))
	ev, err := events.New(f.subject("widget.created"), f.org, nil)
	require.NoError(t, err)
	require.NoError(t, h(ctx, ev))
	rows, err := f.pool.Query(ctx, `SELECT consumer || ' ' || event_id FROM events_processed ORDER BY 1`)
	require.NoError(t, err)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"other " + old.String(), "pruner " + recent.String(), "pruner " + ev.ID.String()}, left)
}

// (d) A handler failing twice is retried with a growing delay and then
// succeeds; a poison message ends on the dead-letter subject with the reason.
func TestConsumerRetriesWithBackoffThenDeadLetters(t *testing.T) {
	f := newFixture(t, startNATS(t).url) // its own server: a consumer of all of studio.> below
	ctx := context.Background()
	m, err := events.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	background(t, events.NewRelay(f.pool, f.js, events.WithPollInterval(20*time.Millisecond)).Run)

	const base = 100 * time.Millisecond
	name := "flaky-" + f.sg
	var mu sync.Mutex
	calls := map[uuid.UUID][]time.Time{}
	effect := f.effectHandler(name)
	background(t, func(ctx context.Context) error {
		return events.Consume(ctx, f.js, name, []string{"studio." + f.sg + ".>"}, func(ctx context.Context, ev events.Event) error {
			mu.Lock()
			calls[ev.ID] = append(calls[ev.ID], time.Now())
			n := len(calls[ev.ID])
			mu.Unlock()
			var p struct{ Name string }
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				return events.Permanent(err)
			}
			switch {
			case p.Name == "poison":
				return errors.New("cannot apply poison")
			case p.Name == "permanent":
				return events.Permanent(errors.New("refused for good"))
			case p.Name == "flaky" && n <= 2:
				return errors.New("not yet")
			}
			return effect(ctx, ev)
		}, events.WithBackoff(base, time.Second), events.WithMaxDeliver(3), events.WithMetrics(m))
	})

	flaky := f.createWidget(t, "flaky")
	require.Eventually(t, func() bool { return f.effects(t, name, flaky.ID) == 1 }, waitFor, tick)
	mu.Lock()
	at := calls[flaky.ID]
	mu.Unlock()
	require.Len(t, at, 3)
	require.GreaterOrEqual(t, at[1].Sub(at[0]), base, "first retry after the base delay")
	require.GreaterOrEqual(t, at[2].Sub(at[1]), 2*base, "second retry after twice the base delay")
	require.Equal(t, 2.0, testutil.ToFloat64(m.Consumed(name, "retried")))

	dlq := events.DeadLetterSubject(name)
	require.Equal(t, "studio.dlq."+name, dlq)
	stream, err := f.js.Stream(ctx, events.DefaultStream)
	require.NoError(t, err)
	lastDead := func() *jetstream.RawStreamMsg {
		msg, err := stream.GetLastMsgForSubject(ctx, dlq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		require.NoError(t, err)
		return msg
	}

	poison := f.createWidget(t, "poison")
	require.Eventually(t, func() bool {
		msg := lastDead()
		return msg != nil && msg.Header.Get(events.HeaderEventID) == poison.ID.String()
	}, waitFor, tick)
	msg := lastDead()
	require.Equal(t, "3", msg.Header.Get(events.HeaderDeadDeliveries))
	require.Equal(t, "cannot apply poison", msg.Header.Get(events.HeaderDeadReason))
	require.Equal(t, poison.Subject, msg.Header.Get(events.HeaderDeadSubject))
	require.Equal(t, name, msg.Header.Get(events.HeaderDeadConsumer))
	require.Equal(t, f.org.String(), msg.Header.Get(events.HeaderOrganization))
	require.JSONEq(t, string(poison.Payload), string(msg.Data))
	mu.Lock()
	require.Len(t, calls[poison.ID], 3)
	mu.Unlock()
	require.Zero(t, f.effects(t, name, poison.ID))

	permanent := f.createWidget(t, "permanent")
	require.Eventually(t, func() bool {
		msg := lastDead()
		return msg != nil && msg.Header.Get(events.HeaderEventID) == permanent.ID.String()
	}, waitFor, tick)
	msg = lastDead()
	require.Equal(t, "1", msg.Header.Get(events.HeaderDeadDeliveries))
	require.Equal(t, "refused for good", msg.Header.Get(events.HeaderDeadReason))

	// A message that is not an event (no id, organization or time) never
	// reaches the handler.
	_, err = f.js.Publish(ctx, f.subject("widget.created"), []byte(`not even JSON`))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		msg := lastDead()
		return msg != nil && strings.HasPrefix(msg.Header.Get(events.HeaderDeadReason), "malformed event:")
	}, waitFor, tick)
	// The counter moves just after the dead letter is published: wait for it.
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.Consumed(name, "dead_lettered")) == 3 }, waitFor, tick)

	// Dead letters, a page at a time.
	page, err := events.DeadLetters(ctx, f.js, name, 0, 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, []string{poison.ID.String(), permanent.ID.String()}, []string{page[0].EventID, page[1].EventID})
	require.Equal(t, events.DeadLetter{Seq: page[0].Seq, At: page[0].At, Consumer: name, Subject: poison.Subject,
		EventID: poison.ID.String(), OrganizationID: f.org.String(), Reason: "cannot apply poison", Deliveries: 3,
		Payload: page[0].Payload}, page[0])
	require.JSONEq(t, string(poison.Payload), string(page[0].Payload))
	page, err = events.DeadLetters(ctx, f.js, name, page[1].Seq, 2)
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.JSONEq(t, `"not even JSON"`, string(page[0].Payload), "kept as a JSON string")
	last := page[0].Seq
	page, err = events.DeadLetters(ctx, f.js, name, last, 2)
	require.NoError(t, err)
	require.Empty(t, page)

	// A consumer of everything never sees a dead letter (and may not ask for them).
	background(t, func(ctx context.Context) error {
		return events.Consume(ctx, f.js, "everything", []string{"studio.>"}, func(ctx context.Context, ev events.Event) error {
			if strings.HasPrefix(ev.Subject, "studio.dlq.") {
				return events.Permanent(errors.New("a dead letter reached a handler"))
			}
			return nil
		}, events.WithMetrics(m))
	})
	// It acks the three events, dead-letters the malformed message itself, and
	// skips the four dead letters (three of flaky's consumer, one of its own).
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.Consumed("everything", "skipped")) == 4 }, waitFor, tick)
	require.Equal(t, 3.0, testutil.ToFloat64(m.Consumed("everything", "acked")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.Consumed("everything", "dead_lettered")))
	err = events.Consume(ctx, f.js, "dead", []string{dlq}, func(context.Context, events.Event) error { return nil })
	require.ErrorIs(t, err, events.ErrBadConsumer)
}

// (e) Replay: deleting the durable consumer re-delivers the whole stream to
// the recreated one, and the projection is rebuilt equal to the first.
func TestReplayRebuildsTheProjection(t *testing.T) {
	f := newFixture(t, testenv.Stack(t).NatsURL)
	ctx := context.Background()
	background(t, events.NewRelay(f.pool, f.js).Run)

	name := "replay-" + f.sg
	var deliveries sync.Map // event id → count
	handler := f.effectHandler(name)
	background(t, func(ctx context.Context) error {
		return events.Consume(ctx, f.js, name, []string{"studio." + f.sg + ".>"}, func(ctx context.Context, ev events.Event) error {
			n, _ := deliveries.LoadOrStore(ev.ID, new(int))
			*n.(*int)++
			return handler(ctx, ev)
		}, events.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	})
	var sent []events.Event
	for _, n := range []string{"a", "b", "c", "d"} {
		sent = append(sent, f.createWidget(t, n))
	}
	projection := func() []string {
		rows, err := f.pool.Query(ctx, `SELECT event_id::text FROM effects WHERE consumer = $1 ORDER BY event_id`, name)
		require.NoError(t, err)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return ids
	}
	require.Eventually(t, func() bool { return len(projection()) == len(sent) }, waitFor, tick)
	first := projection()

	// Rebuild: clear the projection and forget the processed ids together,
	// then reset the consumer; the running Consume recreates it.
	require.NoError(t, pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM effects WHERE consumer = $1`, name); err != nil {
			return err
		}
		return events.ForgetProcessed(ctx, tx, name)
	}))
	require.NoError(t, events.Replay(ctx, f.js, name))
	require.Eventually(t, func() bool { return len(projection()) == len(sent) }, waitFor, tick)
	require.Equal(t, first, projection())
	for _, ev := range sent {
		n, ok := deliveries.Load(ev.ID)
		require.True(t, ok)
		require.Equal(t, 2, *n.(*int), "delivered once per build")
	}
	// Replaying a consumer that does not exist is not an error.
	require.NoError(t, events.Replay(ctx, f.js, "never-created-"+f.sg))
}

// EnsureStream and Consume create what is missing and send no update when
// nothing changed; a changed setting is one update.
func TestEnsureStreamAndConsumerSendNoNeedlessUpdates(t *testing.T) {
	ns := startNATS(t)
	ctx := context.Background()
	nc, err := nats.Connect(ns.url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)

	var mu sync.Mutex
	requests := map[string]int{}
	sub, err := nc.Subscribe("$JS.API.>", func(m *nats.Msg) {
		verb := strings.Join(strings.Split(m.Subject, ".")[2:4], ".") // STREAM.CREATE, CONSUMER.CREATE, ...
		mu.Lock()
		requests[verb]++
		mu.Unlock()
	})
	require.NoError(t, err)
	count := func(verb string) int {
		require.NoError(t, nc.Flush())
		mu.Lock()
		defer mu.Unlock()
		return requests[verb]
	}

	for range 3 {
		s, err := events.EnsureStream(ctx, js)
		require.NoError(t, err)
		cfg := s.CachedInfo().Config
		require.Equal(t, []string{"studio.>"}, cfg.Subjects)
		require.Equal(t, events.DefaultDuplicateWindow, cfg.Duplicates)
	}
	require.Equal(t, 1, count("STREAM.CREATE"))
	require.Zero(t, count("STREAM.UPDATE"))

	s, err := events.EnsureStream(ctx, js, events.WithDuplicateWindow(time.Minute))
	require.NoError(t, err)
	require.Equal(t, time.Minute, s.CachedInfo().Config.Duplicates)
	_, err = events.EnsureStream(ctx, js, events.WithDuplicateWindow(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, count("STREAM.UPDATE"))

	// Starting the same consumer again creates nothing; its max-deliver is
	// counted by the client, so changing it needs no update either.
	for i := range 3 {
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- events.Consume(cctx, js, "steady", []string{"studio.x.>"}, func(context.Context, events.Event) error { return nil },
				events.WithMaxDeliver(2+i))
		}()
		require.Eventually(t, func() bool { return count("CONSUMER.MSG") > i }, waitFor, tick) // pulling
		cancel()
		require.NoError(t, <-done)
	}
	require.NoError(t, sub.Unsubscribe())
	require.Equal(t, 1, count("CONSUMER.CREATE"), "one create, no update (updates use the same API subject)")
}
