package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/studio-platform/studio/internal/events"
	aistore "github.com/studio-platform/studio/subgraphs/ai/store"
	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
)

// maxGenerated bounds a generated document (the event carries it whole).
const maxGenerated = events.MaxPayload

// StoreGenerated runs the durable consumer <queue>-generated (default
// documents-generated), which stores the documents of
// studio.ai.policy_draft.generated events until ctx ends: the Markdown into the bucket and a document row of
// the draft's project (uploaded by whoever asked for the draft) with its
// first processing job, like an upload — so the draft is chunked, embedded
// and cited like any document. The ai subgraph chose the document id, so a
// redelivered event stores it once.
func (w *Worker) StoreGenerated(ctx context.Context, opts ...events.Option) error {
	return events.Consume(ctx, w.queue.JetStream(), w.cfg.Queue+"-generated", []string{aistore.SubjectDraftGenerated}, func(ctx context.Context, ev events.Event) error {
		var d aistore.DraftEvent
		if err := json.Unmarshal(ev.Payload, &d); err != nil || d.DocumentID == "" || d.Content == "" {
			return events.Permanent(fmt.Errorf("policy_draft.generated payload: %v", err))
		}
		return w.storeGenerated(ctx, ev.OrganizationID.String(), d)
	}, opts...)
}

func (w *Worker) storeGenerated(ctx context.Context, org string, d aistore.DraftEvent) error {
	docs, err := w.st.DocumentsByIDs(ctx, org, []string{d.DocumentID})
	if err != nil {
		return err
	}
	if docs[0] != nil {
		return nil // stored by an earlier delivery
	}
	doc := &model.Document{ID: d.DocumentID, OrgID: org, ProjectID: d.ProjectID, UploadedByID: d.RequestedBy, Filename: d.Filename,
		Status: model.DocumentStatusUploaded, ObjectKey: objects.Key(org, d.DocumentID)}
	wr, err := w.bucket.Put(ctx, doc.ObjectKey, strings.NewReader(d.Content), int64(len(d.Content)), maxGenerated, func(head []byte) (string, error) {
		return objects.Sniff(head, d.Filename), nil
	})
	if err != nil {
		return err
	}
	doc.ContentType, doc.Size, doc.Sha256 = objects.Sniff(wr.Head, d.Filename), wr.Size, wr.SHA256
	if _, err := w.st.CreateDocument(ctx, doc); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return nil // a concurrent delivery stored it
		}
		return errors.Join(err, w.bucket.Remove(context.WithoutCancel(ctx), doc.ObjectKey))
	}
	return nil
}
