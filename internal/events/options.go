package events

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// Defaults.
const (
	DefaultStream          = "STUDIO"
	DefaultDeadLetterRoot  = "studio.dlq"
	DefaultDuplicateWindow = 10 * time.Minute
	DefaultMaxAge          = 30 * 24 * time.Hour
)

// Option configures EnsureStream, NewRelay, Consume and Replay. Each reads
// the options that concern it and ignores the others, so one option list can
// be shared by a composition root.
type Option func(*options)

type options struct {
	log     *slog.Logger
	metrics *Metrics

	// stream
	stream    string
	subjects  []string
	dupWindow time.Duration
	maxAge    time.Duration

	// relay
	batch          int
	pollInterval   time.Duration
	publishTimeout time.Duration
	retention      time.Duration
	listen         bool
	afterPublish   func(ctx context.Context, ids []uuid.UUID) error // test hook

	// relay and consumer: waits after a failure
	backoffMin, backoffMax time.Duration

	// consumer
	maxDeliver int
	ackWait    time.Duration
	prefetch   int
	dlqRoot    string
}

func buildOptions(opts []Option) options {
	o := options{
		log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		stream:         DefaultStream,
		subjects:       []string{"studio.>"},
		dupWindow:      DefaultDuplicateWindow,
		maxAge:         DefaultMaxAge,
		batch:          100,
		pollInterval:   time.Second,
		publishTimeout: 5 * time.Second,
		retention:      7 * 24 * time.Hour,
		listen:         true,
		backoffMin:     time.Second,
		backoffMax:     time.Minute,
		maxDeliver:     5,
		ackWait:        30 * time.Second,
		prefetch:       16,
		dlqRoot:        DefaultDeadLetterRoot,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.metrics == nil {
		o.metrics = newMetrics() // unregistered: counts go nowhere
	}
	return o
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithMetrics records into m (see NewMetrics); default: not exported.
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// WithStream names the JetStream stream (default STUDIO).
func WithStream(name string) Option { return func(o *options) { o.stream = name } }

// WithStreamSubjects sets the stream's subjects (default studio.>). The
// dead-letter subjects must be among them.
func WithStreamSubjects(subjects ...string) Option {
	return func(o *options) { o.subjects = subjects }
}

// WithDuplicateWindow sets the stream's de-duplication window (default 10
// minutes): a message whose Nats-Msg-Id was stored within it is dropped.
func WithDuplicateWindow(d time.Duration) Option { return func(o *options) { o.dupWindow = d } }

// WithMaxAge sets how long the stream keeps messages (default 30 days); a
// replay re-reads what the stream still holds.
func WithMaxAge(d time.Duration) Option { return func(o *options) { o.maxAge = d } }

// WithBatchSize sets how many outbox rows the relay claims at once (default
// 100, at most 1000).
func WithBatchSize(n int) Option {
	return func(o *options) { o.batch = min(max(n, 1), 1000) }
}

// WithPollInterval sets how often the relay looks for unsent rows when no
// notification woke it (default 1 s).
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.pollInterval = d } }

// WithPublishTimeout bounds the wait for one PubAck (default 5 s).
func WithPublishTimeout(d time.Duration) Option { return func(o *options) { o.publishTimeout = d } }

// WithRetention sets how long sent outbox rows are kept before the relay
// deletes them (default 7 days; 0 keeps them).
func WithRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// WithoutListen makes the relay poll only, without LISTEN/NOTIFY.
func WithoutListen() Option { return func(o *options) { o.listen = false } }

// WithBackoff sets the exponential wait after a failure, from min doubling
// up to max: the relay's wait after a failed batch, and a consumer's
// redelivery delay after a failed handler (default 1 s to 1 min).
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = minWait, max(minWait, maxWait) }
}

// WithMaxDeliver sets how many times a consumer tries a message before it goes
// to the dead-letter subject (default 5).
func WithMaxDeliver(n int) Option { return func(o *options) { o.maxDeliver = max(n, 1) } }

// WithAckWait sets how long a handler may run before the message is
// redelivered (default 30 s); the handler's context ends then too.
func WithAckWait(d time.Duration) Option { return func(o *options) { o.ackWait = d } }

// WithPrefetch sets how many messages a consumer buffers (default 16).
func WithPrefetch(n int) Option { return func(o *options) { o.prefetch = min(max(n, 1), 1000) } }

// WithDeadLetterRoot sets the root of dead-letter subjects (default
// studio.dlq): a consumer's dead letters go to <root>.<consumer>.
func WithDeadLetterRoot(root string) Option { return func(o *options) { o.dlqRoot = root } }

// backoff returns the wait before attempt n+1 after n failures (n >= 1).
func (o *options) backoff(n int) time.Duration {
	d := o.backoffMin
	for i := 1; i < n && d < o.backoffMax; i++ {
		d *= 2
	}
	return min(d, o.backoffMax)
}
