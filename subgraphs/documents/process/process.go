// Package process turns uploaded documents into chunks of text: a NATS
// JetStream work queue of processing jobs and the worker that runs them.
//
// The queue is internal/jobs': the write that queues a job (upload,
// reprocessDocument) appends studio.documents.job.queued in its
// transaction; Forward publishes each to the work-queue stream
// DOCUMENTS_JOBS (subject jobs.documents.process); Run is the worker, with
// heartbeats, retries after an exponential backoff up to MaxDeliver, and
// then — or at once for a poison document — the job FAILED, its document
// FAILED, studio.documents.job.failed in the outbox and the message on the
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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/jobs"
	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/documents/store"
)

// DefaultQueue names the default queue: stream DOCUMENTS_JOBS, subject
// jobs.documents.process, consumers documents-worker and documents-jobs,
// dead letters on studio.dlq.documents-worker (internal/jobs).
const DefaultQueue = "documents"

// ProgressRoot prefixes the progress subjects.
const ProgressRoot = "progress.documents"

// ProgressSubject is where the progress and state changes of job jobID of
// document documentID go.
func ProgressSubject(documentID, jobID string) string {
	return ProgressRoot + "." + documentID + "." + jobID
}

// QueueNames returns the names of queue q (Config.Queue; default DefaultQueue).
func QueueNames(q string) jobs.Names {
	if q == "" {
		q = DefaultQueue
	}
	return jobs.QueueNames(q)
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
	if c.Queue == "" {
		c.Queue = DefaultQueue
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
	queue  *jobs.Queue
	bucket *objects.Bucket
	nc     *nats.Conn
	cfg    Config
}

// New returns a worker on the store, the bucket and JetStream.
func New(st *store.Store, bucket *objects.Bucket, js jetstream.JetStream, cfg Config) *Worker {
	cfg = cfg.withDefaults()
	q := jobs.New(js, jobs.Config{Queue: cfg.Queue, AckWait: cfg.AckWait, Heartbeat: cfg.Heartbeat, MaxDeliver: cfg.MaxDeliver,
		MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff, Log: cfg.Log})
	return &Worker{st: st, queue: q, bucket: bucket, nc: js.Conn(), cfg: cfg}
}

// Names are the worker's queue names.
func (w *Worker) Names() jobs.Names { return w.queue.Names() }

// EnsureStream creates the work-queue stream (or updates its subjects).
func (w *Worker) EnsureStream(ctx context.Context) (jetstream.Stream, error) {
	return w.queue.EnsureStream(ctx)
}

// Forward publishes queued jobs from the outbox's events to the work queue
// until ctx ends.
func (w *Worker) Forward(ctx context.Context, opts ...events.Option) error {
	return w.queue.Forward(ctx, []string{store.SubjectJobQueued}, func(payload []byte) (string, error) {
		var job store.JobEvent
		err := json.Unmarshal(payload, &job)
		return job.ID, err
	}, opts...)
}

// Run takes jobs from the queue one at a time until ctx ends. A job in hand
// when ctx ends is left unacknowledged (as if the worker died): the queue
// gives it to another worker after the ack wait.
func (w *Worker) Run(ctx context.Context) error {
	return w.queue.Run(ctx, jobs.Handler{Run: w.handle, Retry: w.retry, Fail: w.fail})
}

func (w *Worker) handle(ctx context.Context, m jobs.Job) error {
	var jm store.JobEvent
	if err := json.Unmarshal(m.Data, &jm); err != nil || jm.ID == "" {
		return jobs.Poison(fmt.Errorf("malformed job message: %v", err))
	}
	job, doc, done, err := w.st.StartJob(ctx, m.OrgID, jm.ID)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && done:
		return nil // deleted, or finished by an earlier delivery
	case err != nil:
		return err
	}
	w.progress(job, 0, "")
	if err := w.run(ctx, job, doc); err != nil {
		if errors.Is(err, ErrPoison) {
			return jobs.Poison(err)
		}
		return err
	}
	return nil
}

// retry records a failed attempt: the job is QUEUED again with its error.
func (w *Worker) retry(ctx context.Context, m jobs.Job, cause error) {
	var jm store.JobEvent
	_ = json.Unmarshal(m.Data, &jm)
	if err := w.st.RetryJob(ctx, m.OrgID, jm.ID, cause.Error()); err != nil {
		w.cfg.Log.Warn("process: record retry", "job", jm.ID, "error", err)
	}
	w.progress(&model.ProcessingJob{ID: jm.ID, DocumentID: jm.DocumentID, State: model.JobStateQueued}, 0, cause.Error())
}

// fail records the job's end: the job and its document FAILED.
func (w *Worker) fail(ctx context.Context, m jobs.Job, cause error) {
	var jm store.JobEvent
	_ = json.Unmarshal(m.Data, &jm)
	if jm.ID == "" {
		return
	}
	if err := w.st.FailJob(ctx, m.OrgID, jm.ID, jm.DocumentID, cause.Error()); err != nil {
		w.cfg.Log.Error("process: record failure", "job", jm.ID, "error", err)
	}
	job := &model.ProcessingJob{ID: jm.ID, DocumentID: jm.DocumentID, Attempts: m.Delivery}
	if rows, err := w.st.JobsByIDs(ctx, m.OrgID, []string{jm.ID}); err == nil && rows[0] != nil {
		job = rows[0] // where it stopped: its last progress and attempts
	}
	job.State = model.JobStateFailed
	w.progress(job, job.Progress, cause.Error())
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
