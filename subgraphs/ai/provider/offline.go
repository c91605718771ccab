package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Offline provider names.
const (
	OfflineChatModel      = "offline-extractive"
	OfflineEmbeddingModel = "offline-hashed-ngrams"
	// DefaultOfflineDimensions is the offline embedding size.
	DefaultOfflineDimensions = 256
)

// OfflineDisclaimer opens every offline answer.
const OfflineDisclaimer = "Offline extractive assistant, not a language model: " +
	"I quote the passages that best match your question and cite them; I do not interpret or generate text."

// OfflineConfig configures the offline provider.
type OfflineConfig struct {
	// Dimensions of the hashed embeddings (default 256).
	Dimensions int
	// WordDelay, when set, is waited between two streamed words (a demo
	// that looks like a model typing); 0 streams as fast as the caller reads.
	WordDelay time.Duration
	// MaxQuotes is the most passages quoted in one answer (default 3).
	MaxQuotes int
}

// Offline is the built-in provider that needs no network and no key. It is
// deterministic and retrieval-grounded: it ranks the request's passages
// against the last user message with BM25, quotes the best sentences of the
// best passages with their [ID], and streams that answer word by word. Its
// embeddings are hashed words and character trigrams, so cosine similarity
// measures lexical overlap. It says in every answer that it is not a
// language model.
type Offline struct {
	cfg    OfflineConfig
	limits Limits
}

// NewOffline returns the offline provider (options: WithLimits).
func NewOffline(cfg OfflineConfig, opts ...Option) (*Offline, error) {
	if cfg.Dimensions == 0 {
		cfg.Dimensions = DefaultOfflineDimensions
	}
	if cfg.Dimensions < 16 || cfg.Dimensions > 4096 {
		return nil, fmt.Errorf("offline: dimensions %d out of range 16–4096", cfg.Dimensions)
	}
	if cfg.MaxQuotes <= 0 {
		cfg.MaxQuotes = 3
	}
	return &Offline{cfg: cfg, limits: buildOptions(opts).limits}, nil
}

// Name is "offline".
func (p *Offline) Name() string { return "offline" }

// ChatModel is OfflineChatModel.
func (p *Offline) ChatModel() string { return OfflineChatModel }

// EmbeddingModel is OfflineEmbeddingModel.
func (p *Offline) EmbeddingModel() string { return OfflineEmbeddingModel }

// Dimensions is the embedding size.
func (p *Offline) Dimensions() int { return p.cfg.Dimensions }

// Chat answers by quoting and citing the passages that best match the last
// user message, streamed word by word.
func (p *Offline) Chat(ctx context.Context, req ChatRequest, onDelta DeltaFunc) (ChatResult, error) {
	if err := p.limits.checkChat(req); err != nil {
		return ChatResult{}, fmt.Errorf("offline chat: %w", err)
	}
	var question string
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == RoleUser {
			question = req.Messages[i].Content
			break
		}
	}
	text, cited := p.answer(question, req.Passages)
	res := ChatResult{Text: text, Citations: cited, FinishReason: "stop", Model: OfflineChatModel}
	prompt := 0
	for _, m := range req.Messages {
		prompt += len(strings.Fields(m.Content))
	}
	for _, ps := range req.Passages {
		prompt += len(strings.Fields(ps.Title)) + len(strings.Fields(ps.Text))
	}
	res.Usage = Usage{PromptTokens: prompt, Estimated: true}
	for i, piece := range wordPieces(text) {
		if err := ctx.Err(); err != nil {
			return ChatResult{}, fmt.Errorf("offline chat: %w", err)
		}
		if i > 0 && p.cfg.WordDelay > 0 {
			if err := sleep(ctx, p.cfg.WordDelay); err != nil {
				return ChatResult{}, fmt.Errorf("offline chat: %w", err)
			}
		}
		if onDelta != nil {
			if err := onDelta(piece); err != nil {
				return ChatResult{}, fmt.Errorf("offline chat: delta callback: %w", err)
			}
		}
		res.Usage.CompletionTokens++
	}
	return res, nil
}

// answer builds the extractive answer and the cited ids.
func (p *Offline) answer(question string, passages []Passage) (string, []string) {
	var b strings.Builder
	b.WriteString(OfflineDisclaimer)
	b.WriteString("\n\n")
	if len(passages) == 0 {
		b.WriteString("No passages were provided with the question, so there is nothing to quote.")
		return b.String(), nil
	}
	q := terms(question)
	docs := make([][]string, len(passages))
	for i, ps := range passages {
		docs[i] = terms(ps.Title + " " + ps.Text)
	}
	bm := newBM25(docs)
	type ranked struct {
		i     int
		score float64
	}
	rs := make([]ranked, len(passages))
	for i := range passages {
		rs[i] = ranked{i, bm.score(q, docs[i])}
	}
	sort.SliceStable(rs, func(a, b int) bool { return rs[a].score > rs[b].score })
	if rs[0].score <= 0 {
		fmt.Fprintf(&b, "None of the %d passages provided matches the words of your question, so I cannot answer it from them.", len(passages))
		return b.String(), nil
	}
	b.WriteString("The passages that best match your question:\n")
	var cited []string
	for _, r := range rs {
		if len(cited) == p.cfg.MaxQuotes || r.score <= 0 || r.score < 0.25*rs[0].score {
			break
		}
		ps := passages[r.i]
		cited = append(cited, ps.ID)
		b.WriteString("\n[")
		b.WriteString(ps.ID)
		b.WriteString("] ")
		if ps.Title != "" {
			b.WriteString(strings.TrimSpace(ps.Title))
			b.WriteString(": ")
		}
		b.WriteString("\u201c")
		b.WriteString(quote(bm, q, ps.Text))
		b.WriteString("\u201d\n")
	}
	return b.String(), cited
}

// quote picks the (at most two) sentences of text that best match the
// query, in their order in the text, bounded to about 400 bytes.
func quote(bm *bm25, q []string, text string) string {
	ss := sentences(text)
	if len(ss) == 0 {
		return ""
	}
	type scored struct {
		i int
		s float64
	}
	sc := make([]scored, len(ss))
	for i, s := range ss {
		sc[i] = scored{i, bm.score(q, terms(s))}
	}
	sort.SliceStable(sc, func(a, b int) bool { return sc[a].s > sc[b].s })
	pick := []int{sc[0].i}
	if len(sc) > 1 && sc[1].s > 0 {
		pick = append(pick, sc[1].i)
	}
	sort.Ints(pick)
	var b strings.Builder
	for k, i := range pick {
		if k > 0 {
			if i == pick[k-1]+1 {
				b.WriteString(" ")
			} else {
				b.WriteString(" \u2026 ")
			}
		}
		b.WriteString(ss[i])
	}
	return truncateWords(strings.Join(strings.Fields(b.String()), " "), 400)
}

// truncateWords cuts s at a word boundary before max bytes, adding "…".
func truncateWords(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := strings.LastIndexFunc(s[:max], unicode.IsSpace)
	if cut <= 0 {
		cut = max
		for cut > 0 && (s[cut]&0xC0) == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
	}
	return strings.TrimSpace(s[:cut]) + " \u2026"
}

// wordPieces splits text into words each followed by its white space; the
// pieces concatenate to text.
func wordPieces(text string) []string {
	var out []string
	start := 0
	inSpace := false
	for i, r := range text {
		sp := unicode.IsSpace(r)
		if !sp && inSpace {
			out = append(out, text[start:i])
			start = i
		}
		inSpace = sp
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// Embed returns hashed-feature vectors (see hashEmbed): deterministic,
// L2-normalised, of Dimensions.
func (p *Offline) Embed(ctx context.Context, texts []string) (EmbedResult, error) {
	if err := p.limits.checkEmbed(texts); err != nil {
		return EmbedResult{}, fmt.Errorf("offline embed: %w", err)
	}
	res := EmbedResult{Vectors: make([][]float32, len(texts)), Usage: Usage{Estimated: true}}
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return EmbedResult{}, fmt.Errorf("offline embed: %w", err)
		}
		res.Vectors[i] = hashEmbed(t, p.cfg.Dimensions)
		res.Usage.PromptTokens += len(strings.Fields(t))
	}
	return res, nil
}
