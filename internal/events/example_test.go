package events_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/pg"
)

// A subgraph's composition root: its schema gets the pipeline's tables, the
// relay publishes its outbox, and a consumer applies events idempotently.
func Example() {
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	pool, err := pg.Open(ctx, os.Getenv("DATABASE_URL"), "compliance", events.WithMigrations(nil /* store.Migrations() */))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	m, err := events.NewMetrics(prometheus.NewRegistry() /* metrics.Metrics.Registry() */)
	if err != nil {
		panic(err)
	}
	opts := []events.Option{events.WithLogger(log), events.WithMetrics(m)}
	if _, err := events.EnsureStream(ctx, js, opts...); err != nil {
		panic(err)
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return events.NewRelay(pool, js, opts...).Run(ctx) })
	g.Go(func() error {
		return events.Consume(ctx, js, "compliance-projection", []string{"studio.compliance.>"},
			events.Idempotent(pool, "compliance-projection", func(ctx context.Context, tx pgx.Tx, ev events.Event) error {
				_, err := tx.Exec(ctx, `UPDATE ... WHERE org_id = $1`, ev.OrganizationID)
				return err
			}), opts...)
	})

	// A resolver: the state change and its event in one transaction.
	ev, err := events.New("studio.compliance.evidence.submitted", [16]byte{1}, map[string]string{"evidenceId": "..."})
	if err != nil {
		panic(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO evidence ...`); err != nil {
			return err
		}
		return events.Append(ctx, tx, ev)
	})
	if err != nil {
		panic(err)
	}
	_ = g.Wait()
}
