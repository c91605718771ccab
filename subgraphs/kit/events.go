package kit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/health"
)

// Events connects a subgraph to the event pipeline (internal/events). Every
// subgraph's schema has the outbox (Open applies events.Migrations after the
// subgraph's own), so its writes can always events.Append in their
// transaction; WithEvents publishes what they append.
type Events struct {
	// NatsURL is the NATS server (NATS_URL). Empty: no relay runs and events
	// wait in the outbox until a process of the subgraph that has NATS
	// publishes them (logged at start).
	NatsURL string
	// Options go to EnsureStream, the relay and the subgraph's consumers
	// (Mount.EventOptions), after the kit's logger and metrics.
	Options []events.Option
}

// WithEvents runs the event pipeline for the subgraph: at Serve it connects
// to NATS, ensures the STUDIO stream and starts the outbox relay on a pool
// of its own (untraced, so WithQueryTracer counts only the requests' SQL);
// Close stops it. Mounts get the JetStream handle (Mount.JetStream) to run
// consumers. /ready checks the NATS connection.
func WithEvents(e Events) Option { return func(o *options) { o.events = &e } }

// relayMaxConns bounds the relay's own pool: one claiming transaction at a
// time, plus pruning.
const relayMaxConns = 2

// startEvents connects to NATS, ensures the stream and runs the relay until
// the returned cleanup. It fills m's JetStream and EventOptions.
func (s *Service) startEvents(ctx context.Context, m *Mount, reg prometheus.Registerer) (func(), error) {
	e := s.o.events
	if e.NatsURL == "" {
		s.o.log.Warn("events: no NATS_URL: events stay in the outbox until a process with NATS relays them", "subgraph", s.name)
		return nil, nil
	}
	met, err := events.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("events metrics: %w", err)
	}
	opts := append([]events.Option{events.WithLogger(s.o.log), events.WithMetrics(met)}, e.Options...)
	nc, err := nats.Connect(e.NatsURL, nats.Name("studio "+s.name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if _, err := events.EnsureStream(ctx, js, opts...); err != nil {
		nc.Close()
		return nil, err
	}
	cfg := s.db.Pool().Config().Copy()
	cfg.ConnConfig.Tracer = nil
	cfg.MaxConns = relayMaxConns
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("relay pool: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := events.NewRelay(pool, js, opts...).Run(runCtx); err != nil {
			s.o.log.Error("events: relay stopped", "error", err)
		}
	})
	m.JetStream, m.EventOptions = js, opts
	m.Check(health.Check{Name: "nats", Fn: func(context.Context) error {
		if st := nc.Status(); st != nats.CONNECTED {
			return errors.New("nats: " + st.String())
		}
		return nil
	}})
	return func() {
		cancel()
		wg.Wait()
		pool.Close()
		nc.Close()
	}, nil
}
