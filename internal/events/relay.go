package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Message headers set by the relay (besides Nats-Msg-Id, the event id).
const (
	HeaderOrganization = "Studio-Organization-Id"
	HeaderOccurredAt   = "Studio-Occurred-At"
)

// Relay publishes a schema's outbox to JetStream. Several relays may run on
// the same schema (rows are claimed with FOR UPDATE SKIP LOCKED); one relay
// publishes in outbox order.
type Relay struct {
	pool *pgxpool.Pool
	js   jetstream.JetStream
	o    options

	pruneMu   sync.Mutex
	lastPrune time.Time
}

// NewRelay returns a relay for the outbox in pool's schema (the pool's
// search_path, as pg.Open sets it). Options: WithBatchSize,
// WithPollInterval, WithPublishTimeout, WithBackoff, WithRetention,
// WithoutListen, WithLogger, WithMetrics.
func NewRelay(pool *pgxpool.Pool, js jetstream.JetStream, opts ...Option) *Relay {
	return &Relay{pool: pool, js: js, o: buildOptions(opts)}
}

// Run publishes until ctx ends, then returns nil. It wakes on a NOTIFY from
// the outbox's trigger (unless WithoutListen), every poll interval, and right
// away while full batches keep coming; after a failure (PostgreSQL or NATS
// unreachable) it waits with exponential backoff and tries again.
func (r *Relay) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	if r.o.listen {
		wg.Go(func() { r.listen(ctx, wake) })
	}
	defer wg.Wait()
	failures := 0
	for {
		n, err := r.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait, woken := r.o.pollInterval, (<-chan struct{})(wake)
		switch {
		case err != nil:
			failures++
			wait, woken = r.o.backoff(failures), nil // a notification must not defeat the backoff
			r.o.log.Warn("events: relay failed, retrying", "error", err, "published", n, "failures", failures, "retry_in", wait)
		case n == r.o.batch:
			failures = 0
			continue // more rows may be waiting
		default:
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-woken:
			t.Stop()
		case <-t.C:
		}
	}
}

type outboxRow struct {
	seq int64
	ev  Event
}

// RunOnce claims up to a batch of unsent rows, publishes them in order, each
// with its event id as Nats-Msg-Id, waiting for each PubAck, and marks the
// acknowledged ones sent in the same transaction as the claim. It stops at
// the first failed publish (recorded on the row; the rest stay for the next
// batch) and returns how many were published. Anything interrupting it after
// a publish and before the commit leaves the rows unsent: they are published
// again, and JetStream drops the copy within the duplicate window.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("events: relay begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	rows, err := tx.Query(ctx, `SELECT seq, id, subject, organization_id, payload, occurred_at
		FROM `+OutboxTable+` WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`, r.o.batch)
	if err != nil {
		return 0, fmt.Errorf("events: relay claim: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		err := row.Scan(&o.seq, &o.ev.ID, &o.ev.Subject, &o.ev.OrganizationID, &o.ev.Payload, &o.ev.OccurredAt)
		return o, err
	})
	if err != nil {
		return 0, fmt.Errorf("events: relay claim: %w", err)
	}
	if len(batch) == 0 {
		r.o.metrics.outboxLag.Set(0)
		return 0, tx.Commit(ctx)
	}

	var sent []int64
	var ids []uuid.UUID
	var pubErr error
	for _, row := range batch {
		if err := r.publish(ctx, row.ev); err != nil {
			r.o.metrics.failed.Inc()
			pubErr = fmt.Errorf("events: publish %s %s: %w", row.ev.Subject, row.ev.ID, err)
			if _, err := tx.Exec(ctx, `UPDATE `+OutboxTable+` SET attempts = attempts + 1, last_error = $2 WHERE seq = $1`,
				row.seq, truncate(pubErr.Error(), 1000)); err != nil {
				return 0, errors.Join(pubErr, fmt.Errorf("events: relay record failure: %w", err))
			}
			break
		}
		sent = append(sent, row.seq)
		ids = append(ids, row.ev.ID)
	}
	if len(sent) > 0 {
		if r.o.afterPublish != nil {
			if err := r.o.afterPublish(ctx, ids); err != nil {
				return 0, err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE `+OutboxTable+` SET sent_at = now() WHERE seq = ANY($1)`, sent); err != nil {
			return 0, fmt.Errorf("events: relay mark sent: %w", err)
		}
	}
	var lag float64
	if err := tx.QueryRow(ctx, `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8
		FROM (SELECT occurred_at FROM `+OutboxTable+` WHERE sent_at IS NULL ORDER BY seq LIMIT 1) oldest`).Scan(&lag); err != nil {
		return 0, fmt.Errorf("events: relay lag: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("events: relay commit: %w", err)
	}
	r.o.metrics.outboxLag.Set(lag)
	r.o.log.Debug("events: relay published", "count", len(sent))
	r.prune(ctx)
	return len(sent), pubErr
}

func (r *Relay) publish(ctx context.Context, ev Event) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.publishTimeout)
	defer cancel()
	msg := &nats.Msg{Subject: ev.Subject, Data: ev.Payload, Header: nats.Header{}}
	msg.Header.Set(HeaderOrganization, ev.OrganizationID.String())
	msg.Header.Set(HeaderOccurredAt, ev.OccurredAt.UTC().Format(time.RFC3339Nano))
	ack, err := r.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID.String()))
	if err != nil {
		return err
	}
	r.o.metrics.published.Inc()
	if ack.Duplicate {
		r.o.metrics.duplicates.Inc()
	}
	return nil
}

// prune deletes sent rows older than the retention, at most once a minute and
// 1000 rows at a time.
func (r *Relay) prune(ctx context.Context) {
	if r.o.retention <= 0 {
		return
	}
	r.pruneMu.Lock()
	due := time.Since(r.lastPrune) >= time.Minute
	if due {
		r.lastPrune = time.Now()
	}
	r.pruneMu.Unlock()
	if !due {
		return
	}
	if _, err := r.pool.Exec(ctx, `DELETE FROM `+OutboxTable+` WHERE seq IN (SELECT seq FROM `+OutboxTable+`
		WHERE sent_at < now() - $1::interval ORDER BY sent_at LIMIT 1000)`, r.o.retention); err != nil && ctx.Err() == nil {
		r.o.log.Warn("events: relay prune", "error", err)
	}
}

// listen wakes the relay on the outbox trigger's notifications, reconnecting
// with backoff when the connection breaks.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	failures := 0
	for {
		err := r.listenOnce(ctx, wake, func() { failures = 0 })
		if ctx.Err() != nil {
			return
		}
		failures++
		wait := r.o.backoff(failures)
		r.o.log.Warn("events: relay listen failed, polling meanwhile", "error", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context, wake chan<- struct{}, listening func()) error {
	cc := r.pool.Config().ConnConfig.Copy()
	cc.Tracer = nil // a long-lived listener is no query to count
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{notifyChannel(schema)}.Sanitize()); err != nil {
		return err
	}
	listening()
	for {
		signal(wake) // also once after LISTEN: rows committed before it were not notified
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
	}
}

// notifyChannel is the channel the outbox trigger notifies (see the migration).
func notifyChannel(schema string) string { return "studio_events_" + schema }

func signal(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
