// Package eventtest reads the events stream in tests: the tests of a package
// share one NATS server (internal/testenv), so they find their own events by
// content, never by position.
package eventtest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/events"
)

// Wait reads the STUDIO stream on natsURL from the start, filtered to
// subject, until match accepts a message's payload (decoded into a fresh T),
// and returns it with the message's organization header. It fails the test
// after timeout.
func Wait[T any](t testing.TB, natsURL, subject string, timeout time.Duration, match func(T) bool) (T, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	var stream jetstream.Stream
	require.Eventually(t, func() bool {
		stream, err = js.Stream(ctx, events.DefaultStream)
		return err == nil
	}, timeout, 20*time.Millisecond, "stream %s", events.DefaultStream)
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	require.NoError(t, err)
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Until(deadline(ctx))))
		require.NoError(t, err, "no %s event matched within %s", subject, timeout)
		var v T
		if json.Unmarshal(msg.Data(), &v) == nil && match(v) {
			return v, msg.Headers().Get(events.HeaderOrganization)
		}
	}
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
