package provider

import (
	"context"
)

// Role is who wrote a message.
type Role string

// The roles a conversation has.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content string
}

// Passage is a retrieved piece of context the answer must be grounded in
// (a control, an evidence item, a document chunk). Answers cite it as [ID].
type Passage struct {
	// ID is how the answer cites the passage: short, without spaces or
	// brackets (e.g. "doc-3#2", "CC6.1").
	ID string
	// Title is an optional human label (a document or control name).
	Title string
	// Text is the passage itself.
	Text string
}

// ChatRequest is one chat completion.
type ChatRequest struct {
	// Messages are the conversation, oldest first; the last one is the
	// user's question. System messages set the task (e.g. "does this
	// evidence support this control").
	Messages []Message
	// Passages ground the answer. Remote providers get them in a system
	// message that asks for [ID] citations; the offline provider quotes them.
	Passages []Passage
	// MaxTokens bounds the completion (0: the provider's default).
	MaxTokens int
	// Temperature, when set, is passed to remote providers.
	Temperature *float64
}

// DeltaFunc receives each piece of the answer as the provider produces it,
// in order, on the goroutine that called Chat. Returning an error stops the
// completion; Chat then returns that error (wrapped).
type DeltaFunc func(delta string) error

// Usage is the token accounting of one call.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	// Estimated is true when the server reported no usage and the counts are
	// estimated from the text (about four bytes a token). The offline
	// provider counts words and sets it too.
	Estimated bool
}

// TotalTokens is PromptTokens + CompletionTokens.
func (u Usage) TotalTokens() int { return u.PromptTokens + u.CompletionTokens }

// ChatResult is a finished completion.
type ChatResult struct {
	// Text is the whole answer: the concatenation of every delta.
	Text string
	// Citations are the IDs of the request's passages that Text cites as
	// [ID], in order of first citation.
	Citations []string
	// FinishReason is the provider's reason for stopping ("stop", "length",
	// Gemini's "STOP", "MAX_TOKENS", "SAFETY", …).
	FinishReason string
	// Model is the model that answered, as the provider named it.
	Model string
	Usage Usage
}

// EmbedResult holds one vector per input text, in input order, each of the
// provider's Dimensions and L2-normalised (so a dot product is the cosine
// similarity).
type EmbedResult struct {
	Vectors [][]float32
	Usage   Usage
}

// Chatter streams chat completions.
type Chatter interface {
	// Chat runs one completion, calling onDelta (if not nil) with each
	// piece of the answer as it arrives. It retries a failed request (rate
	// limited, unavailable, connection error) with backoff, but never once a
	// delta has been delivered. Errors wrap ErrRateLimited, ErrAuth,
	// ErrBadRequest, ErrInputTooLarge, ErrUnavailable or the context's error.
	Chat(ctx context.Context, req ChatRequest, onDelta DeltaFunc) (ChatResult, error)
}

// Embedder turns texts into vectors.
type Embedder interface {
	// Embed returns one vector per text. Empty texts are refused
	// (ErrBadRequest); a batch is bounded by Limits.
	Embed(ctx context.Context, texts []string) (EmbedResult, error)
	// Dimensions is the fixed length of every vector.
	Dimensions() int
}

// Provider is a chat and embedding backend.
type Provider interface {
	Chatter
	Embedder
	// Name is "offline", "openai" or "gemini".
	Name() string
	// ChatModel and EmbeddingModel name the models in use.
	ChatModel() string
	EmbeddingModel() string
}
