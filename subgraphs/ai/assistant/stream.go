package assistant

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/studio-platform/studio/subgraphs/kit"
)

// The token stream: every piece of an answer is published, as the provider
// produces it, on ChatSubject(sessionID) in the JetStream stream ChatStream,
// so a client that reconnects resumes from the last sequence it saw (or
// replays a whole answer within ChatMaxAge). The subjects are outside
// studio.>: they are not domain events (internal/events).
const (
	ChatStream      = "AI_CHAT"
	ChatSubjectRoot = "ai.chat"
	ChatMaxAge      = 24 * time.Hour
)

// ChatSubject is where session id's answers are streamed.
func ChatSubject(sessionID string) string { return ChatSubjectRoot + "." + sessionID }

// Token event types.
const (
	EventToken = "token" // Delta is the next piece of the answer
	EventDone  = "done"  // the answer is stored as message MessageID
	EventError = "error" // the answer failed (Error); nothing is stored
)

// TokenEvent is the JSON payload of one message on a ChatSubject. Seq
// counts the events of one answer from 1; the Nats-Msg-Id header is
// "<messageId>:<seq>".
type TokenEvent struct {
	SessionID string `json:"sessionId"`
	MessageID string `json:"messageId"`
	Seq       int    `json:"seq"`
	Type      string `json:"type"`
	Delta     string `json:"delta,omitempty"`
	Error     string `json:"error,omitempty"`
}

// EnsureChatStream creates the token stream (or updates it to these settings).
func EnsureChatStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       ChatStream,
		Subjects:   []string{ChatSubjectRoot + ".>"},
		Storage:    jetstream.FileStorage,
		MaxAge:     ChatMaxAge,
		Duplicates: 2 * time.Minute,
		MaxMsgSize: 64 << 10,
	})
	if err != nil {
		return nil, fmt.Errorf("assistant: stream %s: %w", ChatStream, err)
	}
	return s, nil
}

// Stream publishes one answer's events in order (not safe for concurrent use).
type Stream struct {
	js        jetstream.JetStream
	subject   string
	sessionID string
	messageID string
	seq       int
}

func (t *Stream) publish(ctx context.Context, typ, delta, errMsg string) error {
	t.seq++
	b, err := json.Marshal(TokenEvent{SessionID: t.sessionID, MessageID: t.messageID, Seq: t.seq, Type: typ, Delta: delta, Error: errMsg})
	if err != nil {
		return err
	}
	if _, err := t.js.Publish(ctx, t.subject, b, jetstream.WithMsgID(t.messageID+":"+strconv.Itoa(t.seq))); err != nil {
		return fmt.Errorf("publish %s %d: %w", typ, t.seq, err)
	}
	return nil
}

// Stream returns the event stream of answer messageID in session sessionID.
func (a *Assistant) Stream(sessionID, messageID string) *Stream {
	return &Stream{js: a.js, subject: ChatSubject(sessionID), sessionID: sessionID, messageID: messageID}
}

// Done publishes the end of the answer, once it is stored.
func (t *Stream) Done(ctx context.Context) error { return t.publish(ctx, EventDone, "", "") }

// Fail publishes that the answer failed, with what a client may read of cause.
func (t *Stream) Fail(ctx context.Context, cause error) error {
	return t.publish(ctx, EventError, "", Reason(cause))
}

// Events is how many events were published.
func (t *Stream) Events() int { return t.seq }

// Followed is one event read back from the token stream; StreamSeq is its
// stream sequence (the event id clients resume after).
type Followed struct {
	StreamSeq uint64
	TokenEvent
}

// Follow delivers session sessionID's events with a stream sequence above
// after (0: every event kept), or with newOnly those published from now on,
// until ctx ends; the channel is closed then. A malformed message is skipped.
func (a *Assistant) Follow(ctx context.Context, sessionID string, after uint64, newOnly bool) (<-chan Followed, error) {
	msgs, err := kit.Follow(ctx, a.js, ChatStream, ChatSubject(sessionID), after, newOnly)
	if err != nil {
		return nil, fmt.Errorf("assistant: %w", err)
	}
	out := make(chan Followed, 1)
	go func() {
		defer close(out)
		for m := range msgs {
			f := Followed{StreamSeq: m.Seq}
			if json.Unmarshal(m.Data, &f.TokenEvent) != nil {
				continue
			}
			select {
			case out <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
