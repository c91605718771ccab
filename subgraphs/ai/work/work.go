// Package work runs the ai subgraph's long work — evidence analyses and
// policy drafts — as jobs on an internal/jobs work queue (default queue
// "ai": stream AI_JOBS, consumers ai-jobs and ai-worker, dead letters on
// studio.dlq.ai-worker). The mutations insert a QUEUED row and append
// studio.ai.analysis.requested or studio.ai.policy_draft.requested in one
// transaction; the forwarder queues them and a worker runs each: RUNNING,
// then SUCCEEDED with the result, or back to QUEUED with the error after a
// failed attempt, or FAILED after the last.
package work

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/jobs"
	"github.com/studio-platform/studio/subgraphs/ai/assistant"
	"github.com/studio-platform/studio/subgraphs/ai/store"
)

// DefaultQueue names the ai subgraph's queue.
const DefaultQueue = "ai"

// Worker runs analyses and policy drafts.
type Worker struct {
	st    *store.Store
	a     *assistant.Assistant
	queue *jobs.Queue
	log   *slog.Logger
}

// New returns a worker on the store and the assistant, its queue on js
// (cfg.Queue defaults to DefaultQueue).
func New(st *store.Store, a *assistant.Assistant, js jetstream.JetStream, cfg jobs.Config) *Worker {
	if cfg.Queue == "" {
		cfg.Queue = DefaultQueue
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Worker{st: st, a: a, queue: jobs.New(js, cfg), log: cfg.Log}
}

// Forward queues the requested jobs from the outbox's events until ctx ends.
func (w *Worker) Forward(ctx context.Context, opts ...events.Option) error {
	return w.queue.Forward(ctx, []string{store.SubjectAnalysisRequested, store.SubjectDraftRequested}, func(payload []byte) (string, error) {
		var j store.JobEvent
		err := json.Unmarshal(payload, &j)
		return j.ID, err
	}, opts...)
}

// Run runs jobs until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	return w.queue.Run(ctx, jobs.Handler{
		Run: w.run,
		Retry: func(ctx context.Context, job jobs.Job, cause error) {
			w.record(ctx, job, cause, w.st.RetryJob)
		},
		Fail: func(ctx context.Context, job jobs.Job, cause error) {
			w.record(ctx, job, cause, w.st.FailJob)
		},
	})
}

func (w *Worker) run(ctx context.Context, job jobs.Job) error {
	var j store.JobEvent
	if err := json.Unmarshal(job.Data, &j); err != nil {
		return jobs.Poison(fmt.Errorf("malformed job: %w", err))
	}
	done, err := w.st.StartJob(ctx, job.OrgID, j.Kind, j.ID)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && done:
		return nil
	case err != nil:
		return err
	}
	switch j.Kind {
	case store.KindAnalysis:
		return w.analyze(ctx, job.OrgID, j.ID)
	case store.KindDraft:
		return w.draft(ctx, job.OrgID, j.ID)
	}
	return jobs.Poison(fmt.Errorf("unknown job kind %q", j.Kind))
}

// record stores a failed attempt's or the job's end's reason.
func (w *Worker) record(ctx context.Context, job jobs.Job, cause error, set func(ctx context.Context, orgID, kind, id, reason string) error) {
	var j store.JobEvent
	if json.Unmarshal(job.Data, &j) != nil || j.ID == "" {
		return
	}
	if err := set(ctx, job.OrgID, j.Kind, j.ID, assistant.Reason(cause)); err != nil {
		w.log.Warn("ai: record job state", "job", j.ID, "error", err)
	}
}
