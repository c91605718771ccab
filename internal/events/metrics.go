package events

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the pipeline's Prometheus collectors. Create one per registry
// with NewMetrics and pass it to the relay and consumers with WithMetrics.
type Metrics struct {
	published  prometheus.Counter
	duplicates prometheus.Counter
	failed     prometheus.Counter
	outboxLag  prometheus.Gauge
	consumed   *prometheus.CounterVec
	pending    *prometheus.GaugeVec
}

func newMetrics() *Metrics {
	return &Metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "studio_events_published_total",
			Help: "Outbox events published to JetStream and acknowledged (PubAck), duplicates included.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "studio_events_publish_duplicates_total",
			Help: "Publishes JetStream acknowledged as duplicates of an event it already stored (Nats-Msg-Id).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "studio_events_publish_failures_total",
			Help: "Outbox events whose publish failed (retried later).",
		}),
		outboxLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "studio_events_outbox_lag_seconds",
			Help: "Age of the oldest unsent outbox event (0 when none).",
		}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "studio_events_consumed_total",
			Help: "Messages handled by a consumer, by result: acked, retried, dead_lettered, skipped.",
		}, []string{"consumer", "result"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "studio_events_consumer_pending",
			Help: "Messages in the stream not yet delivered to the consumer (its lag), as of its last delivery.",
		}, []string{"consumer"}),
	}
}

// NewMetrics creates the collectors and registers them with reg (e.g.
// metrics.Metrics.Registry()).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	for _, c := range []prometheus.Collector{m.published, m.duplicates, m.failed, m.outboxLag, m.consumed, m.pending} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
