package graph

import (
	"context"
	"errors"
	"strings"

	"github.com/studio-platform/studio/subgraphs/ai/assistant"
	"github.com/studio-platform/studio/subgraphs/ai/graph/model"
	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/ai/store"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// MaxQuestion bounds a chat message (characters).
const MaxQuestion = 4000

// ref returns make(*id), nil for no id.
func ref[T any](id *string, make func(string) *T) *T {
	if id == nil {
		return nil
	}
	return make(*id)
}

// uuidArg records a problem unless v is a UUID; it returns v in canonical form.
func uuidArg(in *kit.Input, field, v string) string {
	v = strings.ToLower(strings.TrimSpace(in.Text(field, v, kit.MaxID)))
	if v != "" && !kit.IsUUID(v) {
		in.Problemf("%s must be a UUID", field)
	}
	return v
}

// project checks that project id exists in the caller's organization
// (NOT_FOUND otherwise): the compliance graph knows the organization's projects.
func (r *Resolver) project(ctx context.Context, orgID, id string) error {
	ok, err := r.Assistant.Graph().HasProject(ctx, projection.Scope{OrgID: orgID, ProjectID: id})
	if err != nil {
		return err
	}
	if !ok {
		return kit.NotFound("project", id)
	}
	return nil
}

func (r *Resolver) startChatSession(ctx context.Context, input model.StartChatSessionInput) (*model.ChatSession, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var in kit.Input
	project := uuidArg(&in, "projectId", input.ProjectID)
	title := in.Optional("title", input.Title, kit.MaxName)
	if err := in.Err(); err != nil {
		return nil, err
	}
	if title == "" {
		title = "Chat"
	}
	if err := r.project(ctx, c.OrgID, project); err != nil {
		return nil, err
	}
	s := &model.ChatSession{ID: store.NewID(), OrgID: c.OrgID, ProjectID: project, CreatedByID: c.Subject, Title: title}
	if err := r.Store.CreateSession(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (r *Resolver) chatSessions(ctx context.Context, projectID *string, first *int, after *string) (*model.ChatSessionConnection, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	page, err := kit.PageArgs(first, after)
	if err != nil {
		return nil, err
	}
	if projectID == nil {
		return r.Store.Sessions(ctx, c.OrgID, page)
	}
	var in kit.Input
	project := uuidArg(&in, "projectId", *projectID)
	if err := in.Err(); err != nil {
		return nil, err
	}
	conns, err := r.Store.SessionsByProjectIDs(ctx, c.OrgID, []kit.PageKey{{ID: project, Page: page}})
	if err != nil {
		return nil, err
	}
	return conns[0], nil
}

// sendChatMessage asks the caller's question in one of the caller's
// organization's sessions (Ask).
func (r *Resolver) sendChatMessage(ctx context.Context, input model.SendChatMessageInput) (*model.SendChatMessagePayload, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var in kit.Input
	sessionID := uuidArg(&in, "sessionId", input.SessionID)
	question := in.Text("content", input.Content, MaxQuestion)
	if err := in.Err(); err != nil {
		return nil, err
	}
	sessions, err := r.Store.SessionsByIDs(ctx, c.OrgID, []string{sessionID})
	if err != nil {
		return nil, err
	}
	session := sessions[0]
	if session == nil {
		return nil, kit.NotFound("chat session", sessionID)
	}
	return r.Ask(ctx, session, c.Subject, question, store.NewID(), store.NewID())
}

// Ask stores user's question in session (as message questionID), answers
// it (tokens streamed on the session's subject as they come), stores the
// answer (answerID) and then publishes the stream's done event.
func (r *Resolver) Ask(ctx context.Context, session *model.ChatSession, user, question, questionID, answerID string) (*model.SendChatMessagePayload, error) {
	earlier, err := r.Store.History(ctx, session.OrgID, session.ID, r.Assistant.HistoryLen())
	if err != nil {
		return nil, err
	}
	asked := &model.ChatMessage{ID: questionID, OrgID: session.OrgID, SessionID: session.ID, Role: model.ChatRoleUser, Content: question, AuthorID: &user}
	if err := r.Store.AddMessage(ctx, asked); err != nil {
		return nil, err
	}
	st := r.Assistant.Stream(session.ID, answerID)
	ans, err := r.Assistant.Chat(ctx, st, session.OrgID, session.ProjectID, history(earlier), question)
	if err != nil {
		_ = st.Fail(context.WithoutCancel(ctx), err)
		return nil, providerError(err)
	}
	pt, ct := ans.Usage.PromptTokens, ans.Usage.CompletionTokens
	answer := &model.ChatMessage{ID: answerID, OrgID: session.OrgID, SessionID: session.ID, Role: model.ChatRoleAssistant, Content: ans.Text,
		Citations: ans.Citations, Model: &ans.Model, PromptTokens: &pt, CompletionTokens: &ct}
	if err := r.Store.AddMessage(ctx, answer); err != nil {
		_ = st.Fail(context.WithoutCancel(ctx), err)
		return nil, err
	}
	if err := st.Done(ctx); err != nil {
		return nil, err
	}
	return &model.SendChatMessagePayload{Message: asked, Answer: answer}, nil
}

func history(msgs []*model.ChatMessage) []provider.Message {
	out := make([]provider.Message, len(msgs))
	for i, m := range msgs {
		out[i] = provider.Message{Role: provider.RoleUser, Content: m.Content}
		if m.Role == model.ChatRoleAssistant {
			out[i].Role = provider.RoleAssistant
		}
	}
	return out
}

// providerError classifies a provider's failure for the client (the cause
// is kept for the logs).
func providerError(err error) error {
	var ke *kit.Error
	if errors.As(err, &ke) || !isProviderError(err) {
		return err
	}
	code := kit.CodeServiceUnavailable
	if errors.Is(err, provider.ErrInputTooLarge) {
		code = kit.CodeBadUserInput
	}
	return &kit.Error{Code: code, Message: assistant.Reason(err), Err: err}
}

func isProviderError(err error) bool {
	for _, e := range []error{provider.ErrRateLimited, provider.ErrAuth, provider.ErrBadRequest, provider.ErrUnavailable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
