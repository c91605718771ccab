package kit

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamMsg is one message a subscription reads from a JetStream stream; Seq
// is its stream sequence, the event id clients resume after.
type StreamMsg struct {
	Seq  uint64
	Data []byte
}

// maxEventID bounds an event id argument (a uint64 in decimal).
const maxEventID = 20

// AfterArg parses a subscription's after argument (an event id, the stream
// sequence of the last event the client saw): 0 without it; BAD_USER_INPUT
// for anything but a decimal sequence.
func AfterArg(after *string) (uint64, error) {
	if after == nil {
		return 0, nil
	}
	seq, err := strconv.ParseUint(*after, 10, 64)
	if err != nil || len(*after) > maxEventID {
		return 0, BadInput("after: not an event id")
	}
	return seq, nil
}

// Follow delivers the messages of stream on subject (wildcards allowed)
// with a sequence above after (0: every message kept; newOnly: only those
// published from now on), in order, through an ordered consumer, until ctx
// ends or the channel's reader stops; the channel is closed then.
func Follow(ctx context.Context, js jetstream.JetStream, stream, subject string, after uint64, newOnly bool) (<-chan StreamMsg, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	switch {
	case after > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	case newOnly:
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", subject, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", subject, err)
	}
	out := make(chan StreamMsg, 16)
	stop := context.AfterFunc(ctx, it.Stop)
	go func() {
		defer close(out)
		defer stop()
		defer it.Stop()
		for {
			msg, err := it.Next()
			if err != nil {
				return
			}
			md, err := msg.Metadata()
			if err != nil {
				continue
			}
			select {
			case out <- StreamMsg{Seq: md.Sequence.Stream, Data: msg.Data()}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
