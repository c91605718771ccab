package graph

import (
	"context"
	"strconv"
	"strings"

	"github.com/studio-platform/studio/subgraphs/ai/graph/model"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// chatMessage streams a session's answers from the token stream: the events
// published from now on, or with after every kept event after that one.
func (r *Resolver) chatMessage(ctx context.Context, sessionID string, after *string) (<-chan *model.ChatMessageEvent, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	if r.Assistant == nil {
		return nil, kit.Errorf(kit.CodeServiceUnavailable, "chat streams are not available")
	}
	if len(sessionID) > kit.MaxID || !kit.IsUUID(sessionID) {
		return nil, kit.NotFound("chat session", sessionID)
	}
	sessionID = strings.ToLower(sessionID)
	seq, err := kit.AfterArg(after)
	if err != nil {
		return nil, err
	}
	sessions, err := r.Store.SessionsByIDs(ctx, c.OrgID, []string{sessionID})
	if err != nil {
		return nil, err
	}
	if sessions[0] == nil {
		return nil, kit.NotFound("chat session", sessionID)
	}
	events, err := r.Assistant.Follow(ctx, sessionID, seq, after == nil)
	if err != nil {
		return nil, err
	}
	out := make(chan *model.ChatMessageEvent, 1)
	go func() {
		defer close(out)
		for e := range events {
			ev := &model.ChatMessageEvent{ID: strconv.FormatUint(e.StreamSeq, 10), OrgID: c.OrgID, MessageID: e.MessageID,
				Seq: e.Seq, Type: model.ChatEventType(strings.ToUpper(e.Type))}
			if e.Delta != "" {
				ev.Delta = &e.Delta
			}
			if e.Error != "" {
				ev.Error = &e.Error
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// chatEventMessage reads a DONE event's stored answer when the event is sent
// (not through the loaders, which cache for the subscription's request).
func (r *Resolver) chatEventMessage(ctx context.Context, ev *model.ChatMessageEvent) (*model.ChatMessage, error) {
	if ev.Type != model.ChatEventTypeDone {
		return nil, nil
	}
	rows, err := r.Store.MessagesByIDs(ctx, ev.OrgID, []string{ev.MessageID})
	if err != nil {
		return nil, err
	}
	return rows[0], nil
}
