// Package embed keeps the chunk embeddings in step with the documents
// subgraph: the durable consumer ai-embeddings reads
// studio.documents.chunks.extracted (the text of a batch of a processed
// document's chunks), embeds the texts with the provider and upserts them
// into the vectors store; studio.documents.document.processed (the job's
// complete chunk list) deletes the chunks an earlier processing of the
// document left. Both are idempotent (MERGE by chunk id, delete by job), so
// redeliveries and replays converge.
package embed

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/ai/vectors"
	docstore "github.com/studio-platform/studio/subgraphs/documents/store"
)

// Consumer is the durable consumer's name.
const Consumer = "ai-embeddings"

// Subjects are what the consumer reads.
var Subjects = []string{docstore.SubjectChunksExtracted, docstore.SubjectDocumentProcessed}

// batch is how many texts go to the provider at once (its limit is 256).
const batch = 64

// Handler applies one documents event to vec, embedding with p.
func Handler(p provider.Embedder, vec *vectors.Store) events.Handler {
	return func(ctx context.Context, ev events.Event) error {
		org := ev.OrganizationID.String()
		switch ev.Subject {
		case docstore.SubjectChunksExtracted:
			var ce docstore.ChunksEvent
			if err := json.Unmarshal(ev.Payload, &ce); err != nil {
				return events.Permanent(fmt.Errorf("chunks.extracted payload: %w", err))
			}
			return Chunks(ctx, p, vec, org, ce)
		case docstore.SubjectDocumentProcessed:
			var pe docstore.ProcessedEvent
			if err := json.Unmarshal(ev.Payload, &pe); err != nil {
				return events.Permanent(fmt.Errorf("document.processed payload: %w", err))
			}
			return vec.KeepJob(ctx, org, pe.ID, pe.JobID)
		}
		return nil
	}
}

// Chunks embeds and stores the chunks of one event.
func Chunks(ctx context.Context, p provider.Embedder, vec *vectors.Store, org string, ce docstore.ChunksEvent) error {
	evidence := ""
	if ce.EvidenceID != nil {
		evidence = *ce.EvidenceID
	}
	for start := 0; start < len(ce.Chunks); start += batch {
		part := ce.Chunks[start:min(start+batch, len(ce.Chunks))]
		texts := make([]string, 0, len(part))
		kept := part[:0:0]
		for _, c := range part {
			if c.Content == "" {
				continue
			}
			texts = append(texts, c.Content)
			kept = append(kept, c)
		}
		if len(texts) == 0 {
			continue
		}
		res, err := p.Embed(ctx, texts)
		if err != nil {
			return fmt.Errorf("embed %d chunks of document %s: %w", len(texts), ce.DocumentID, err)
		}
		chunks := make([]vectors.Chunk, len(kept))
		for i, c := range kept {
			chunks[i] = vectors.Chunk{ID: c.ID, DocumentID: ce.DocumentID, ProjectID: ce.ProjectID, EvidenceID: evidence,
				Filename: ce.Filename, Position: c.Position, Text: c.Content, JobID: ce.JobID, Embedding: res.Vectors[i]}
		}
		if err := vec.Upsert(ctx, org, chunks); err != nil {
			return err
		}
	}
	return nil
}
