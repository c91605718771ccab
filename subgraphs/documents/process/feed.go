package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/studio-platform/studio/subgraphs/kit"
)

// ProgressStream keeps the progress messages (subjects ProgressRoot.>) for
// ProgressRetention, so that a subscriber resuming after an event id gets
// what it missed. Memory is bounded by MaxMsgsPerSubject per job and the age.
const (
	ProgressStream    = "DOCUMENTS_PROGRESS"
	ProgressRetention = time.Hour
	progressPerJob    = 256
)

// Feed reads the progress stream.
type Feed struct {
	js jetstream.JetStream
}

// NewFeed returns a feed on JetStream.
func NewFeed(js jetstream.JetStream) *Feed { return &Feed{js: js} }

// EnsureStream creates the progress stream (or updates it).
func (f *Feed) EnsureStream(ctx context.Context) error {
	_, err := f.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              ProgressStream,
		Subjects:          []string{ProgressRoot + ".>"},
		Storage:           jetstream.FileStorage,
		MaxAge:            ProgressRetention,
		MaxMsgsPerSubject: progressPerJob,
		Discard:           jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("process: stream %s: %w", ProgressStream, err)
	}
	return nil
}

// Message is one progress message read from the stream; Seq is its stream
// sequence (the event id clients resume after).
type Message struct {
	Seq uint64
	Progress
}

// Final reports whether m is its job's last message.
func (m Message) Final() bool { return m.State == "SUCCEEDED" || m.State == "FAILED" }

// Kept reports whether the stream still holds a message on subject.
func (f *Feed) Kept(ctx context.Context, subject string) (bool, error) {
	s, err := f.js.Stream(ctx, ProgressStream)
	if err != nil {
		return false, fmt.Errorf("process: progress stream: %w", err)
	}
	_, err = s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("process: progress stream: %w", err)
	}
	return true, nil
}

// Follow delivers the messages on subject (wildcards allowed) with a
// sequence above after (0: every message kept), in order, until ctx ends or
// the channel's reader stops; the channel is closed then. A malformed
// message is skipped.
func (f *Feed) Follow(ctx context.Context, subject string, after uint64) (<-chan Message, error) {
	msgs, err := kit.Follow(ctx, f.js, ProgressStream, subject, after, false)
	if err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	out := make(chan Message, 1)
	go func() {
		defer close(out)
		for sm := range msgs {
			m := Message{Seq: sm.Seq}
			if json.Unmarshal(sm.Data, &m.Progress) != nil {
				continue
			}
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
