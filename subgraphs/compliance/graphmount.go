package compliance

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/subgraphs/compliance/graph"
	"github.com/studio-platform/studio/subgraphs/compliance/graphfeed"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// graphMount opens the compliance graph (Neo4j), syncs the framework catalog
// into it, hands it to the resolvers and, when the service has the events
// stream, runs the durable consumer compliance-graph that applies
// compliance's events to it until Close.
func graphMount(url string, st *store.Store, res *graph.Resolver) kit.MountFunc {
	return func(ctx context.Context, m *kit.Mount) (func(), error) {
		p, err := projection.Open(ctx, url)
		if err != nil {
			return nil, err
		}
		if err := graphfeed.SyncCatalog(ctx, st, p); err != nil {
			_ = p.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("graph catalog: %w", err)
		}
		res.Graph = p
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		if m.JetStream != nil {
			wg.Go(func() {
				if err := events.Consume(runCtx, m.JetStream, graphfeed.Consumer, graphfeed.Subjects, graphfeed.Handler(p), m.EventOptions...); err != nil {
					m.Log.Error("compliance graph consumer stopped", "error", err)
				}
			})
		} else {
			m.Log.Warn("compliance graph: no events stream (NATS_URL): the graph is only as fresh as its last rebuild")
		}
		return func() {
			cancel()
			wg.Wait()
			ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			_ = p.Close(ctx)
		}, nil
	}
}
