package ai_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/gqlws"
)

const chatSubscription = `subscription($s: ID!, $after: ID) {
  chatMessage(sessionId: $s, after: $after) { id messageId seq type delta error message { id role content } }
}`

type chatEvent struct {
	ID, MessageID, Type string
	Seq                 int
	Delta, Error        *string
	Message             *struct{ ID, Role, Content string }
}

// subscribeChat subscribes to a session's answers with the token in
// connection_init; next reads the following result (data or errors).
func (e *env) subscribeChat(t *testing.T, tok string, vars map[string]any) func() (chatEvent, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c, err := gqlws.Dial(ctx, strings.Replace(e.url, "http", "ws", 1), gqlws.WithInitPayload(map[string]string{"Authorization": "Bearer " + tok}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	s, err := c.Subscribe(ctx, map[string]any{"query": chatSubscription, "variables": vars}, 64)
	require.NoError(t, err)
	return func() (chatEvent, string) {
		p, err := s.Next(ctx)
		var oe *gqlws.OperationError
		if errors.As(err, &oe) {
			return chatEvent{}, string(oe.Payload)
		}
		require.NoError(t, err)
		var r struct {
			Data   struct{ ChatMessage chatEvent }
			Errors json.RawMessage
		}
		require.NoError(t, json.Unmarshal(p, &r))
		return r.Data.ChatMessage, string(r.Errors)
	}
}

// untilDone reads events up to the answer's DONE.
func untilDone(t *testing.T, next func() (chatEvent, string)) []chatEvent {
	t.Helper()
	var out []chatEvent
	for {
		ev, errs := next()
		require.Empty(t, errs)
		out = append(out, ev)
		if ev.Type != "TOKEN" {
			return out
		}
	}
}

func chatMessageSubscription(t *testing.T, e *env) {
	tn := e.tenant(t)
	session := e.startSession(t, tn)
	live := e.subscribeChat(t, tn.token, map[string]any{"s": session, "after": "0"})
	a := e.ask(t, tn, session, "Is multi-factor authentication required?").SendChatMessage.Answer

	evs := untilDone(t, live)
	var text strings.Builder
	for i, ev := range evs[:len(evs)-1] {
		require.Equal(t, a.ID, ev.MessageID)
		require.Equal(t, i+1, ev.Seq)
		require.Nil(t, ev.Message)
		text.WriteString(*ev.Delta)
	}
	done := evs[len(evs)-1]
	require.Equal(t, "DONE", done.Type)
	require.Equal(t, a.Content, text.String())
	require.NotNil(t, done.Message)
	require.Equal(t, a.ID, done.Message.ID)
	require.Equal(t, a.Content, done.Message.Content)

	// Resuming after the first event gives the rest, ids and all.
	resumed := untilDone(t, e.subscribeChat(t, tn.token, map[string]any{"s": session, "after": evs[0].ID}))
	require.Equal(t, evs[1:], resumed)

	// Another organization's session does not exist; inputs are bounded.
	_, errs := e.subscribeChat(t, e.tenant(t).token, map[string]any{"s": session})()
	require.Contains(t, errs, "NOT_FOUND")
	_, errs = e.subscribeChat(t, tn.token, map[string]any{"s": session, "after": strings.Repeat("9", 40)})()
	require.Contains(t, errs, "BAD_USER_INPUT")
}
