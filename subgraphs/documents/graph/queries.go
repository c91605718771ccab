package graph

import (
	"context"
	"errors"
	"strings"

	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// reprocessDocument queues a new processing job for a document.
func (r *Resolver) reprocessDocument(ctx context.Context, id string) (*model.ProcessingJob, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	if len(id) > kit.MaxID || !kit.IsUUID(id) {
		return nil, kit.NotFound("document", id)
	}
	job, err := r.Store.Reprocess(ctx, c.OrgID, strings.ToLower(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, kit.NotFound("document", id)
	}
	return job, err
}
