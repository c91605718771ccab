// Package jobs runs long work as NATS JetStream work queues fed from the
// events outbox (DESIGN.md §5): the documents subgraph's processing and the
// ai subgraph's analyses and policy drafts.
//
// A job reaches its queue through the outbox: the write that creates it
// appends an event in its transaction (internal/events); Forward, an events
// consumer, publishes each such event to the queue's work-queue stream
// (<QUEUE>_JOBS, subject jobs.<queue>.process, work-queue retention, the
// job id as Nats-Msg-Id so a replayed event is dropped). Run is the worker:
// a durable pull consumer (<queue>-worker) with explicit acks, the ack wait
// kept alive by in-progress heartbeats while a job runs, a failed attempt
// redelivered after an exponential backoff (Nak with delay) up to
// MaxDeliver, and then — or at once for Poison errors — the handler's Fail
// and the message on the dead-letter subject studio.dlq.<queue>-worker (the
// STUDIO stream, durable, with internal/events' Studio-Dead-Letter-*
// headers). A worker that stops mid-job leaves the message unacknowledged:
// the queue gives it to another worker after the ack wait.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/studio-platform/studio/internal/events"
)

// Names are a queue's stream, subject, consumers and dead-letter subject.
type Names struct {
	Stream, Subject, Worker, Forwarder, DeadLetters string
}

// QueueNames returns the names of queue q: stream Q_JOBS, subject
// jobs.q.process, consumers q-worker and q-jobs, dead letters on
// studio.dlq.q-worker.
func QueueNames(q string) Names {
	return Names{
		Stream:      strings.ToUpper(strings.ReplaceAll(q, "-", "_")) + "_JOBS",
		Subject:     "jobs." + q + ".process",
		Worker:      q + "-worker",
		Forwarder:   q + "-jobs",
		DeadLetters: events.DeadLetterSubject(q + "-worker"),
	}
}

// Config tunes a queue; zero fields take the defaults.
type Config struct {
	// Queue names the stream, subject and consumers (QueueNames). Required.
	Queue      string
	AckWait    time.Duration // default 60s
	Heartbeat  time.Duration // in-progress signal period; default AckWait/3
	MaxDeliver int           // default 5
	MinBackoff time.Duration // default 1s, doubling per attempt
	MaxBackoff time.Duration // default 1m
	Log        *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.AckWait <= 0 {
		c.AckWait = time.Minute
	}
	if c.Heartbeat <= 0 || c.Heartbeat >= c.AckWait {
		c.Heartbeat = c.AckWait / 3
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 5
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(time.Minute, c.MinBackoff)
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// ErrPoison marks a job no retry can do: it fails at once.
var ErrPoison = errors.New("job cannot be done")

// Poison marks err as permanent (errors.Is(err, ErrPoison)), its message unchanged.
func Poison(err error) error { return poisoned{err} }

type poisoned struct{ error }

func (p poisoned) Unwrap() error        { return p.error }
func (p poisoned) Is(target error) bool { return target == ErrPoison }

// Job is a message in a worker's hands.
type Job struct {
	// OrgID is the organization the job belongs to (the event's header).
	OrgID string
	// ID is the job's id (the Nats-Msg-Id the forwarder set).
	ID string
	// Data is the outbox event's payload.
	Data []byte
	// Delivery counts the deliveries of the message, from 1.
	Delivery int
}

// Handler does jobs. Run does one: nil acknowledges it (also for a job that
// is gone or already done), an error retries it later (or, when Poison or on
// the last delivery, fails it). Retry and Fail, when set, record an attempt's
// failure and the job's end; they run on a context that outlives the
// worker's.
type Handler struct {
	Run   func(ctx context.Context, job Job) error
	Retry func(ctx context.Context, job Job, cause error)
	Fail  func(ctx context.Context, job Job, cause error)
}

// Queue is one work queue.
type Queue struct {
	names Names
	js    jetstream.JetStream
	cfg   Config
}

// New returns queue cfg.Queue on js.
func New(js jetstream.JetStream, cfg Config) *Queue {
	return &Queue{names: QueueNames(cfg.Queue), js: js, cfg: cfg.withDefaults()}
}

// Names are the queue's names.
func (q *Queue) Names() Names { return q.names }

// EnsureStream creates the work-queue stream (or updates its subjects).
func (q *Queue) EnsureStream(ctx context.Context) (jetstream.Stream, error) {
	s, err := q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       q.names.Stream,
		Subjects:   []string{q.names.Subject},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Duplicates: 10 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: stream %s: %w", q.names.Stream, err)
	}
	return s, nil
}

// Forward publishes the events on subjects (the outbox's job events) to the
// queue until ctx ends; idOf reads a payload's job id (an error makes the
// event a dead letter).
func (q *Queue) Forward(ctx context.Context, subjects []string, idOf func(payload []byte) (string, error), opts ...events.Option) error {
	return events.Consume(ctx, q.js, q.names.Forwarder, subjects, func(ctx context.Context, ev events.Event) error {
		id, err := idOf(ev.Payload)
		if err != nil || id == "" {
			return events.Permanent(fmt.Errorf("%s: no job id: %v", ev.Subject, err))
		}
		msg := nats.NewMsg(q.names.Subject)
		msg.Data = ev.Payload
		msg.Header.Set(events.HeaderOrganization, ev.OrganizationID.String())
		msg.Header.Set(jetstream.MsgIDHeader, id)
		if _, err := q.js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("queue job %s: %w", id, err)
		}
		return nil
	}, opts...)
}

// Run takes jobs from the queue one at a time until ctx ends. A job in hand
// when ctx ends is left unacknowledged (as if the worker died): the queue
// gives it to another worker after the ack wait.
func (q *Queue) Run(ctx context.Context, h Handler) error {
	stream, err := q.EnsureStream(ctx)
	if err != nil {
		return err
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       q.names.Worker,
		FilterSubject: q.names.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.cfg.AckWait,
		MaxDeliver:    q.cfg.MaxDeliver,
		MaxAckPending: 1000,
	})
	if err != nil {
		return fmt.Errorf("jobs: consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return fmt.Errorf("jobs: consume: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("jobs: next: %w", err)
		}
		q.handle(ctx, msg, h)
	}
}

func (q *Queue) handle(ctx context.Context, msg jetstream.Msg, h Handler) {
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	job := Job{OrgID: msg.Headers().Get(events.HeaderOrganization), ID: msg.Headers().Get(jetstream.MsgIDHeader), Data: msg.Data(),
		Delivery: int(md.NumDelivered)}
	if job.OrgID == "" || job.ID == "" {
		q.deadLetter(ctx, msg, md, "job message without organization or id")
		return
	}
	log := q.cfg.Log.With("queue", q.cfg.Queue, "job", job.ID, "delivery", job.Delivery)

	// Heartbeats keep the message ours while the job runs.
	hbCtx, stopHB := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(q.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	err = h.Run(ctx, job)
	stopHB()
	after := context.WithoutCancel(ctx)
	switch {
	case ctx.Err() != nil:
		log.Warn("jobs: stopped mid-job; the queue redelivers it after the ack wait")
	case err == nil:
		if err := msg.Ack(); err != nil {
			log.Warn("jobs: ack", "error", err)
		}
	case errors.Is(err, ErrPoison) || job.Delivery >= q.cfg.MaxDeliver:
		log.Error("jobs: job failed", "error", err)
		if h.Fail != nil {
			h.Fail(after, job, err)
		}
		q.deadLetter(ctx, msg, md, err.Error())
	default:
		wait := q.backoff(job.Delivery)
		log.Warn("jobs: attempt failed; retrying", "error", err, "in", wait)
		if h.Retry != nil {
			h.Retry(after, job, err)
		}
		_ = msg.NakWithDelay(wait)
	}
}

func (q *Queue) backoff(delivered int) time.Duration {
	d := q.cfg.MinBackoff
	for i := 1; i < delivered && d < q.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, q.cfg.MaxBackoff)
}

// deadLetter publishes msg to the dead-letter subject with the reason and
// terminates it.
func (q *Queue) deadLetter(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, reason string) {
	dl := nats.NewMsg(q.names.DeadLetters)
	dl.Data = msg.Data()
	for k, v := range msg.Headers() {
		if k != jetstream.MsgIDHeader {
			dl.Header[k] = v
		}
	}
	dl.Header.Set(events.HeaderDeadSubject, msg.Subject())
	dl.Header.Set(events.HeaderDeadConsumer, q.names.Worker)
	dl.Header.Set(events.HeaderDeadReason, truncate(reason, 1000))
	dl.Header.Set(events.HeaderDeadDeliveries, fmt.Sprint(md.NumDelivered))
	dl.Header.Set(events.HeaderDeadStreamSeq, fmt.Sprint(md.Sequence.Stream))
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := q.js.PublishMsg(pctx, dl); err != nil {
		q.cfg.Log.Error("jobs: dead letter", "error", err)
		_ = msg.Nak()
		return
	}
	_ = msg.Term()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// JetStream is the queue's JetStream handle.
func (q *Queue) JetStream() jetstream.JetStream { return q.js }
