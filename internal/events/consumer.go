package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a dead letter, besides the original message's headers (its
// Nats-Msg-Id moved to HeaderEventID) and payload.
const (
	HeaderEventID          = "Studio-Event-Id"
	HeaderDeadSubject      = "Studio-Dead-Letter-Subject"
	HeaderDeadConsumer     = "Studio-Dead-Letter-Consumer"
	HeaderDeadReason       = "Studio-Dead-Letter-Reason"
	HeaderDeadDeliveries   = "Studio-Dead-Letter-Deliveries"
	HeaderDeadStreamSeq    = "Studio-Dead-Letter-Stream-Seq"
	maxConsumerSubjects    = 16
	maxDeadLetterReasonLen = 1000
)

// Handler applies one event. Returning nil acknowledges the message; an
// error has it redelivered after a backoff, up to the max-deliver count, then
// sent to the dead-letter subject; Permanent(err) sends it there at once. The
// handler's context ends at the ack wait. A message may be delivered more
// than once: a handler's effect must be idempotent by ev.ID (see Idempotent).
type Handler func(ctx context.Context, ev Event) error

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a poison message): the consumer
// dead-letters the message at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// Idempotent wraps fn so that its effect happens once per event id: fn runs in
// a transaction on pool that also records (consumer, ev.ID) in the
// processed-events table; an event already recorded is acknowledged without
// calling fn. The pool's schema must have the pipeline's migration.
//
// Records older than the stream's max age (WithMaxAge, default 30 days) are
// deleted, at most once an hour and 1000 at a time: the stream no longer holds
// their events, so they cannot be delivered again.
func Idempotent(pool *pgxpool.Pool, consumer string, fn func(ctx context.Context, tx pgx.Tx, ev Event) error, opts ...Option) Handler {
	o := buildOptions(opts)
	var mu sync.Mutex
	var lastPrune time.Time
	return func(ctx context.Context, ev Event) error {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			first, err := MarkProcessed(ctx, tx, consumer, ev.ID)
			if err != nil || !first {
				return err
			}
			return fn(ctx, tx, ev)
		})
		if err != nil || o.maxAge <= 0 {
			return err
		}
		mu.Lock()
		due := time.Since(lastPrune) >= time.Hour
		if due {
			lastPrune = time.Now()
		}
		mu.Unlock()
		if due {
			if _, err := pool.Exec(ctx, `DELETE FROM `+ProcessedTable+` WHERE (consumer, event_id) IN (
				SELECT consumer, event_id FROM `+ProcessedTable+` WHERE consumer = $1 AND processed_at < now() - $2::interval LIMIT 1000)`,
				consumer, o.maxAge); err != nil && ctx.Err() == nil {
				o.log.Warn("events: prune processed events", "consumer", consumer, "error", err)
			}
		}
		return nil
	}
}

// ErrBadConsumer is returned by Consume for an invalid name or subject list.
var ErrBadConsumer = errors.New("events: consumer name must match [a-z][a-z0-9_-]{0,63}, with 1 to 16 subjects")

var consumerName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// DeadLetterSubject is where consumer's dead letters go: <root>.<consumer>
// (root WithDeadLetterRoot, default studio.dlq).
func DeadLetterSubject(consumer string, opts ...Option) string {
	o := buildOptions(opts)
	return o.dlqRoot + "." + consumer
}

// Consume runs the durable pull consumer name on the stream (WithStream,
// default STUDIO), filtered to subjects (e.g. studio.compliance.>), calling h
// for each message one at a time, until ctx ends; then it returns nil. The
// consumer is created on first use delivering the whole stream (DeliverAll),
// with explicit acks; it is recreated the same way when deleted (Replay).
// Run several Consume calls with one name to share the work. Dead letters
// (<root>.>, in the same stream) are never handed to a handler: a consumer of
// studio.> acknowledges them unseen, and subjects under the dead-letter root
// are refused (read dead letters with a plain JetStream consumer). Options: WithMaxDeliver, WithBackoff, WithAckWait,
// WithPrefetch, WithDeadLetterRoot, WithStream, WithLogger, WithMetrics.
func Consume(ctx context.Context, js jetstream.JetStream, name string, subjects []string, h Handler, opts ...Option) error {
	o := buildOptions(opts)
	if !consumerName.MatchString(name) || len(subjects) == 0 || len(subjects) > maxConsumerSubjects {
		return fmt.Errorf("%w: %.100q, %d subjects", ErrBadConsumer, name, len(subjects))
	}
	for _, s := range subjects {
		if s == "" || len(s) > 255 || strings.ContainsAny(s, " \t\r\n") || strings.HasPrefix(s, o.dlqRoot+".") {
			return fmt.Errorf("%w: subject %.300q (dead letters are read with a plain JetStream consumer)", ErrBadConsumer, s)
		}
	}
	c := &consumer{js: js, name: name, subjects: subjects, h: h, o: o, dlq: o.dlqRoot + "." + name}
	c.log = o.log.With("consumer", name)
	failures := 0
	for {
		cons, err := c.ensure(ctx)
		if err == nil {
			err = c.run(ctx, cons)
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrConsumerDeleted) {
			c.log.Info("events: consumer deleted, recreating (replay)")
			failures = 0
			continue
		}
		if errors.Is(err, jetstream.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("events: consumer %s: %w", name, err)
		}
		failures++
		wait := o.backoff(failures)
		c.log.Warn("events: consumer failed, retrying", "error", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Replay deletes the durable consumer so that it re-reads the stream from
// the start: a running Consume recreates it (DeliverAll); otherwise the next
// Consume does. A consumer that uses Idempotent must ForgetProcessed (in the
// transaction that clears its projection) before Replay, or every event
// would be skipped as already processed.
func Replay(ctx context.Context, js jetstream.JetStream, consumer string, opts ...Option) error {
	o := buildOptions(opts)
	err := js.DeleteConsumer(ctx, o.stream, consumer)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("events: replay %s: %w", consumer, err)
	}
	o.log.Info("events: consumer reset for replay", "consumer", consumer, "stream", o.stream)
	return nil
}

type consumer struct {
	js       jetstream.JetStream
	name     string
	subjects []string
	h        Handler
	o        options
	dlq      string
	log      *slog.Logger
}

// ensure gets the durable consumer, creating it, or updating it only when
// the settings we manage differ (no needless update requests).
func (c *consumer) ensure(ctx context.Context) (jetstream.Consumer, error) {
	want := jetstream.ConsumerConfig{
		Durable:       c.name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.o.ackWait,
		MaxDeliver:    -1, // counted here, so that the last failure reaches the dead-letter subject
		MaxAckPending: 1000,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
	if len(c.subjects) == 1 {
		want.FilterSubject = c.subjects[0]
	} else {
		want.FilterSubjects = c.subjects
	}
	for range 3 {
		cons, err := c.js.Consumer(ctx, c.o.stream, c.name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			cons, err = c.js.CreateConsumer(ctx, c.o.stream, want)
			if errors.Is(err, jetstream.ErrConsumerExists) {
				continue // created concurrently with other settings: compare
			}
			if err != nil {
				return nil, fmt.Errorf("create consumer: %w", err)
			}
			c.log.Info("events: consumer created", "subjects", c.subjects)
			return cons, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get consumer: %w", err)
		}
		have := cons.CachedInfo().Config
		if consumerMatches(have, want) {
			return cons, nil
		}
		upd := have
		upd.AckWait, upd.MaxDeliver, upd.MaxAckPending = want.AckWait, want.MaxDeliver, want.MaxAckPending
		upd.FilterSubject, upd.FilterSubjects = want.FilterSubject, want.FilterSubjects
		cons, err = c.js.UpdateConsumer(ctx, c.o.stream, upd)
		if err != nil {
			return nil, fmt.Errorf("update consumer: %w", err)
		}
		c.log.Info("events: consumer updated", "subjects", c.subjects)
		return cons, nil
	}
	return nil, errors.New("consumer created and gone repeatedly")
}

func consumerMatches(have, want jetstream.ConsumerConfig) bool {
	return have.AckWait == want.AckWait && have.MaxDeliver == want.MaxDeliver &&
		have.MaxAckPending == want.MaxAckPending && have.FilterSubject == want.FilterSubject &&
		slices.Equal(have.FilterSubjects, want.FilterSubjects)
}

func (c *consumer) run(ctx context.Context, cons jetstream.Consumer) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(c.o.prefetch))
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		c.handle(ctx, msg)
	}
}

func (c *consumer) handle(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		c.log.Error("events: not a JetStream message", "error", err)
		return
	}
	c.o.metrics.pending.WithLabelValues(c.name).Set(float64(md.NumPending))
	if strings.HasPrefix(msg.Subject(), c.o.dlqRoot+".") {
		c.done(msg, "skipped")
		return
	}
	ev, err := decode(msg)
	if err != nil {
		c.deadLetter(ctx, msg, md, "malformed event: "+err.Error())
		return
	}
	if md.NumDelivered > uint64(c.o.maxDeliver) {
		c.deadLetter(ctx, msg, md, fmt.Sprintf("not acknowledged after %d deliveries (handler timed out or its process stopped)", c.o.maxDeliver))
		return
	}
	hctx, cancel := context.WithTimeout(ctx, c.o.ackWait)
	err = c.call(hctx, ev)
	cancel()
	var perm permanentError
	switch {
	case err == nil:
		c.done(msg, "acked")
	case ctx.Err() != nil:
		_ = msg.Nak() // stopping: let the next delivery try at once
	case errors.As(err, &perm) || md.NumDelivered >= uint64(c.o.maxDeliver):
		c.deadLetter(ctx, msg, md, err.Error())
	default:
		wait := c.o.backoff(int(md.NumDelivered))
		c.log.Warn("events: handler failed, retrying", "subject", ev.Subject, "event", ev.ID,
			"delivery", md.NumDelivered, "retry_in", wait, "error", err)
		c.nak(msg, wait)
	}
}

// call runs the handler, turning a panic into an error.
func (c *consumer) call(ctx context.Context, ev Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return c.h(ctx, ev)
}

func (c *consumer) done(msg jetstream.Msg, result string) {
	if err := msg.Ack(); err != nil {
		c.log.Warn("events: ack", "error", err) // redelivered; the handler's idempotency absorbs it
	}
	c.o.metrics.consumed.WithLabelValues(c.name, result).Inc()
}

func (c *consumer) nak(msg jetstream.Msg, wait time.Duration) {
	if err := msg.NakWithDelay(wait); err != nil {
		c.log.Warn("events: nak", "error", err) // redelivered after the ack wait
	}
	c.o.metrics.consumed.WithLabelValues(c.name, "retried").Inc()
}

// deadLetter publishes the message to the consumer's dead-letter subject with
// the reason, then terminates it. If the publish fails the message is retried
// later like a failed handler.
func (c *consumer) deadLetter(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, reason string) {
	dl := &nats.Msg{Subject: c.dlq, Data: msg.Data(), Header: nats.Header{}}
	for k, v := range msg.Headers() {
		if k != jetstream.MsgIDHeader {
			dl.Header[k] = slices.Clone(v)
		}
	}
	dl.Header.Set(HeaderEventID, msg.Headers().Get(jetstream.MsgIDHeader))
	dl.Header.Set(HeaderDeadSubject, msg.Subject())
	dl.Header.Set(HeaderDeadConsumer, c.name)
	dl.Header.Set(HeaderDeadReason, truncate(reason, maxDeadLetterReasonLen))
	dl.Header.Set(HeaderDeadDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	dl.Header.Set(HeaderDeadStreamSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	pctx, cancel := context.WithTimeout(ctx, c.o.publishTimeout)
	defer cancel()
	// One dead letter per stored message, even if the Term below is lost.
	_, err := c.js.PublishMsg(pctx, dl, jetstream.WithMsgID(fmt.Sprintf("dlq.%s.%d", c.name, md.Sequence.Stream)))
	if err != nil {
		wait := c.o.backoff(int(md.NumDelivered))
		c.log.Error("events: dead-letter publish failed, retrying", "subject", msg.Subject(), "error", err, "retry_in", wait)
		c.nak(msg, wait)
		return
	}
	if err := msg.Term(); err != nil {
		c.log.Warn("events: term", "error", err)
	}
	c.log.Warn("events: dead-lettered", "subject", msg.Subject(), "dead_letter_subject", c.dlq,
		"delivery", md.NumDelivered, "reason", reason)
	c.o.metrics.consumed.WithLabelValues(c.name, "dead_lettered").Inc()
}

// decode reads an event from a message published by the relay.
func decode(msg jetstream.Msg) (Event, error) {
	h := msg.Headers()
	var ev Event
	var errs []error
	var err error
	if ev.ID, err = uuid.Parse(h.Get(jetstream.MsgIDHeader)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", jetstream.MsgIDHeader, err))
	}
	if ev.OrganizationID, err = uuid.Parse(h.Get(HeaderOrganization)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", HeaderOrganization, err))
	}
	if ev.OccurredAt, err = time.Parse(time.RFC3339Nano, h.Get(HeaderOccurredAt)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", HeaderOccurredAt, err))
	}
	ev.Subject = msg.Subject()
	ev.Payload = msg.Data()
	if len(errs) == 0 {
		errs = append(errs, ev.Validate())
	}
	return ev, errors.Join(errs...)
}
