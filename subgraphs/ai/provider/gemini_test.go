package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/ai/provider/providertest"
)

func newGemini(t *testing.T, url string, opts ...provider.Option) *provider.Gemini {
	t.Helper()
	p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: url, APIKey: "AIza-test", Model: "models/gemini-2.5-flash", EmbeddingDimensions: 3}, opts...)
	require.NoError(t, err)
	return p
}

func TestGeminiStreamsTokensAsProduced(t *testing.T) {
	tokens := []string{"Yes. Administrators", " must use multi-factor", " authentication [CC6.1]."}
	delivered := make(chan string)
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(t, r)
		providertest.WriteGeminiStream(w, tokens, func(i int) {
			if got := await(t, delivered, fmt.Sprintf("delivery of token %d", i)); got != tokens[i] {
				t.Errorf("token %d: got %q, want %q", i, got, tokens[i])
			}
		})
	}))
	defer srv.Close()

	req := chatRequest()
	req.Messages = append(req.Messages, provider.Message{Role: provider.RoleAssistant, Content: "Let me check."},
		provider.Message{Role: provider.RoleUser, Content: "Go on."})
	req.MaxTokens = 200
	res, err := newGemini(t, srv.URL).Chat(context.Background(), req, func(d string) error {
		delivered <- d
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, strings.Join(tokens, ""), res.Text)
	require.Equal(t, provider.Usage{PromptTokens: 61, CompletionTokens: 9 + 4}, res.Usage, "thinking tokens count as completion")
	require.Equal(t, "STOP", res.FinishReason)
	require.Equal(t, []string{"CC6.1"}, res.Citations)

	r := rec.all()[0]
	require.Equal(t, "/v1beta/models/gemini-2.5-flash:streamGenerateContent", r.Path)
	require.Equal(t, "alt=sse", r.Query)
	require.Equal(t, "AIza-test", r.Header.Get("x-goog-api-key"))
	sys := r.Body["systemInstruction"].(map[string]any)["parts"].([]any)
	require.Len(t, sys, 2)
	require.Equal(t, "You are a compliance assistant.", sys[0].(map[string]any)["text"])
	require.Contains(t, sys[1].(map[string]any)["text"], "[CC8.1] Change management")
	contents := r.Body["contents"].([]any)
	require.Len(t, contents, 3)
	require.Equal(t, "user", contents[0].(map[string]any)["role"])
	require.Equal(t, "model", contents[1].(map[string]any)["role"])
	require.Equal(t, map[string]any{"maxOutputTokens": float64(200)}, r.Body["generationConfig"])
}

func TestGeminiRetriesAndTypedErrors(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch rec.record(t, r) {
		case 1:
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.","status":"RESOURCE_EXHAUSTED"}}`)
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`)
		default:
			providertest.WriteGeminiStream(w, []string{"fine"}, nil)
		}
	}))
	defer srv.Close()
	retry, w := fastRetry(3)
	res, err := newGemini(t, srv.URL, retry).Chat(context.Background(), chatRequest(), nil)
	require.NoError(t, err)
	require.Equal(t, "fine", res.Text)
	require.Len(t, w.all(), 2)

	cases := []struct {
		status int
		body   string
		kind   error
		code   string
	}{
		{400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}`, provider.ErrAuth, "API_KEY_INVALID"},
		{403, `{"error":{"code":403,"message":"Method doesn't allow unregistered callers.","status":"PERMISSION_DENIED"}}`, provider.ErrAuth, "PERMISSION_DENIED"},
		{404, `{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta.","status":"NOT_FOUND"}}`, provider.ErrBadRequest, "NOT_FOUND"},
		{500, `{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}`, provider.ErrUnavailable, "INTERNAL"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(t, r)
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			}))
			defer srv.Close()
			retry, _ := fastRetry(2)
			_, err := newGemini(t, srv.URL, retry).Chat(context.Background(), chatRequest(), nil)
			require.ErrorIs(t, err, c.kind)
			var ae *provider.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, c.code, ae.Code)
			want := 1
			if c.kind == provider.ErrUnavailable {
				want = 2
			}
			require.Len(t, rec.all(), want)
		})
	}
}

func TestGeminiStreamEnds(t *testing.T) {
	t.Run("cut before the finish reason", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			providertest.SSEWrite(w, providertest.GeminiFrame("partial", false, 5, 0), "\r\n\r\n")
		}))
		defer srv.Close()
		_, err := newGemini(t, srv.URL).Chat(context.Background(), chatRequest(), nil)
		require.ErrorIs(t, err, provider.ErrUnavailable)
		require.Contains(t, err.Error(), "without a finish reason")
	})
	t.Run("blocked prompt", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			providertest.SSEWrite(w, `{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"modelVersion":"gemini-2.5-flash"}`, "\r\n\r\n")
		}))
		defer srv.Close()
		_, err := newGemini(t, srv.URL).Chat(context.Background(), chatRequest(), nil)
		require.ErrorIs(t, err, provider.ErrBadRequest)
		require.Contains(t, err.Error(), "SAFETY")
	})
}

func TestGeminiCancellationStopsStream(t *testing.T) {
	serverSawCancel := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		providertest.SSEWrite(w, providertest.GeminiFrame("first", false, 5, 0), "\r\n\r\n")
		<-r.Context().Done()
		close(serverSawCancel)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := newGemini(t, srv.URL).Chat(ctx, chatRequest(), func(string) error {
		cancel()
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	await(t, serverSawCancel, "the server to see the request cancelled")
}

func TestGeminiEmbeddingsInBatches(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(t, r)
		var body struct {
			Requests []struct {
				Content struct {
					Parts []struct{ Text string } `json:"parts"`
				} `json:"content"`
			} `json:"requests"`
		}
		reqs := rec.all()
		raw, _ := json.Marshal(reqs[len(reqs)-1].Body)
		require.NoError(t, json.Unmarshal(raw, &body))
		out := make([]string, len(body.Requests))
		for i, rq := range body.Requests {
			var n int
			fmt.Sscanf(rq.Content.Parts[0].Text, "text %d", &n)
			out[i] = fmt.Sprintf(`{"values":[%d,0,0]}`, n+1) // not unit length: the provider normalises
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"embeddings":[`+strings.Join(out, ",")+`]}`)
	}))
	defer srv.Close()
	texts := make([]string, 150)
	for i := range texts {
		texts[i] = fmt.Sprintf("text %d", i)
	}
	res, err := newGemini(t, srv.URL).Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Len(t, res.Vectors, 150)
	for _, v := range res.Vectors {
		require.Equal(t, []float32{1, 0, 0}, v)
	}
	reqs := rec.all()
	require.Len(t, reqs, 2, "100 + 50")
	require.Equal(t, "/v1beta/models/gemini-embedding-001:batchEmbedContents", reqs[0].Path)
	require.Equal(t, "AIza-test", reqs[0].Header.Get("x-goog-api-key"))
	first := reqs[0].Body["requests"].([]any)
	require.Len(t, first, 100)
	require.Equal(t, map[string]any{"model": "models/gemini-embedding-001", "outputDimensionality": float64(3),
		"content": map[string]any{"parts": []any{map[string]any{"text": "text 0"}}}}, first[0])
	require.Len(t, reqs[1].Body["requests"].([]any), 50)
}
