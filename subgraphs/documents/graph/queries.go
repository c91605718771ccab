package graph

import (
	"context"
	"errors"
	"strings"

	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// one returns row id of the caller's organization, nil when absent,
// malformed or another organization's.
func one[T any](ctx context.Context, id string, load func(context.Context, string, []string) ([]*T, error)) (*T, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	if len(id) > kit.MaxID || !kit.IsUUID(id) {
		return nil, nil
	}
	rows, err := load(ctx, c.OrgID, []string{strings.ToLower(id)})
	if err != nil {
		return nil, err
	}
	return rows[0], nil
}

// stubs answers representations of other subgraphs' entities, known here by id.
func stubs[R, T any](reps []*R, stub func(*R) *T) []*T {
	out := make([]*T, len(reps))
	for i, r := range reps {
		out[i] = stub(r)
	}
	return out
}

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
