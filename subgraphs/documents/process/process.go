// Package process turns uploaded documents into chunks of text: a NATS
// JetStream work queue of processing jobs and the worker that runs them.
//
// A job reaches the queue through the outbox: the write that queues it
// (upload, reprocessDocument) appends studio.documents.job.queued in its
// transaction; Forward (an internal/events consumer) publishes each to the
// work-queue stream DOCUMENTS_JOBS (subject jobs.documents.process,
// work-queue retention, the job id as Nats-Msg-Id so a replay is dropped).
// Run is the worker: a durable pull consumer with explicit acks, an ack wait
// kept alive by in-progress heartbeats while a job runs, retries after an
// exponential backoff (Nak with delay) up to MaxDeliver, and then — or at
// once for a poison document — the job FAILED, its document FAILED,
// studio.documents.job.failed in the outbox and the message on the
// dead-letter subject studio.dlq.documents-worker (STUDIO stream, durable).
//
// Progress (0–100) and state changes of each job are published on
// progress.documents.<documentId>.<jobId>, outside the durable studio.>
// stream: the stream DOCUMENTS_PROGRESS (Feed) keeps them for an hour so a
// subscriber that reconnects resumes where it left off.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/documents/store"
)

// DefaultQueue names the default queue: stream DOCUMENTS_JOBS, subject
// jobs.documents.process, consumers documents-worker and documents-jobs,
// dead letters on studio.dlq.documents-worker.
const DefaultQueue = "documents"

// ProgressRoot prefixes the progress subjects.
const ProgressRoot = "progress.documents"

// ProgressSubject is where the progress and state changes of job jobID of
// document documentID go.
func ProgressSubject(documentID, jobID string) string {
	return ProgressRoot + "." + documentID + "." + jobID
}

// Names are the queue's stream, subject and consumers.
type Names struct {
	Stream, Subject, Worker, Forwarder, DeadLetters string
}

// QueueNames returns the names of queue q (Config.Queue).
func QueueNames(q string) Names {
	if q == "" {
		q = DefaultQueue
	}
	return Names{
		Stream:      strings.ToUpper(strings.ReplaceAll(q, "-", "_")) + "_JOBS",
		Subject:     "jobs." + q + ".process",
		Worker:      q + "-worker",
		Forwarder:   q + "-jobs",
		DeadLetters: events.DeadLetterSubject(q + "-worker"),
	}
}

// Progress is the payload of a progress message.
type Progress struct {
	JobID      string `json:"jobId"`
	DocumentID string `json:"documentId"`
	State      string `json:"state"`
	Progress   int    `json:"progress"`
	Attempt    int    `json:"attempt"`
	Error      string `json:"error,omitempty"`
}

// Config tunes the worker; zero fields take the defaults.
type Config struct {
	// Queue names the stream, subject and consumers (QueueNames); default
	// DefaultQueue. Tests sharing one NATS server use one each.
	Queue      string
	AckWait    time.Duration // default 60s
	Heartbeat  time.Duration // in-progress signal period; default AckWait/3
	MaxDeliver int           // default 5
	MinBackoff time.Duration // default 1s, doubling per attempt
	MaxBackoff time.Duration // default 1m
	ChunkSize  int           // characters; default 1000
	Overlap    int           // characters; default 200
	MaxBytes   int64         // largest document read; default 64 MiB
	Log        *slog.Logger
	// BeforeExtract, when set, runs after a job is taken and its first
	// progress published (tests use it to hold a job mid-way).
	BeforeExtract func(ctx context.Context, jobID string) error
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
	if c.ChunkSize <= 0 {
		c.ChunkSize = 1000
	}
	if c.Overlap < 0 || c.Overlap >= c.ChunkSize {
		c.Overlap = c.ChunkSize / 5
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 64 << 20
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Worker runs processing jobs.
type Worker struct {
	st     *store.Store
	names  Names
	bucket *objects.Bucket
	js     jetstream.JetStream
	nc     *nats.Conn
	cfg    Config
}

// New returns a worker on the store, the bucket and JetStream.
func New(st *store.Store, bucket *objects.Bucket, js jetstream.JetStream, cfg Config) *Worker {
	return &Worker{st: st, names: QueueNames(cfg.Queue), bucket: bucket, js: js, nc: js.Conn(), cfg: cfg.withDefaults()}
}

// Names are the worker's queue names.
func (w *Worker) Names() Names { return w.names }

// EnsureStream creates the work-queue stream (or updates its subjects).
func (w *Worker) EnsureStream(ctx context.Context) (jetstream.Stream, error) {
	s, err := w.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       w.names.Stream,
		Subjects:   []string{w.names.Subject},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Duplicates: 10 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("process: stream %s: %w", w.names.Stream, err)
	}
	return s, nil
}

// Forward publishes queued jobs from the outbox's events to the work queue
// until ctx ends.
func (w *Worker) Forward(ctx context.Context, opts ...events.Option) error {
	return events.Consume(ctx, w.js, w.names.Forwarder, []string{store.SubjectJobQueued}, func(ctx context.Context, ev events.Event) error {
		msg := nats.NewMsg(w.names.Subject)
		msg.Data = ev.Payload
		msg.Header.Set(events.HeaderOrganization, ev.OrganizationID.String())
		var job store.JobEvent
		if err := json.Unmarshal(ev.Payload, &job); err != nil || job.ID == "" {
			return events.Permanent(fmt.Errorf("job.queued payload: %v", err))
		}
		msg.Header.Set(jetstream.MsgIDHeader, job.ID)
		if _, err := w.js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("queue job %s: %w", job.ID, err)
		}
		return nil
	}, opts...)
}

// Run takes jobs from the queue one at a time until ctx ends. A job in hand
// when ctx ends is left unacknowledged (as if the worker died): the queue
// gives it to another worker after the ack wait.
func (w *Worker) Run(ctx context.Context) error {
	stream, err := w.EnsureStream(ctx)
	if err != nil {
		return err
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       w.names.Worker,
		FilterSubject: w.names.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		MaxDeliver:    w.cfg.MaxDeliver,
		MaxAckPending: 1000,
	})
	if err != nil {
		return fmt.Errorf("process: consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return fmt.Errorf("process: consume: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("process: next: %w", err)
		}
		w.handle(ctx, msg)
	}
}

func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	org := msg.Headers().Get(events.HeaderOrganization)
	var jm store.JobEvent
	if err := json.Unmarshal(msg.Data(), &jm); err != nil || jm.ID == "" || org == "" {
		w.deadLetter(ctx, msg, md, fmt.Sprintf("malformed job message: %v", err))
		return
	}
	log := w.cfg.Log.With("job", jm.ID, "document", jm.DocumentID, "delivery", md.NumDelivered)
	job, doc, done, err := w.st.StartJob(ctx, org, jm.ID)
	switch {
	case ctx.Err() != nil:
		return // stopping: redelivered after the ack wait
	case errors.Is(err, store.ErrNotFound), done:
		_ = msg.Ack() // deleted, or finished by an earlier delivery
		return
	case err != nil:
		w.retry(ctx, msg, md, org, jm, err, log)
		return
	}
	w.progress(job, 0, "")

	// Heartbeats keep the message ours while the job runs.
	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	go func() {
		t := time.NewTicker(w.cfg.Heartbeat)
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

	err = w.run(ctx, job, doc)
	stopHB()
	switch {
	case ctx.Err() != nil:
		log.Warn("process: stopped mid-job; the queue redelivers it after the ack wait")
		return
	case err == nil:
		if err := msg.Ack(); err != nil {
			log.Warn("process: ack", "error", err)
		}
	case errors.Is(err, ErrPoison) || int(md.NumDelivered) >= w.cfg.MaxDeliver:
		log.Error("process: job failed", "error", err)
		if ferr := w.st.FailJob(context.WithoutCancel(ctx), org, job.ID, doc.ID, err.Error()); ferr != nil {
			log.Error("process: record failure", "error", ferr)
		}
		w.progress(&model.ProcessingJob{ID: job.ID, DocumentID: doc.ID, State: model.JobStateFailed, Attempts: job.Attempts}, job.Progress, err.Error())
		w.deadLetter(ctx, msg, md, err.Error())
	default:
		w.retry(ctx, msg, md, org, jm, err, log)
	}
}

// run extracts, chunks and stores one job's document.
func (w *Worker) run(ctx context.Context, job *model.ProcessingJob, doc *model.Document) error {
	if w.cfg.BeforeExtract != nil {
		if err := w.cfg.BeforeExtract(ctx, job.ID); err != nil {
			return err
		}
	}
	rc, err := w.bucket.Open(ctx, doc.ObjectKey)
	if errors.Is(err, objects.ErrNotFound) {
		return poison("the object %s is missing", doc.ObjectKey)
	}
	if err != nil {
		return err
	}
	text, err := Extract(rc, doc.ContentType, doc.Sha256, w.cfg.MaxBytes)
	rc.Close()
	if err != nil {
		return err
	}
	w.step(ctx, job, 40)
	parts := Split(text, w.cfg.ChunkSize, w.cfg.Overlap)
	chunks := make([]store.NewChunk, len(parts))
	for i, p := range parts {
		chunks[i] = store.NewChunk{Position: p.Position, StartChar: p.StartChar, Content: p.Content}
	}
	w.step(ctx, job, 70)
	if _, err := w.st.FinishJob(ctx, job, doc, chunks); err != nil {
		return err
	}
	job.State = model.JobStateSucceeded
	w.progress(job, 100, "")
	return nil
}

// step records and publishes progress.
func (w *Worker) step(ctx context.Context, job *model.ProcessingJob, p int) {
	if err := w.st.SetProgress(ctx, job.OrgID, job.ID, p); err != nil {
		w.cfg.Log.Warn("process: progress", "job", job.ID, "error", err)
	}
	job.Progress = p
	w.progress(job, p, "")
}

func (w *Worker) progress(job *model.ProcessingJob, p int, errMsg string) {
	b, _ := json.Marshal(Progress{JobID: job.ID, DocumentID: job.DocumentID, State: string(job.State), Progress: p, Attempt: job.Attempts, Error: errMsg})
	_ = w.nc.Publish(ProgressSubject(job.DocumentID, job.ID), b)
}

func (w *Worker) retry(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, org string, jm store.JobEvent, cause error, log *slog.Logger) {
	wait := w.backoff(int(md.NumDelivered))
	log.Warn("process: attempt failed; retrying", "error", cause, "in", wait)
	if err := w.st.RetryJob(context.WithoutCancel(ctx), org, jm.ID, cause.Error()); err != nil {
		log.Warn("process: record retry", "error", err)
	}
	w.progress(&model.ProcessingJob{ID: jm.ID, DocumentID: jm.DocumentID, State: model.JobStateQueued}, 0, cause.Error())
	_ = msg.NakWithDelay(wait)
}

func (w *Worker) backoff(delivered int) time.Duration {
	d := w.cfg.MinBackoff
	for i := 1; i < delivered && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.cfg.MaxBackoff)
}

// deadLetter publishes msg to the dead-letter subject with the reason and
// terminates it.
func (w *Worker) deadLetter(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, reason string) {
	dl := nats.NewMsg(w.names.DeadLetters)
	dl.Data = msg.Data()
	for k, v := range msg.Headers() {
		if k != jetstream.MsgIDHeader {
			dl.Header[k] = v
		}
	}
	dl.Header.Set(events.HeaderDeadSubject, msg.Subject())
	dl.Header.Set(events.HeaderDeadConsumer, w.names.Worker)
	dl.Header.Set(events.HeaderDeadReason, truncate(reason, 1000))
	dl.Header.Set(events.HeaderDeadDeliveries, fmt.Sprint(md.NumDelivered))
	dl.Header.Set(events.HeaderDeadStreamSeq, fmt.Sprint(md.Sequence.Stream))
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := w.js.PublishMsg(pctx, dl); err != nil {
		w.cfg.Log.Error("process: dead letter", "error", err)
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
