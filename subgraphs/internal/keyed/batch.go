package keyed

import (
	"context"
	"time"

	"github.com/graph-gophers/dataloader/v7"
)

// Wait is how long a per-request loader collects keys before it fetches.
const Wait = 10 * time.Millisecond

// NewLoader returns a per-request dataloader whose batch function is fetch:
// fetch gets the batch's keys and returns one value per key, in key order
// (see Order and Group). An error fails every key of the batch.
func NewLoader[K comparable, V any](fetch func(ctx context.Context, keys []K) ([]V, error)) *dataloader.Loader[K, V] {
	return dataloader.NewBatchedLoader(func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		out := make([]*dataloader.Result[V], len(keys))
		vals, err := fetch(ctx, keys)
		for i := range keys {
			switch {
			case err != nil:
				out[i] = &dataloader.Result[V]{Error: err}
			default:
				out[i] = &dataloader.Result[V]{Data: vals[i]}
			}
		}
		return out
	}, dataloader.WithWait[K, V](Wait))
}
