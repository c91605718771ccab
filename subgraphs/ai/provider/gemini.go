package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/studio-platform/studio/subgraphs/ai/provider/sse"
)

// Gemini defaults.
const (
	DefaultGeminiBaseURL             = "https://generativelanguage.googleapis.com"
	DefaultGeminiModel               = "gemini-2.5-flash"
	DefaultGeminiEmbeddingModel      = "gemini-embedding-001"
	DefaultGeminiEmbeddingDimensions = 768
	// geminiBatchSize is the most requests one batchEmbedContents takes.
	geminiBatchSize = 100
)

// GeminiConfig configures the Google Gemini provider.
type GeminiConfig struct {
	// BaseURL is the API host (default https://generativelanguage.googleapis.com);
	// /v1beta/models/… is appended.
	BaseURL string
	// APIKey is sent in the x-goog-api-key header.
	APIKey string
	// Model is the chat model (default gemini-2.5-flash); a "models/" prefix is accepted.
	Model string
	// EmbeddingModel is the embedding model (default gemini-embedding-001).
	EmbeddingModel string
	// EmbeddingDimensions is sent as outputDimensionality (default 768).
	EmbeddingDimensions int
}

// Gemini speaks the Gemini API: POST
// /v1beta/models/{model}:streamGenerateContent?alt=sse (server-sent events,
// each a GenerateContentResponse with candidates[0].content.parts[].text and
// usageMetadata; the stream ends with the connection, no sentinel) and
// /v1beta/models/{model}:batchEmbedContents.
type Gemini struct {
	cfg  GeminiConfig
	base string
	r    *remote
}

// NewGemini returns a Gemini provider.
func NewGemini(cfg GeminiConfig, opts ...Option) (*Gemini, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultGeminiBaseURL
	}
	if cfg.Model == "" {
		cfg.Model = DefaultGeminiModel
	}
	if cfg.EmbeddingModel == "" {
		cfg.EmbeddingModel = DefaultGeminiEmbeddingModel
	}
	cfg.Model = strings.TrimPrefix(cfg.Model, "models/")
	cfg.EmbeddingModel = strings.TrimPrefix(cfg.EmbeddingModel, "models/")
	if cfg.EmbeddingDimensions == 0 {
		cfg.EmbeddingDimensions = DefaultGeminiEmbeddingDimensions
	}
	var errs []error
	base, err := apiBase(cfg.BaseURL, "/")
	if err != nil {
		errs = append(errs, fmt.Errorf("gemini: base URL: %w", err))
	}
	if cfg.APIKey == "" {
		errs = append(errs, errors.New("gemini: an API key is required"))
	}
	if cfg.EmbeddingDimensions < 0 {
		errs = append(errs, errors.New("gemini: embedding dimensions must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	g := &Gemini{cfg: cfg, base: base}
	g.r = &remote{name: "gemini", o: buildOptions(opts), parseError: parseGeminiError, auth: func(h http.Header) {
		h.Set("x-goog-api-key", cfg.APIKey)
	}}
	return g, nil
}

// Name is "gemini".
func (g *Gemini) Name() string { return "gemini" }

// ChatModel is the configured chat model.
func (g *Gemini) ChatModel() string { return g.cfg.Model }

// EmbeddingModel is the configured embedding model.
func (g *Gemini) EmbeddingModel() string { return g.cfg.EmbeddingModel }

// Dimensions is the embedding vector size (outputDimensionality).
func (g *Gemini) Dimensions() int { return g.cfg.EmbeddingDimensions }

func (g *Gemini) modelURL(model, method string) string {
	return g.base + "/v1beta/models/" + url.PathEscape(model) + ":" + method
}

type geminiPart struct {
	Text    string `json:"text"`
	Thought bool   `json:"thought,omitempty"`
}

type geminiContent struct {
	Role  string       `json:"role,omitempty"`
	Parts []geminiPart `json:"parts"`
}

type geminiGenerationConfig struct {
	MaxOutputTokens int      `json:"maxOutputTokens,omitempty"`
	Temperature     *float64 `json:"temperature,omitempty"`
}

type geminiRequest struct {
	Contents          []geminiContent         `json:"contents"`
	SystemInstruction *geminiContent          `json:"systemInstruction,omitempty"`
	GenerationConfig  *geminiGenerationConfig `json:"generationConfig,omitempty"`
}

type geminiResponse struct {
	Candidates []struct {
		Content      geminiContent `json:"content"`
		FinishReason string        `json:"finishReason"`
		Index        int           `json:"index"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *struct {
		PromptTokenCount     int `json:"promptTokenCount"`
		CandidatesTokenCount int `json:"candidatesTokenCount"`
		ThoughtsTokenCount   int `json:"thoughtsTokenCount"`
	} `json:"usageMetadata"`
	ModelVersion string           `json:"modelVersion"`
	Error        *geminiErrorBody `json:"error"`
}

type geminiErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []struct {
		Reason string `json:"reason"`
	} `json:"details"`
}

// parseGeminiError reads Google's {"error":{"code","message","status","details"}}.
// An invalid key comes as 400 INVALID_ARGUMENT with reason API_KEY_INVALID:
// that is ErrAuth.
func parseGeminiError(e *APIError, body []byte) {
	var v struct {
		Error *geminiErrorBody `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil || v.Error == nil {
		e.Message = strings.TrimSpace(string(body[:min(len(body), 300)]))
		return
	}
	applyGeminiError(e, v.Error)
}

func applyGeminiError(e *APIError, b *geminiErrorBody) {
	e.Message = b.Message
	e.Code = b.Status
	for _, d := range b.Details {
		if d.Reason == "API_KEY_INVALID" {
			e.Kind = ErrAuth
			e.Code = d.Reason
		}
	}
	switch b.Status {
	case "UNAUTHENTICATED", "PERMISSION_DENIED":
		e.Kind = ErrAuth
	case "RESOURCE_EXHAUSTED":
		e.Kind = ErrRateLimited
	case "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED":
		e.Kind = ErrUnavailable
	}
}

// Chat streams one completion. System messages (and the passages) become
// the systemInstruction; assistant messages are the "model" role.
func (g *Gemini) Chat(ctx context.Context, req ChatRequest, onDelta DeltaFunc) (ChatResult, error) {
	if err := g.r.o.limits.checkChat(req); err != nil {
		return ChatResult{}, fmt.Errorf("gemini chat: %w", err)
	}
	msgs := groundedMessages(req)
	body := geminiRequest{}
	var system []geminiPart
	for _, m := range msgs {
		if m.Role == RoleSystem {
			system = append(system, geminiPart{Text: m.Content})
			continue
		}
		role := "user"
		if m.Role == RoleAssistant {
			role = "model"
		}
		// Consecutive turns of one role become one content with several parts.
		if n := len(body.Contents); n > 0 && body.Contents[n-1].Role == role {
			body.Contents[n-1].Parts = append(body.Contents[n-1].Parts, geminiPart{Text: m.Content})
			continue
		}
		body.Contents = append(body.Contents, geminiContent{Role: role, Parts: []geminiPart{{Text: m.Content}}})
	}
	if len(system) > 0 {
		body.SystemInstruction = &geminiContent{Parts: system}
	}
	if req.MaxTokens > 0 || req.Temperature != nil {
		body.GenerationConfig = &geminiGenerationConfig{MaxOutputTokens: req.MaxTokens, Temperature: req.Temperature}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return ChatResult{}, fmt.Errorf("gemini chat: encode request: %w", err)
	}
	cctx, cancel := g.r.call(ctx)
	defer cancel()
	var res ChatResult
	err = g.r.o.retry.do(cctx, func(ctx context.Context) (bool, error) {
		a, err := g.r.send(ctx, g.modelURL(g.cfg.Model, "streamGenerateContent")+"?alt=sse", raw)
		if err != nil {
			return false, err
		}
		defer a.Close()
		res, err = g.stream(ctx, a, onDelta)
		return res.Text != "", err
	})
	if err != nil {
		return ChatResult{}, g.r.result(ctx, cctx, "chat", err)
	}
	res.Citations = citations(res.Text, req.Passages)
	if res.Model == "" {
		res.Model = g.cfg.Model
	}
	if res.Usage == (Usage{}) {
		res.Usage = Usage{PromptTokens: estimateTokens(promptBytes(msgs)), CompletionTokens: estimateTokens(len(res.Text)), Estimated: true}
	}
	return res, nil
}

// stream reads the frames of one response until the connection ends.
func (g *Gemini) stream(ctx context.Context, a *attempt, onDelta DeltaFunc) (ChatResult, error) {
	var (
		res  ChatResult
		text strings.Builder
	)
	rd := sse.NewReader(a.Body)
	for {
		ev, err := rd.Next()
		if err != nil {
			res.Text = text.String()
			switch {
			case errors.Is(err, io.EOF) && res.FinishReason != "":
				return res, nil
			case errors.Is(err, io.EOF):
				return res, &APIError{Provider: "gemini", Kind: ErrUnavailable, Message: "stream ended without a finish reason"}
			case errors.Is(err, sse.ErrTooLong):
				return res, &APIError{Provider: "gemini", Kind: ErrUnavailable, Message: "malformed stream", Err: err}
			}
			return res, a.fail(ctx, err)
		}
		var r geminiResponse
		if err := json.Unmarshal(ev.Data, &r); err != nil {
			res.Text = text.String()
			return res, &APIError{Provider: "gemini", Kind: ErrUnavailable, Message: "malformed frame", Err: err}
		}
		if r.Error != nil {
			res.Text = text.String()
			e := &APIError{Provider: "gemini", Kind: ErrUnavailable, StatusCode: r.Error.Code}
			if r.Error.Code != 0 {
				e.Kind = kindForStatus(r.Error.Code)
			}
			applyGeminiError(e, r.Error)
			return res, e
		}
		if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
			res.Text = text.String()
			return res, &APIError{Provider: "gemini", Kind: ErrBadRequest, Code: r.PromptFeedback.BlockReason, Message: "the prompt was blocked"}
		}
		if r.ModelVersion != "" {
			res.Model = r.ModelVersion
		}
		if u := r.UsageMetadata; u != nil {
			res.Usage = Usage{PromptTokens: u.PromptTokenCount, CompletionTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount}
		}
		for _, c := range r.Candidates {
			if c.Index != 0 {
				continue
			}
			if c.FinishReason != "" {
				res.FinishReason = c.FinishReason
			}
			for _, part := range c.Content.Parts {
				if part.Thought || part.Text == "" {
					continue
				}
				if text.Len()+len(part.Text) > g.r.o.limits.MaxAnswerBytes {
					res.Text = text.String()
					return res, &APIError{Provider: "gemini", Kind: ErrUnavailable, Message: fmt.Sprintf("answer over %d bytes", g.r.o.limits.MaxAnswerBytes)}
				}
				text.WriteString(part.Text)
				if onDelta != nil {
					if err := onDelta(part.Text); err != nil {
						res.Text = text.String()
						return res, fmt.Errorf("delta callback: %w", err)
					}
				}
			}
		}
	}
}

type geminiEmbedRequest struct {
	Model                string        `json:"model"`
	Content              geminiContent `json:"content"`
	OutputDimensionality int           `json:"outputDimensionality,omitempty"`
}

type geminiEmbedResponse struct {
	Embeddings []struct {
		Values []float32 `json:"values"`
	} `json:"embeddings"`
}

// Embed returns one vector per text, in batches of 100
// (batchEmbedContents). Vectors are L2-normalised here: Gemini normalises
// only its full-size ones.
func (g *Gemini) Embed(ctx context.Context, texts []string) (EmbedResult, error) {
	if err := g.r.o.limits.checkEmbed(texts); err != nil {
		return EmbedResult{}, fmt.Errorf("gemini embed: %w", err)
	}
	cctx, cancel := g.r.call(ctx)
	defer cancel()
	res := EmbedResult{Usage: Usage{PromptTokens: estimateTokens(totalLen(texts)), Estimated: true}}
	for start := 0; start < len(texts); start += geminiBatchSize {
		batch := texts[start:min(start+geminiBatchSize, len(texts))]
		reqs := make([]geminiEmbedRequest, len(batch))
		for i, t := range batch {
			reqs[i] = geminiEmbedRequest{Model: "models/" + g.cfg.EmbeddingModel, Content: geminiContent{Parts: []geminiPart{{Text: t}}},
				OutputDimensionality: g.cfg.EmbeddingDimensions}
		}
		var resp geminiEmbedResponse
		body := map[string]any{"requests": reqs}
		if err := g.r.postJSON(cctx, g.modelURL(g.cfg.EmbeddingModel, "batchEmbedContents"), body, &resp, embedResponseBound(len(batch), g.cfg.EmbeddingDimensions)); err != nil {
			return EmbedResult{}, g.r.result(ctx, cctx, "embed", err)
		}
		if len(resp.Embeddings) != len(batch) {
			return EmbedResult{}, g.malformed("%d vectors for %d texts", len(resp.Embeddings), len(batch))
		}
		for _, e := range resp.Embeddings {
			if len(e.Values) != g.cfg.EmbeddingDimensions {
				return EmbedResult{}, g.malformed("vector of %d dimensions, want %d", len(e.Values), g.cfg.EmbeddingDimensions)
			}
			normalize(e.Values)
			res.Vectors = append(res.Vectors, e.Values)
		}
	}
	return res, nil
}

func (g *Gemini) malformed(format string, args ...any) error {
	return fmt.Errorf("gemini embed: %w", &APIError{Provider: "gemini", Kind: ErrUnavailable, Message: "malformed response: " + fmt.Sprintf(format, args...)})
}
