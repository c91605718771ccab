// Package store is the ai subgraph's PostgreSQL storage (schema "ai"): chat
// sessions and their messages, evidence analyses and policy drafts. Every
// read and write is scoped by an organization id. Embeddings of document
// chunks are not here but in Neo4j (package vectors).
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/internal/pg"
	"github.com/studio-platform/studio/subgraphs/ai/graph/model"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Schema is the Postgres schema the ai subgraph owns.
const Schema = "ai"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migrations (the *.sql files at its root).
func Migrations() fs.FS { return pg.Dir(migrationFiles, "migrations") }

// ErrNotFound is returned for a row absent from the caller's organization.
var ErrNotFound = errors.New("not found")

// Store reads and writes the ai subgraph's tables.
type Store struct {
	*pg.DB
}

// New returns the store on db (opened on Schema with Migrations, e.g. by kit.Open).
func New(db *pg.DB) *Store { return &Store{DB: db} }

// NewID returns a new row id.
func NewID() string { return uuid.NewString() }

const (
	sessionCols = "id::text, org_id::text, project_id::text, created_by::text, title, created_at, updated_at"
	messageCols = "id::text, org_id::text, session_id::text, role, content, citations, author_id::text, model, prompt_tokens, completion_tokens, created_at"
)

func sessionFields(s *model.ChatSession) []any {
	return []any{&s.ID, &s.OrgID, &s.ProjectID, &s.CreatedByID, &s.Title, &s.CreatedAt, &s.UpdatedAt}
}

func messageFields(m *model.ChatMessage) []any {
	return []any{&m.ID, &m.OrgID, &m.SessionID, &m.Role, &m.Content, &m.Citations, &m.AuthorID, &m.Model, &m.PromptTokens,
		&m.CompletionTokens, &m.CreatedAt}
}

// SessionsByIDs returns chat sessions of orgID in key order, nil where there is none. One query.
func (s *Store) SessionsByIDs(ctx context.Context, orgID string, ids []string) ([]*model.ChatSession, error) {
	return kit.ByIDs(ctx, s.Pool(), sessionCols, "chat_sessions", sessionFields, func(c *model.ChatSession) string { return c.ID }, orgID, ids)
}

// MessagesByIDs returns chat messages of orgID in key order, nil where there is none. One query.
func (s *Store) MessagesByIDs(ctx context.Context, orgID string, ids []string) ([]*model.ChatMessage, error) {
	return kit.ByIDs(ctx, s.Pool(), messageCols, "chat_messages", messageFields, func(m *model.ChatMessage) string { return m.ID }, orgID, ids)
}

// The lists, each scoped by organization ($2).
var (
	sessionsOfOrg     = kit.PageQuery{Select: sessionCols, From: "chat_sessions", Key: "org_id", Where: "org_id = $2::uuid", Order: "updated_at DESC, id"}
	sessionsOfProject = kit.PageQuery{Select: sessionCols, From: "chat_sessions", Key: "project_id", Where: "org_id = $2::uuid", Order: "updated_at DESC, id"}
	messagesOfSession = kit.PageQuery{Select: messageCols, From: "chat_messages", Key: "session_id", Where: "org_id = $2::uuid", Order: "seq"}
)

// Sessions returns a page of orgID's chat sessions, most recently active first.
func (s *Store) Sessions(ctx context.Context, orgID string, page kit.Page) (*model.ChatSessionConnection, error) {
	c, err := kit.Pages(ctx, s.Pool(), sessionsOfOrg, []kit.PageKey{{ID: orgID, Page: page}}, sessionFields, orgID)
	if err != nil {
		return nil, err
	}
	return c[0], nil
}

// SessionsByProjectIDs returns, per key, a page of its project's chat sessions. One query.
func (s *Store) SessionsByProjectIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.ChatSessionConnection, error) {
	return kit.Pages(ctx, s.Pool(), sessionsOfProject, keys, sessionFields, orgID)
}

// MessagesBySessionIDs returns, per key, a page of its session's messages, oldest first. One query.
func (s *Store) MessagesBySessionIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.ChatMessageConnection, error) {
	return kit.Pages(ctx, s.Pool(), messagesOfSession, keys, messageFields, orgID)
}

// CreateSession inserts cs (ID, OrgID, ProjectID, CreatedByID, Title set)
// and fills its timestamps.
func (s *Store) CreateSession(ctx context.Context, cs *model.ChatSession) error {
	err := s.Pool().QueryRow(ctx, `INSERT INTO chat_sessions (id, org_id, project_id, created_by, title) VALUES ($1, $2, $3, $4, $5)
		RETURNING created_at, updated_at`, cs.ID, cs.OrgID, cs.ProjectID, cs.CreatedByID, cs.Title).Scan(&cs.CreatedAt, &cs.UpdatedAt)
	if err != nil {
		return fmt.Errorf("insert chat session: %w", err)
	}
	return nil
}

// AddMessage inserts m (everything but CreatedAt set; Citations nil for
// none) and moves its session's updated_at, in one transaction; ErrNotFound
// when the session is not orgID's.
func (s *Store) AddMessage(ctx context.Context, m *model.ChatMessage) error {
	if m.Citations == nil {
		m.Citations = []model.Citation{}
	}
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE chat_sessions SET updated_at = now() WHERE id = $1 AND org_id = $2`, m.SessionID, m.OrgID)
		if err != nil {
			return fmt.Errorf("touch chat session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		err = tx.QueryRow(ctx, `INSERT INTO chat_messages (id, org_id, session_id, role, content, citations, author_id, model, prompt_tokens, completion_tokens)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING created_at`,
			m.ID, m.OrgID, m.SessionID, string(m.Role), m.Content, m.Citations, m.AuthorID, m.Model, m.PromptTokens, m.CompletionTokens).
			Scan(&m.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert chat message: %w", err)
		}
		return nil
	})
}

// History returns the last limit messages of session id of orgID, oldest first.
func (s *Store) History(ctx context.Context, orgID, id string, limit int) ([]*model.ChatMessage, error) {
	rows, err := s.Pool().Query(ctx, `SELECT `+messageCols+` FROM (SELECT * FROM chat_messages WHERE session_id = $1 AND org_id = $2
		ORDER BY seq DESC LIMIT $3) AS last ORDER BY seq`, id, orgID, limit)
	if err != nil {
		return nil, fmt.Errorf("select history: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*model.ChatMessage, error) {
		m := new(model.ChatMessage)
		return m, r.Scan(messageFields(m)...)
	})
}

// SeedSession inserts cs unless a session with its id exists (the demo seed).
func (s *Store) SeedSession(ctx context.Context, cs *model.ChatSession) error {
	err := s.Pool().QueryRow(ctx, `INSERT INTO chat_sessions (id, org_id, project_id, created_by, title) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET title = chat_sessions.title RETURNING created_at, updated_at`,
		cs.ID, cs.OrgID, cs.ProjectID, cs.CreatedByID, cs.Title).Scan(&cs.CreatedAt, &cs.UpdatedAt)
	if err != nil {
		return fmt.Errorf("seed chat session: %w", err)
	}
	return nil
}

// MessageCount returns how many messages session id of orgID has.
func (s *Store) MessageCount(ctx context.Context, orgID, id string) (int, error) {
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM chat_messages WHERE session_id = $1 AND org_id = $2`, id, orgID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count chat messages: %w", err)
	}
	return n, nil
}
