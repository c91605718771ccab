package provider

import (
	"bytes"
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

// OpenAI defaults.
const (
	DefaultOpenAIBaseURL        = "https://api.openai.com/v1"
	DefaultOpenAIModel          = "gpt-4o-mini"
	DefaultOpenAIEmbeddingModel = "text-embedding-3-small"
)

// openAIDimensions are the native vector sizes of common embedding models
// served over the OpenAI API (by OpenAI, or by Ollama and vLLM).
var openAIDimensions = map[string]int{
	"text-embedding-3-small": 1536,
	"text-embedding-3-large": 3072,
	"text-embedding-ada-002": 1536,
	"nomic-embed-text":       768,
	"mxbai-embed-large":      1024,
	"all-minilm":             384,
	"bge-m3":                 1024,
}

// OpenAIConfig configures the OpenAI-compatible provider.
type OpenAIConfig struct {
	// BaseURL is the API root, /v1 included (default
	// https://api.openai.com/v1; Ollama: http://localhost:11434/v1; vLLM:
	// http://host:8000/v1). A URL without a path gets /v1.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer …" when not empty (Ollama
	// and vLLM need none by default).
	APIKey string
	// Model is the chat model (default gpt-4o-mini).
	Model string
	// EmbeddingModel is the embedding model (default text-embedding-3-small).
	EmbeddingModel string
	// EmbeddingDimensions, when set, is sent as "dimensions" (models that can
	// shorten their vectors honour it); when 0 the model's native size must be
	// known (see openAIDimensions).
	EmbeddingDimensions int
}

// OpenAI speaks the OpenAI chat completions and embeddings API, which
// OpenAI, Ollama and vLLM serve: POST {base}/chat/completions with
// stream=true (server-sent `data: {chunk}` events, a usage chunk asked for
// with stream_options.include_usage, then `data: [DONE]`) and POST
// {base}/embeddings.
type OpenAI struct {
	cfg      OpenAIConfig
	base     string
	dims     int
	sendDims bool
	official bool // the base URL is api.openai.com
	r        *remote
}

// NewOpenAI returns an OpenAI-compatible provider.
func NewOpenAI(cfg OpenAIConfig, opts ...Option) (*OpenAI, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultOpenAIBaseURL
	}
	if cfg.Model == "" {
		cfg.Model = DefaultOpenAIModel
	}
	if cfg.EmbeddingModel == "" {
		cfg.EmbeddingModel = DefaultOpenAIEmbeddingModel
	}
	var errs []error
	base, err := apiBase(cfg.BaseURL, "/v1")
	if err != nil {
		errs = append(errs, fmt.Errorf("openai: base URL: %w", err))
	}
	dims := cfg.EmbeddingDimensions
	if dims < 0 {
		errs = append(errs, errors.New("openai: embedding dimensions must be positive"))
	}
	if dims == 0 {
		dims = openAIDimensions[cfg.EmbeddingModel]
		if dims == 0 {
			errs = append(errs, fmt.Errorf("openai: the vector size of embedding model %q is not known: set its dimensions", cfg.EmbeddingModel))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &OpenAI{cfg: cfg, base: base, dims: dims, sendDims: cfg.EmbeddingDimensions > 0}
	if u, err := url.Parse(base); err == nil && u.Hostname() == "api.openai.com" {
		p.official = true
	}
	p.r = &remote{name: "openai", o: buildOptions(opts), parseError: parseOpenAIError, auth: func(h http.Header) {
		if cfg.APIKey != "" {
			h.Set("Authorization", "Bearer "+cfg.APIKey)
		}
	}}
	return p, nil
}

// apiBase checks a base URL and gives it defaultPath when it has none.
func apiBase(raw, defaultPath string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = defaultPath
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// Name is "openai".
func (p *OpenAI) Name() string { return "openai" }

// ChatModel is the configured chat model.
func (p *OpenAI) ChatModel() string { return p.cfg.Model }

// EmbeddingModel is the configured embedding model.
func (p *OpenAI) EmbeddingModel() string { return p.cfg.EmbeddingModel }

// Dimensions is the embedding vector size.
func (p *OpenAI) Dimensions() int { return p.dims }

type openAIMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type openAIChatRequest struct {
	Model         string          `json:"model"`
	Messages      []openAIMessage `json:"messages"`
	Stream        bool            `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	// OpenAI's own API wants max_completion_tokens (its reasoning models
	// refuse max_tokens); Ollama and vLLM read max_tokens.
	MaxTokens           int      `json:"max_tokens,omitempty"`
	MaxCompletionTokens int      `json:"max_completion_tokens,omitempty"`
	Temperature         *float64 `json:"temperature,omitempty"`
}

type openAIUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

type openAIChunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content *string `json:"content"`
			Refusal *string `json:"refusal"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *openAIUsage     `json:"usage"`
	Error *openAIErrorBody `json:"error"`
}

type openAIErrorBody struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// parseOpenAIError reads {"error":{"message","type","code"}} (OpenAI,
// Ollama) or vLLM's {"object":"error","message","type","code"}.
func parseOpenAIError(e *APIError, body []byte) {
	var v struct {
		Error json.RawMessage `json:"error"`
		openAIErrorBody
	}
	if json.Unmarshal(body, &v) != nil {
		e.Message = strings.TrimSpace(string(bytes.ToValidUTF8(body[:min(len(body), 300)], nil)))
		return
	}
	b := v.openAIErrorBody
	if len(v.Error) > 0 {
		var inner openAIErrorBody
		if json.Unmarshal(v.Error, &inner) == nil {
			b = inner
		} else {
			_ = json.Unmarshal(v.Error, &b.Message) // {"error": "text"}
		}
	}
	e.Message = b.Message
	e.Code = strings.Trim(string(b.Code), `"`)
	if e.Code == "null" || e.Code == "" {
		e.Code = b.Type
	}
	if e.Kind == ErrBadRequest && (e.Code == "invalid_api_key" || b.Type == "authentication_error") {
		e.Kind = ErrAuth
	}
}

// Chat streams one completion.
func (p *OpenAI) Chat(ctx context.Context, req ChatRequest, onDelta DeltaFunc) (ChatResult, error) {
	if err := p.r.o.limits.checkChat(req); err != nil {
		return ChatResult{}, fmt.Errorf("openai chat: %w", err)
	}
	msgs := groundedMessages(req)
	body := openAIChatRequest{Model: p.cfg.Model, Stream: true, Temperature: req.Temperature}
	if p.official {
		body.MaxCompletionTokens = req.MaxTokens
	} else {
		body.MaxTokens = req.MaxTokens
	}
	body.StreamOptions.IncludeUsage = true
	for _, m := range msgs {
		body.Messages = append(body.Messages, openAIMessage{Role: string(m.Role), Content: m.Content})
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return ChatResult{}, fmt.Errorf("openai chat: encode request: %w", err)
	}
	cctx, cancel := p.r.call(ctx)
	defer cancel()
	var res ChatResult
	err = p.r.o.retry.do(cctx, func(ctx context.Context) (bool, error) {
		a, err := p.r.send(ctx, p.base+"/chat/completions", raw)
		if err != nil {
			return false, err
		}
		defer a.Close()
		res, err = p.stream(ctx, a, onDelta)
		return res.Text != "", err
	})
	if err != nil {
		return ChatResult{}, p.r.result(ctx, cctx, "chat", err)
	}
	res.Citations = citations(res.Text, req.Passages)
	if res.Model == "" {
		res.Model = p.cfg.Model
	}
	if res.Usage == (Usage{}) {
		res.Usage = Usage{PromptTokens: estimateTokens(promptBytes(msgs)), CompletionTokens: estimateTokens(len(res.Text)), Estimated: true}
	}
	return res, nil
}

// stream reads the chunks of one response. The result holds what was
// delivered so far even on error.
func (p *OpenAI) stream(ctx context.Context, a *attempt, onDelta DeltaFunc) (ChatResult, error) {
	var (
		res  ChatResult
		text strings.Builder
	)
	rd := sse.NewReader(a.Body)
	for {
		ev, err := rd.Next()
		if err != nil {
			res.Text = text.String()
			if errors.Is(err, io.EOF) {
				return res, &APIError{Provider: "openai", Kind: ErrUnavailable, Message: "stream ended before [DONE]"}
			}
			if errors.Is(err, sse.ErrTooLong) {
				return res, &APIError{Provider: "openai", Kind: ErrUnavailable, Message: "malformed stream", Err: err}
			}
			return res, a.fail(ctx, err)
		}
		if string(ev.Data) == "[DONE]" {
			res.Text = text.String()
			return res, nil
		}
		var c openAIChunk
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			res.Text = text.String()
			return res, &APIError{Provider: "openai", Kind: ErrUnavailable, Message: "malformed chunk", Err: err}
		}
		if c.Error != nil {
			res.Text = text.String()
			e := &APIError{Provider: "openai", Kind: ErrUnavailable}
			raw, _ := json.Marshal(map[string]any{"error": c.Error})
			parseOpenAIError(e, raw)
			return res, e
		}
		if c.Model != "" {
			res.Model = c.Model
		}
		if c.Usage != nil {
			res.Usage = Usage{PromptTokens: c.Usage.PromptTokens, CompletionTokens: c.Usage.CompletionTokens}
		}
		for _, ch := range c.Choices {
			if ch.Index != 0 {
				continue
			}
			if ch.FinishReason != nil {
				res.FinishReason = *ch.FinishReason
			}
			for _, piece := range []*string{ch.Delta.Content, ch.Delta.Refusal} {
				if piece == nil || *piece == "" {
					continue
				}
				if text.Len()+len(*piece) > p.r.o.limits.MaxAnswerBytes {
					res.Text = text.String()
					return res, &APIError{Provider: "openai", Kind: ErrUnavailable, Message: fmt.Sprintf("answer over %d bytes", p.r.o.limits.MaxAnswerBytes)}
				}
				text.WriteString(*piece)
				if onDelta != nil {
					if err := onDelta(*piece); err != nil {
						res.Text = text.String()
						return res, fmt.Errorf("delta callback: %w", err)
					}
				}
			}
		}
	}
}

type openAIEmbeddingRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

type openAIEmbeddingResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage openAIUsage `json:"usage"`
}

// Embed returns one vector per text (POST {base}/embeddings).
func (p *OpenAI) Embed(ctx context.Context, texts []string) (EmbedResult, error) {
	if err := p.r.o.limits.checkEmbed(texts); err != nil {
		return EmbedResult{}, fmt.Errorf("openai embed: %w", err)
	}
	body := openAIEmbeddingRequest{Model: p.cfg.EmbeddingModel, Input: texts, EncodingFormat: "float"}
	if p.sendDims {
		body.Dimensions = p.dims
	}
	cctx, cancel := p.r.call(ctx)
	defer cancel()
	var resp openAIEmbeddingResponse
	if err := p.r.postJSON(cctx, p.base+"/embeddings", body, &resp, embedResponseBound(len(texts), p.dims)); err != nil {
		return EmbedResult{}, p.r.result(ctx, cctx, "embed", err)
	}
	vecs := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(texts) || vecs[d.Index] != nil {
			return EmbedResult{}, p.malformed("bad or repeated index %d", d.Index)
		}
		if len(d.Embedding) != p.dims {
			return EmbedResult{}, p.malformed("vector of %d dimensions, want %d", len(d.Embedding), p.dims)
		}
		normalize(d.Embedding)
		vecs[d.Index] = d.Embedding
	}
	for i, v := range vecs {
		if v == nil {
			return EmbedResult{}, p.malformed("no vector for input %d", i)
		}
	}
	u := Usage{PromptTokens: resp.Usage.PromptTokens}
	if u.PromptTokens == 0 {
		u = Usage{PromptTokens: estimateTokens(totalLen(texts)), Estimated: true}
	}
	return EmbedResult{Vectors: vecs, Usage: u}, nil
}

func (p *OpenAI) malformed(format string, args ...any) error {
	return fmt.Errorf("openai embed: %w", &APIError{Provider: "openai", Kind: ErrUnavailable, Message: "malformed response: " + fmt.Sprintf(format, args...)})
}

// embedResponseBound is the most bytes an honest embeddings response for n
// vectors of d floats takes (a float is at most about 25 bytes of JSON).
func embedResponseBound(n, d int) int64 { return int64(n)*int64(d)*26 + 1<<20 }

func totalLen(texts []string) int {
	n := 0
	for _, t := range texts {
		n += len(t)
	}
	return n
}
