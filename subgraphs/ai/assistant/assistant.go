// Package assistant is what the ai subgraph's answers are made of: it
// gathers the passages an answer is grounded in — the project's controls and
// evidence from the compliance graph (Neo4j) and the document chunks most
// similar to the question (vector search, package vectors) — asks the
// provider (package provider) with them, publishes every token on the
// session's NATS subject as it is produced (stream.go) and maps the
// passages the answer cites back to chunks, documents, controls and
// evidence.
package assistant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/studio-platform/studio/subgraphs/ai/graph/model"
	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/ai/vectors"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
)

// Config tunes the assistant; zero fields take the defaults.
type Config struct {
	// Chunks is how many document chunks ground an answer (default 6).
	Chunks int
	// Controls bounds the controls (and EvidencePassages the evidence
	// items) given as passages (defaults 40 and 40).
	Controls         int
	EvidencePassages int
	// History is how many earlier messages of a session the provider sees (default 10).
	History int
	Log     *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Chunks <= 0 {
		c.Chunks = 6
	}
	if c.Controls <= 0 {
		c.Controls = 40
	}
	if c.EvidencePassages <= 0 {
		c.EvidencePassages = 40
	}
	if c.History <= 0 {
		c.History = 10
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// MaxQuote bounds a citation's quoted passage (characters).
const MaxQuote = 1000

// Assistant answers questions about a project.
type Assistant struct {
	p     provider.Provider
	graph *projection.Projector
	vec   *vectors.Store
	js    jetstream.JetStream
	cfg   Config
}

// New returns an assistant asking p, grounded in graph and vec, publishing
// tokens on js.
func New(p provider.Provider, graph *projection.Projector, vec *vectors.Store, js jetstream.JetStream, cfg Config) *Assistant {
	return &Assistant{p: p, graph: graph, vec: vec, js: js, cfg: cfg.withDefaults()}
}

// Provider is the provider the assistant asks.
func (a *Assistant) Provider() provider.Provider { return a.p }

// Graph is the compliance graph the assistant reads.
func (a *Assistant) Graph() *projection.Projector { return a.graph }

// Vectors is the chunk embeddings' store.
func (a *Assistant) Vectors() *vectors.Store { return a.vec }

// HistoryLen is how many earlier messages an answer sees.
func (a *Assistant) HistoryLen() int { return a.cfg.History }

// ModelName names the provider's chat model ("offline/offline-extractive").
func (a *Assistant) ModelName() string { return a.p.Name() + "/" + a.p.ChatModel() }

// EmbeddingModelName names the embeddings the vectors store keeps: the
// embedding model and its dimensions (vectors of another name are never
// compared).
func EmbeddingModelName(p provider.Provider) string {
	return p.EmbeddingModel() + "/" + strconv.Itoa(p.Dimensions())
}

// Grounding is the passages of one answer and what each cites.
type Grounding struct {
	Passages []provider.Passage
	Cites    map[string]model.Citation
}

func (g *Grounding) add(p provider.Passage, c model.Citation) {
	if g.Cites == nil {
		g.Cites = map[string]model.Citation{}
	}
	if _, dup := g.Cites[p.ID]; dup {
		return
	}
	c.Ref = p.ID
	c.Quote = quote(p.Text)
	g.Passages = append(g.Passages, p)
	g.Cites[p.ID] = c
}

// Citations returns the citations of refs, in order, skipping unknown refs.
func (g *Grounding) Citations(refs []string) []model.Citation {
	out := make([]model.Citation, 0, len(refs))
	for _, r := range refs {
		if c, ok := g.Cites[r]; ok {
			out = append(out, c)
		}
	}
	return out
}

// addChunks embeds query and adds the k chunks of scope closest to it as
// D1, D2, …; it returns them, best first.
func (a *Assistant) addChunks(ctx context.Context, g *Grounding, scope vectors.Scope, query string, k int) ([]vectors.Hit, error) {
	emb, err := a.p.Embed(ctx, []string{query})
	if err != nil {
		return nil, fmt.Errorf("embed the question: %w", err)
	}
	hits, err := a.vec.Search(ctx, scope, emb.Vectors[0], k)
	if err != nil {
		return nil, err
	}
	for i, h := range hits {
		c := model.Citation{Kind: model.CitationKindChunk, ChunkID: ptr(h.ChunkID), DocumentID: ptr(h.DocumentID)}
		if h.EvidenceID != "" {
			c.EvidenceID = ptr(h.EvidenceID)
		}
		g.add(provider.Passage{ID: "D" + strconv.Itoa(i+1), Title: fmt.Sprintf("%s, part %d", h.Filename, h.Position+1), Text: h.Text}, c)
	}
	return hits, nil
}

// addControls adds controls as passages cited by their code and their
// evidence as E1, E2, ….
func (a *Assistant) addControls(g *Grounding, controls []projection.ControlContext) {
	n := 0
	for _, c := range controls {
		var b strings.Builder
		fmt.Fprintf(&b, "Control %s %q, status %s.", c.Code, c.Title, c.Status)
		if len(c.Evidence) == 0 {
			b.WriteString(" It has no evidence.")
		}
		g.add(provider.Passage{ID: ref(c.Code, "C"+strconv.Itoa(len(g.Passages)+1)), Title: c.Title, Text: b.String()},
			model.Citation{Kind: model.CitationKindControl, ControlID: ptr(c.ID)})
		for _, e := range c.Evidence {
			if n >= a.cfg.EvidencePassages {
				break
			}
			n++
			state := "not current"
			if e.Current {
				state = "current"
			}
			g.add(provider.Passage{ID: "E" + strconv.Itoa(n), Title: e.Title,
				Text: fmt.Sprintf("Evidence %q for control %s: status %s, %s.", e.Title, c.Code, e.Status, state)},
				model.Citation{Kind: model.CitationKindEvidence, EvidenceID: ptr(e.ID), ControlID: ptr(c.ID)})
		}
	}
}

// Ground gathers the passages of a question about a project: its document
// chunks closest to the question, then its controls and their evidence.
func (a *Assistant) Ground(ctx context.Context, org, project, question string) (*Grounding, error) {
	g := &Grounding{}
	if _, err := a.addChunks(ctx, g, vectors.Scope{OrgID: org, ProjectID: project}, question, a.cfg.Chunks); err != nil {
		return nil, err
	}
	controls, err := a.graph.ProjectControls(ctx, projection.Scope{OrgID: org, ProjectID: project}, a.cfg.Controls)
	if err != nil {
		return nil, err
	}
	a.addControls(g, controls)
	return g, nil
}

// Answer is a finished answer.
type Answer struct {
	Text      string
	Citations []model.Citation
	Model     string
	Usage     provider.Usage
}

// Chat answers question about project: grounded (Ground), after the
// session's history, each token published on st as it is produced. The
// caller stores the answer, then calls st.Done (or st.Fail).
func (a *Assistant) Chat(ctx context.Context, st *Stream, org, project string, history []provider.Message, question string) (*Answer, error) {
	g, err := a.Ground(ctx, org, project, question)
	if err != nil {
		return nil, err
	}
	msgs := append([]provider.Message{{Role: provider.RoleSystem, Content: chatInstruction}}, history...)
	msgs = append(msgs, provider.Message{Role: provider.RoleUser, Content: question})
	res, err := a.p.Chat(ctx, provider.ChatRequest{Messages: msgs, Passages: g.Passages}, func(d string) error {
		return st.publish(ctx, EventToken, d, "")
	})
	if err != nil {
		return nil, err
	}
	return &Answer{Text: res.Text, Citations: g.Citations(res.Citations), Model: a.ModelName(), Usage: res.Usage}, nil
}

// Reason is what a client may read of a provider's failure.
func Reason(err error) string {
	switch {
	case errors.Is(err, provider.ErrRateLimited):
		return "the AI provider is rate limiting requests; try again later"
	case errors.Is(err, provider.ErrAuth):
		return "the AI provider refused the credentials"
	case errors.Is(err, provider.ErrInputTooLarge):
		return "the question and its context are too large"
	case errors.Is(err, provider.ErrBadRequest):
		return "the AI provider refused the request"
	case errors.Is(err, provider.ErrUnavailable):
		return "the AI provider is unavailable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "internal error"
}

const chatInstruction = "You are the compliance assistant of a project. Answer the user's question about the project's " +
	"controls, evidence and documents from the context passages, citing them."

// ref returns code as a citation id when it has no spaces or brackets, else alt.
func ref(code, alt string) string {
	if code == "" || len(code) > 40 || strings.ContainsAny(code, " []\n\t,;") {
		return alt
	}
	return code
}

func quote(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= MaxQuote {
		return s
	}
	r := []rune(s)
	return string(r[:MaxQuote-1]) + "…"
}

func ptr[T any](v T) *T { return &v }
