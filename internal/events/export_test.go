package events

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// WithAfterPublish runs hook after the relay's publishes were acknowledged and
// before it marks the rows sent; an error from hook abandons the batch (the
// rows stay unsent), as a crash at that point would.
func WithAfterPublish(hook func(ctx context.Context, ids []uuid.UUID) error) Option {
	return func(o *options) { o.afterPublish = hook }
}

var Backoff = func(n int, opts ...Option) time.Duration { o := buildOptions(opts); return o.backoff(n) }

// Collectors, for assertions.
func (m *Metrics) Published() prometheus.Counter         { return m.published }
func (m *Metrics) PublishDuplicates() prometheus.Counter { return m.duplicates }
func (m *Metrics) PublishFailures() prometheus.Counter   { return m.failed }
func (m *Metrics) OutboxLag() prometheus.Gauge           { return m.outboxLag }
func (m *Metrics) Consumed(consumer, result string) prometheus.Counter {
	return m.consumed.WithLabelValues(consumer, result)
}
