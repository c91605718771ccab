// Package model holds the ai subgraph's GraphQL models: the hand-written
// entity structs and enums here (bound by autobind, so relation fields
// become resolvers) and gqlgen's generated inputs in models_gen.go.
package model

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/studio-platform/studio/subgraphs/kit"
)

// ChatSession is a conversation about one project.
type ChatSession struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"-"`
	ProjectID   string    `json:"-"`
	CreatedByID string    `json:"-"`
	Title       string    `json:"title"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// IsEntity marks ChatSession as a federation entity.
func (ChatSession) IsEntity() {}

// ChatMessage is one message of a session.
type ChatMessage struct {
	ID               string     `json:"id"`
	OrgID            string     `json:"-"`
	SessionID        string     `json:"-"`
	Role             ChatRole   `json:"role"`
	Content          string     `json:"content"`
	Citations        []Citation `json:"citations"`
	AuthorID         *string    `json:"-"`
	Model            *string    `json:"model"`
	PromptTokens     *int       `json:"promptTokens"`
	CompletionTokens *int       `json:"completionTokens"`
	CreatedAt        time.Time  `json:"createdAt"`
}

// IsEntity marks ChatMessage as a federation entity.
func (ChatMessage) IsEntity() {}

// Citation is a passage an answer cites (stored as JSON with its message,
// analysis or draft).
type Citation struct {
	Ref        string       `json:"ref"`
	Kind       CitationKind `json:"kind"`
	ChunkID    *string      `json:"chunkId,omitempty"`
	DocumentID *string      `json:"documentId,omitempty"`
	ControlID  *string      `json:"controlId,omitempty"`
	EvidenceID *string      `json:"evidenceId,omitempty"`
	Quote      string       `json:"quote"`
}

// Analysis is a job deciding whether evidence supports a control.
type Analysis struct {
	ID            string           `json:"id"`
	OrgID         string           `json:"-"`
	EvidenceID    string           `json:"-"`
	ControlID     string           `json:"-"`
	State         AIJobState       `json:"state"`
	Verdict       *AnalysisVerdict `json:"verdict"`
	Summary       *string          `json:"summary"`
	Citations     []Citation       `json:"citations"`
	Model         *string          `json:"model"`
	Error         *string          `json:"error"`
	RequestedByID string           `json:"-"`
	CreatedAt     time.Time        `json:"createdAt"`
	UpdatedAt     time.Time        `json:"updatedAt"`
}

// IsEntity marks Analysis as a federation entity.
func (Analysis) IsEntity() {}

// PolicyDraft is a job writing a draft policy for a framework.
type PolicyDraft struct {
	ID            string     `json:"id"`
	OrgID         string     `json:"-"`
	ProjectID     string     `json:"-"`
	FrameworkID   string     `json:"-"`
	State         AIJobState `json:"state"`
	Title         string     `json:"title"`
	Content       *string    `json:"content"`
	DocumentID    *string    `json:"-"`
	Model         *string    `json:"model"`
	Error         *string    `json:"error"`
	RequestedByID string     `json:"-"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
}

// IsEntity marks PolicyDraft as a federation entity.
func (PolicyDraft) IsEntity() {}

// Project is compliance's entity, known here by id.
type Project struct {
	ID string `json:"id"`
}

// IsEntity marks Project as a federation entity.
func (Project) IsEntity() {}

// Evidence is compliance's entity, known here by id.
type Evidence struct {
	ID string `json:"id"`
}

// IsEntity marks Evidence as a federation entity.
func (Evidence) IsEntity() {}

// Control is compliance's entity, known here by id.
type Control struct {
	ID string `json:"id"`
}

// IsEntity marks Control as a federation entity.
func (Control) IsEntity() {}

// Framework is compliance's entity, known here by id.
type Framework struct {
	ID string `json:"id"`
}

// IsEntity marks Framework as a federation entity.
func (Framework) IsEntity() {}

// Document is documents' entity, known here by id.
type Document struct {
	ID string `json:"id"`
}

// IsEntity marks Document as a federation entity.
func (Document) IsEntity() {}

// User is identity's entity, known here by id.
type User struct {
	ID string `json:"id"`
}

// IsEntity marks User as a federation entity.
func (User) IsEntity() {}

// Connections (Relay) of the subgraph's lists.
type (
	ChatSessionConnection = kit.Connection[ChatSession]
	ChatSessionEdge       = kit.Edge[ChatSession]
	ChatMessageConnection = kit.Connection[ChatMessage]
	ChatMessageEdge       = kit.Edge[ChatMessage]
	AnalysisConnection    = kit.Connection[Analysis]
	AnalysisEdge          = kit.Edge[Analysis]
	PolicyDraftConnection = kit.Connection[PolicyDraft]
	PolicyDraftEdge       = kit.Edge[PolicyDraft]
)

// ChatRole is who wrote a message.
type ChatRole string

// ChatRole values.
const (
	ChatRoleUser      ChatRole = "USER"
	ChatRoleAssistant ChatRole = "ASSISTANT"
)

// CitationKind is what a citation points at.
type CitationKind string

// CitationKind values.
const (
	CitationKindChunk    CitationKind = "CHUNK"
	CitationKindControl  CitationKind = "CONTROL"
	CitationKindEvidence CitationKind = "EVIDENCE"
)

// AIJobState is where an analysis or a draft stands.
type AIJobState string

// AIJobState values.
const (
	AIJobStateQueued    AIJobState = "QUEUED"
	AIJobStateRunning   AIJobState = "RUNNING"
	AIJobStateSucceeded AIJobState = "SUCCEEDED"
	AIJobStateFailed    AIJobState = "FAILED"
)

// AnalysisVerdict is whether evidence supports a control.
type AnalysisVerdict string

// AnalysisVerdict values.
const (
	AnalysisVerdictSupported    AnalysisVerdict = "SUPPORTED"
	AnalysisVerdictPartial      AnalysisVerdict = "PARTIAL"
	AnalysisVerdictNotSupported AnalysisVerdict = "NOT_SUPPORTED"
	AnalysisVerdictNoDocuments  AnalysisVerdict = "NO_DOCUMENTS"
)

// unmarshalEnum reads a GraphQL enum value into *dst when it is one of valid.
func unmarshalEnum[E ~string](dst *E, v any, valid ...E) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	if !slices.Contains(valid, E(s)) {
		return fmt.Errorf("%s is not a valid %T", s, *dst)
	}
	*dst = E(s)
	return nil
}

func marshalEnum(w io.Writer, s string) { _, _ = io.WriteString(w, strconv.Quote(s)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (e *ChatRole) UnmarshalGQL(v any) error {
	return unmarshalEnum(e, v, ChatRoleUser, ChatRoleAssistant)
}

// MarshalGQL implements graphql.Marshaler.
func (e ChatRole) MarshalGQL(w io.Writer) { marshalEnum(w, string(e)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (e *CitationKind) UnmarshalGQL(v any) error {
	return unmarshalEnum(e, v, CitationKindChunk, CitationKindControl, CitationKindEvidence)
}

// MarshalGQL implements graphql.Marshaler.
func (e CitationKind) MarshalGQL(w io.Writer) { marshalEnum(w, string(e)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (e *AIJobState) UnmarshalGQL(v any) error {
	return unmarshalEnum(e, v, AIJobStateQueued, AIJobStateRunning, AIJobStateSucceeded, AIJobStateFailed)
}

// MarshalGQL implements graphql.Marshaler.
func (e AIJobState) MarshalGQL(w io.Writer) { marshalEnum(w, string(e)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (e *AnalysisVerdict) UnmarshalGQL(v any) error {
	return unmarshalEnum(e, v, AnalysisVerdictSupported, AnalysisVerdictPartial, AnalysisVerdictNotSupported, AnalysisVerdictNoDocuments)
}

// MarshalGQL implements graphql.Marshaler.
func (e AnalysisVerdict) MarshalGQL(w io.Writer) { marshalEnum(w, string(e)) }

// ChatMessageEvent is one token event of a session's answer; its message is
// a resolver, read when a DONE event is sent.
type ChatMessageEvent struct {
	ID        string        `json:"id"`
	OrgID     string        `json:"-"`
	MessageID string        `json:"messageId"`
	Seq       int           `json:"seq"`
	Type      ChatEventType `json:"type"`
	Delta     *string       `json:"delta"`
	Error     *string       `json:"error"`
}
