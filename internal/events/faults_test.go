package events_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/testenv"
)

var errKilled = errors.New("relay killed after the PubAck, before marking the rows sent")

// killedRelay runs a relay that dies (its Run context cancelled) right after
// the PubAcks of its first batch, before the UPDATE marking the rows sent.
func killedRelay(t *testing.T, f *fixture, opts ...events.Option) []uuid.UUID {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var published []uuid.UUID
	relay := events.NewRelay(f.pool, f.js, append(opts, events.WithAfterPublish(func(_ context.Context, ids []uuid.UUID) error {
		published = ids
		cancel()
		return errKilled
	}))...)
	require.NoError(t, relay.Run(ctx))
	return published
}

// (b) The relay stops between publish and mark; restarted, it publishes the
// event again, JetStream drops the copy, and the consumer's effect happens once.
func TestRelayStoppedBetweenPublishAndMark(t *testing.T) {
	f := newFixture(t, testenv.Stack(t).NatsURL)
	m, err := events.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	ev := f.createWidget(t, "published, not marked")

	require.Equal(t, []uuid.UUID{ev.ID}, killedRelay(t, f, events.WithMetrics(m)))
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM events_outbox WHERE sent_at IS NULL`), "not marked sent")
	require.Equal(t, uint64(1), f.storedCopies(t, ev.Subject), "but published")

	background(t, events.NewRelay(f.pool, f.js, events.WithMetrics(m)).Run)
	require.Eventually(t, func() bool {
		return f.count(t, `SELECT count(*) FROM events_outbox WHERE sent_at IS NULL`) == 0
	}, waitFor, tick)
	require.Equal(t, 2.0, testutil.ToFloat64(m.Published()))
	require.Equal(t, 1.0, testutil.ToFloat64(m.PublishDuplicates()), "the second publish was a duplicate")
	require.Equal(t, uint64(1), f.storedCopies(t, ev.Subject), "JetStream kept one copy")

	name := "once-" + f.sg
	background(t, func(ctx context.Context) error {
		return events.Consume(ctx, f.js, name, []string{ev.Subject}, f.effectHandler(name))
	})
	require.Eventually(t, func() bool { return f.effects(t, name, ev.ID) == 1 }, waitFor, tick)
}

// (b, past the duplicate window) When the relay restarts after JetStream
// forgot the id, the stream holds two copies; the consumer's processed-events
// record keeps the effect to one.
func TestRepublishAfterTheDuplicateWindowHasOneEffect(t *testing.T) {
	const window = 100 * time.Millisecond // the server's minimum
	f := newFixture(t, startNATS(t).url, events.WithDuplicateWindow(window))
	ev := f.createWidget(t, "published twice")

	// Killed relays publish until a copy is stored past the window.
	require.Eventually(t, func() bool {
		require.Equal(t, []uuid.UUID{ev.ID}, killedRelay(t, f))
		return f.storedCopies(t, ev.Subject) == 2
	}, waitFor, window/2)
	published, err := events.NewRelay(f.pool, f.js).RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, published)

	name := "twice-" + f.sg
	var mu sync.Mutex
	calls := 0
	effect := f.effectHandler(name)
	background(t, func(ctx context.Context) error {
		return events.Consume(ctx, f.js, name, []string{ev.Subject}, func(ctx context.Context, ev events.Event) error {
			mu.Lock()
			calls++
			mu.Unlock()
			return effect(ctx, ev)
		})
	})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls >= 2
	}, waitFor, tick)
	require.Equal(t, 1, f.effects(t, name, ev.ID))
}

// (b, consumer side) A consumer that committed its effect but died before
// acking gets the event again and applies it no second time.
func TestConsumerStoppedBetweenEffectAndAck(t *testing.T) {
	f := newFixture(t, testenv.Stack(t).NatsURL)
	background(t, events.NewRelay(f.pool, f.js).Run)
	ev := f.createWidget(t, "effect committed, ack lost")

	name := "lost-ack-" + f.sg
	var mu sync.Mutex
	calls := 0
	effect := f.effectHandler(name)
	background(t, func(ctx context.Context) error {
		return events.Consume(ctx, f.js, name, []string{ev.Subject}, func(ctx context.Context, ev events.Event) error {
			if err := effect(ctx, ev); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 1 {
				return errors.New("stopped after the commit, before the ack")
			}
			return nil
		}, events.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls == 2
	}, waitFor, tick)
	require.Equal(t, 1, f.effects(t, name, ev.ID))
}

// (c) NATS stops and restarts: the relay keeps retrying with backoff, and
// every event arrives with exactly one effect.
func TestNATSStoppedAndRestarted(t *testing.T) {
	ns := startNATS(t)
	f := newFixture(t, ns.url)
	m, err := events.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	fast := []events.Option{events.WithBackoff(20*time.Millisecond, 200*time.Millisecond), events.WithMetrics(m)}
	background(t, events.NewRelay(f.pool, f.js, append(fast, events.WithPublishTimeout(300*time.Millisecond))...).Run)
	name := "survivor-" + f.sg
	background(t, func(ctx context.Context) error {
		return events.Consume(ctx, f.js, name, []string{"studio." + f.sg + ".>"}, f.effectHandler(name), fast...)
	})

	before := f.createWidget(t, "before")
	require.Eventually(t, func() bool { return f.effects(t, name, before.ID) == 1 }, waitFor, tick)

	ns.stop()
	during := f.createWidget(t, "during")
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(m.PublishFailures()) >= 2 &&
			f.count(t, `SELECT attempts FROM events_outbox WHERE id = $1`, during.ID) >= 2
	}, waitFor, tick, "the relay retries while NATS is down")
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.OutboxLag()) > 0 }, waitFor, tick)
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM events_outbox WHERE sent_at IS NULL`))

	ns.start(t)
	after := f.createWidget(t, "after")
	require.Eventually(t, func() bool {
		return f.effects(t, name, during.ID) == 1 && f.effects(t, name, after.ID) == 1
	}, waitFor, tick)
	require.Eventually(t, func() bool {
		return f.count(t, `SELECT count(*) FROM events_outbox WHERE sent_at IS NULL`) == 0
	}, waitFor, tick)
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.OutboxLag()) == 0 }, waitFor, tick)
	for _, ev := range []events.Event{before, during, after} {
		require.Equal(t, 1, f.effects(t, name, ev.ID), ev.Subject)
		require.LessOrEqual(t, f.storedCopies(t, ev.Subject), uint64(3))
	}
}
