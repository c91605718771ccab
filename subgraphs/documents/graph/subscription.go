package graph

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/process"
	"github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// documentProcessing streams the progress of a document's processing from
// the progress stream: the latest job's events from its start, or with after
// every event of the document after that one, until the final event.
func (r *Resolver) documentProcessing(ctx context.Context, id string, after *string) (<-chan *model.DocumentProcessingEvent, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	if r.Progress == nil {
		return nil, kit.Errorf(kit.CodeServiceUnavailable, "document progress is not available")
	}
	if len(id) > kit.MaxID || !kit.IsUUID(id) {
		return nil, kit.NotFound("document", id)
	}
	id = strings.ToLower(id)
	seq, err := kit.AfterArg(after)
	if err != nil {
		return nil, err
	}
	job, err := r.Store.LatestJob(ctx, c.OrgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, kit.NotFound("document", id)
	}
	if err != nil {
		return nil, err
	}
	subject := process.ProgressSubject(id, job.ID)
	if after != nil {
		subject = process.ProgressSubject(id, "*")
	}
	out := make(chan *model.DocumentProcessingEvent, 1)
	terminal := job.State == model.JobStateSucceeded || job.State == model.JobStateFailed
	if terminal && after == nil {
		kept, err := r.Progress.Kept(ctx, subject)
		if err != nil {
			return nil, err
		}
		if !kept { // its events aged out: the stored final state
			out <- &model.DocumentProcessingEvent{ID: "0", OrgID: c.OrgID, DocumentID: id, JobID: job.ID, State: job.State,
				Progress: job.Progress, Attempt: job.Attempts, Error: job.Error, Final: true}
			close(out)
			return out, nil
		}
	}
	msgs, err := r.Progress.Follow(ctx, subject, seq)
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(out)
		for m := range msgs {
			ev := &model.DocumentProcessingEvent{ID: strconv.FormatUint(m.Seq, 10), OrgID: c.OrgID, DocumentID: id, JobID: m.JobID,
				State: model.JobState(m.State), Progress: m.Progress.Progress, Attempt: m.Attempt, Final: m.Final()}
			if m.Error != "" {
				ev.Error = &m.Error
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
			if ev.Final {
				return
			}
		}
	}()
	return out, nil
}

// processingDocument and processingJob read an event's document and job when
// the event is sent (not through the loaders, which cache for the request: a
// subscription's request lasts as long as it does).
func (r *Resolver) processingDocument(ctx context.Context, ev *model.DocumentProcessingEvent) (*model.Document, error) {
	rows, err := r.Store.DocumentsByIDs(ctx, ev.OrgID, []string{ev.DocumentID})
	if err != nil {
		return nil, err
	}
	if rows[0] == nil {
		return nil, kit.NotFound("document", ev.DocumentID)
	}
	return rows[0], nil
}

func (r *Resolver) processingJob(ctx context.Context, ev *model.DocumentProcessingEvent) (*model.ProcessingJob, error) {
	rows, err := r.Store.JobsByIDs(ctx, ev.OrgID, []string{ev.JobID})
	if err != nil {
		return nil, err
	}
	if rows[0] == nil {
		return nil, kit.NotFound("processing job", ev.JobID)
	}
	return rows[0], nil
}
