package provider_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/ai/provider/providertest"
)

func newOpenAI(t *testing.T, url string, opts ...provider.Option) *provider.OpenAI {
	t.Helper()
	p, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: url + "/v1", APIKey: "sk-test-123", Model: "gpt-4o-mini"}, opts...)
	require.NoError(t, err)
	return p
}

func chatRequest() provider.ChatRequest {
	return provider.ChatRequest{
		Messages: []provider.Message{
			{Role: provider.RoleSystem, Content: "You are a compliance assistant."},
			{Role: provider.RoleUser, Content: "Is MFA required for administrators?"},
		},
		Passages: passages,
	}
}

// The server produces each token only after the client has received the
// previous one: the test can only pass if tokens are delivered as produced.
func TestOpenAIStreamsTokensAsProduced(t *testing.T) {
	tokens := []string{"Yes", ", multi-factor", " authentication", " is required", " [CC6.1]", "."}
	delivered := make(chan string)
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(t, r)
		providertest.WriteOpenAIStream(w, tokens, func(i int) {
			if got := await(t, delivered, fmt.Sprintf("delivery of token %d", i)); got != tokens[i] {
				t.Errorf("token %d: got %q, want %q", i, got, tokens[i])
			}
		})
	}))
	defer srv.Close()

	p := newOpenAI(t, srv.URL)
	req := chatRequest()
	req.MaxTokens = 300
	res, err := p.Chat(context.Background(), req, func(d string) error {
		delivered <- d
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, strings.Join(tokens, ""), res.Text)
	require.Equal(t, provider.Usage{PromptTokens: 57, CompletionTokens: len(tokens)}, res.Usage)
	require.Equal(t, "stop", res.FinishReason)
	require.Equal(t, "gpt-4o-mini-2024-07-18", res.Model)
	require.Equal(t, []string{"CC6.1"}, res.Citations)

	reqs := rec.all()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, "/v1/chat/completions", r.Path)
	require.Equal(t, "Bearer sk-test-123", r.Header.Get("Authorization"))
	require.Equal(t, "gpt-4o-mini", r.Body["model"])
	require.Equal(t, true, r.Body["stream"])
	require.Equal(t, map[string]any{"include_usage": true}, r.Body["stream_options"])
	require.Equal(t, float64(300), r.Body["max_tokens"], "Ollama and vLLM read max_tokens")
	msgs := r.Body["messages"].([]any)
	require.Len(t, msgs, 3)
	require.Equal(t, "You are a compliance assistant.", msgs[0].(map[string]any)["content"])
	grounding := msgs[1].(map[string]any)
	require.Equal(t, "system", grounding["role"])
	require.Contains(t, grounding["content"], "[CC6.1] Logical access\nThe entity restricts logical access")
	require.Contains(t, grounding["content"], "[doc-7#2] Backup policy")
	require.Equal(t, map[string]any{"role": "user", "content": "Is MFA required for administrators?"}, msgs[2])
}

func TestOpenAIRetriesRateLimitAndUnavailable(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch rec.record(t, r) {
		case 1:
			w.Header().Set("Retry-After", "2")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"message":"The server is overloaded or not ready yet.","type":"server_error","param":null,"code":null}}`)
		default:
			providertest.WriteOpenAIStream(w, []string{"ok"}, nil)
		}
	}))
	defer srv.Close()

	retry, w := fastRetry(3)
	res, err := newOpenAI(t, srv.URL, retry).Chat(context.Background(), chatRequest(), nil)
	require.NoError(t, err)
	require.Equal(t, "ok", res.Text)
	require.Len(t, rec.all(), 3)
	ws := w.all()
	require.Len(t, ws, 2)
	require.Equal(t, 2*time.Second, ws[0], "Retry-After is honoured")
	require.GreaterOrEqual(t, ws[1], 100*time.Millisecond) // backoff after the 503: base·2 with jitter
	require.LessOrEqual(t, ws[1], 200*time.Millisecond)
}

func TestOpenAIRetryStopsAfterMaxAttempts(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(t, r)
		w.Header().Set("retry-after-ms", "150")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}`)
	}))
	defer srv.Close()

	retry, w := fastRetry(4)
	_, err := newOpenAI(t, srv.URL, retry).Chat(context.Background(), chatRequest(), nil)
	require.ErrorIs(t, err, provider.ErrUnavailable)
	var ae *provider.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusServiceUnavailable, ae.StatusCode)
	require.Equal(t, 4, ae.Attempts)
	require.Contains(t, err.Error(), "openai chat: provider unavailable (HTTP 503 server_error): The engine is currently overloaded")
	require.Len(t, rec.all(), 4)
	require.Equal(t, []time.Duration{150 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond}, w.all(), "retry-after-ms is honoured")
}

func TestOpenAIRetryAfterTooLongIsReturned(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(t, r)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`)
	}))
	defer srv.Close()

	retry, w := fastRetry(3)
	_, err := newOpenAI(t, srv.URL, retry).Chat(context.Background(), chatRequest(), nil)
	require.ErrorIs(t, err, provider.ErrRateLimited)
	var ae *provider.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 120*time.Second, ae.RetryAfter)
	require.Equal(t, "insufficient_quota", ae.Code)
	require.Len(t, rec.all(), 1)
	require.Empty(t, w.all())
}

func TestOpenAIErrorsAreTypedAndNotRetried(t *testing.T) {
	cases := []struct {
		status int
		body   string
		kind   error
		code   string
	}{
		{401, `{"error":{"message":"Incorrect API key provided: sk-test-***. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, provider.ErrAuth, "invalid_api_key"},
		{403, `{"error":{"message":"Project does not have access to model gpt-5","type":"invalid_request_error","param":null,"code":"model_not_found"}}`, provider.ErrAuth, "model_not_found"},
		{400, `{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}`, provider.ErrBadRequest, "invalid_value"},
		{404, `{"error":{"message":"model \"llama9\" not found, try pulling it first","type":"api_error","param":null,"code":null}}`, provider.ErrBadRequest, "api_error"},          // Ollama
		{400, `{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}`, provider.ErrBadRequest, "400"}, // vLLM
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.status, c.code), func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(t, r)
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			}))
			defer srv.Close()
			retry, _ := fastRetry(3)
			_, err := newOpenAI(t, srv.URL, retry).Chat(context.Background(), chatRequest(), nil)
			require.ErrorIs(t, err, c.kind)
			var ae *provider.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, c.status, ae.StatusCode)
			require.Equal(t, c.code, ae.Code)
			require.NotEmpty(t, ae.Message)
			require.Len(t, rec.all(), 1)
		})
	}
}

// A stream cut after a token was delivered is not retried (the caller has
// published the token); one cut before any token is.
func TestOpenAIBrokenStream(t *testing.T) {
	t.Run("after a token: no retry", func(t *testing.T) {
		rec := &recorder{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec.record(t, r)
			w.Header().Set("Content-Type", "text/event-stream")
			providertest.SSEWrite(w, providertest.OpenAIChunk("Hello", ""), "\n\n")
			// The handler returns: the stream ends without [DONE].
		}))
		defer srv.Close()
		retry, _ := fastRetry(3)
		var got []string
		_, err := newOpenAI(t, srv.URL, retry).Chat(context.Background(), chatRequest(), func(d string) error {
			got = append(got, d)
			return nil
		})
		require.ErrorIs(t, err, provider.ErrUnavailable)
		require.Contains(t, err.Error(), "stream ended before [DONE]")
		require.Equal(t, []string{"Hello"}, got)
		require.Len(t, rec.all(), 1)
	})
	t.Run("before any token: retried", func(t *testing.T) {
		rec := &recorder{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rec.record(t, r) == 1 {
				w.Header().Set("Content-Type", "text/event-stream")
				providertest.SSEWrite(w, providertest.OpenAIFirstChunk, "\n\n")
				providertest.SSEWrite(w, `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`, "\n\n")
				return
			}
			providertest.WriteOpenAIStream(w, []string{"Hi"}, nil)
		}))
		defer srv.Close()
		retry, _ := fastRetry(3)
		res, err := newOpenAI(t, srv.URL, retry).Chat(context.Background(), chatRequest(), nil)
		require.NoError(t, err)
		require.Equal(t, "Hi", res.Text)
		require.Len(t, rec.all(), 2)
	})
	t.Run("malformed chunk", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			providertest.SSEWrite(w, providertest.OpenAIChunk("a", ""), "\n\n")
			providertest.SSEWrite(w, `{"choices":[{"index":0,"delta":{"content":`, "\n\n")
		}))
		defer srv.Close()
		_, err := newOpenAI(t, srv.URL).Chat(context.Background(), chatRequest(), nil)
		require.ErrorIs(t, err, provider.ErrUnavailable)
		require.Contains(t, err.Error(), "malformed chunk")
	})
}

// Cancelling the context stops the stream: Chat returns at once with the
// context's error and the server sees its request end.
func TestOpenAICancellationStopsStream(t *testing.T) {
	serverSawCancel := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		providertest.SSEWrite(w, providertest.OpenAIChunk("first", ""), "\n\n")
		for i := 0; ; i++ { // keep producing until the client goes away
			select {
			case <-r.Context().Done():
				close(serverSawCancel)
				return
			default:
			}
			_, err := fmt.Fprintf(w, "data: %s\n\n", providertest.OpenAIChunk(" more", ""))
			if err != nil {
				close(serverSawCancel)
				return
			}
			w.(http.Flusher).Flush()
			if i > 100000 {
				t.Error("client never went away")
				return
			}
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	_, err := newOpenAI(t, srv.URL).Chat(ctx, chatRequest(), func(d string) error {
		n++
		if n == 2 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, errors.Is(err, provider.ErrUnavailable))
	await(t, serverSawCancel, "the server to see the request cancelled")
}

// A server that answers nothing within the idle timeout is given up on and
// the request retried.
func TestOpenAIIdleTimeoutRetries(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec.record(t, r) == 1 {
			<-r.Context().Done() // stall until the client gives up
			return
		}
		providertest.WriteOpenAIStream(w, []string{"late"}, nil)
	}))
	defer srv.Close()
	retry, _ := fastRetry(2)
	res, err := newOpenAI(t, srv.URL, retry, provider.WithIdleTimeout(200*time.Millisecond)).Chat(context.Background(), chatRequest(), nil)
	require.NoError(t, err)
	require.Equal(t, "late", res.Text)
	require.Len(t, rec.all(), 2)
}

func TestOpenAICallTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		providertest.SSEWrite(w, providertest.OpenAIChunk("slow", ""), "\n\n")
		<-r.Context().Done()
	}))
	defer srv.Close()
	_, err := newOpenAI(t, srv.URL, provider.WithTimeout(300*time.Millisecond)).Chat(context.Background(), chatRequest(), nil)
	require.ErrorIs(t, err, provider.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "no answer within 300ms")
}

// Servers that send no usage chunk (older Ollama) get estimated usage.
func TestOpenAIWithoutUsageChunk(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		providertest.SSEWrite(w, providertest.OpenAIChunk("Twelve bytes", ""), "\n\n")
		providertest.SSEWrite(w, providertest.OpenAIChunk("", "stop"), "\n\n")
		providertest.SSEWrite(w, "[DONE]", "\n\n")
	}))
	defer srv.Close()
	res, err := newOpenAI(t, srv.URL).Chat(context.Background(), chatRequest(), nil)
	require.NoError(t, err)
	require.True(t, res.Usage.Estimated)
	require.Equal(t, 3, res.Usage.CompletionTokens)
	require.Positive(t, res.Usage.PromptTokens)
}

func TestOpenAIPromptTooLarge(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rec.record(t, r) }))
	defer srv.Close()
	p := newOpenAI(t, srv.URL, provider.WithLimits(provider.Limits{MaxPromptBytes: 1000}))
	req := provider.ChatRequest{Messages: []provider.Message{{Role: provider.RoleUser, Content: strings.Repeat("x", 1001)}}}
	_, err := p.Chat(context.Background(), req, nil)
	require.ErrorIs(t, err, provider.ErrInputTooLarge)
	require.ErrorIs(t, err, provider.ErrBadRequest)
	var le *provider.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, 1001, le.Size)
	require.EqualError(t, err, "openai chat: input too large: prompt is 1001 bytes, over the limit of 1000")
	require.Empty(t, rec.all(), "nothing is sent")
}

func TestOpenAIEmbeddings(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(t, r)
		w.Header().Set("Content-Type", "application/json")
		// Out of order on purpose: the index says where each vector goes.
		fmt.Fprint(w, `{"object":"list","data":[`+
			`{"object":"embedding","index":1,"embedding":[0,3,4,0]},`+
			`{"object":"embedding","index":0,"embedding":[1,0,0,0]}],`+
			`"model":"text-embedding-3-small","usage":{"prompt_tokens":7,"total_tokens":7}}`)
	}))
	defer srv.Close()
	p, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: srv.URL, APIKey: "k", EmbeddingModel: "text-embedding-3-small", EmbeddingDimensions: 4})
	require.NoError(t, err)
	require.Equal(t, 4, p.Dimensions())
	res, err := p.Embed(context.Background(), []string{"first", "second text"})
	require.NoError(t, err)
	require.Equal(t, [][]float32{{1, 0, 0, 0}, {0, 0.6, 0.8, 0}}, res.Vectors)
	require.Equal(t, provider.Usage{PromptTokens: 7}, res.Usage)
	r := rec.all()[0]
	require.Equal(t, "/v1/embeddings", r.Path, "a base URL without a path gets /v1")
	require.Equal(t, []any{"first", "second text"}, r.Body["input"])
	require.Equal(t, "float", r.Body["encoding_format"])
	require.Equal(t, float64(4), r.Body["dimensions"])

	// A response that does not fit the request (a vector for an input that
	// does not exist) is malformed.
	_, err = p.Embed(context.Background(), []string{"one"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	require.Contains(t, err.Error(), "malformed response")

	_, err = p.Embed(context.Background(), []string{"ok", ""})
	require.ErrorIs(t, err, provider.ErrBadRequest)
}

func TestOpenAIEmbeddingDimensionsMustBeKnown(t *testing.T) {
	_, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: "http://localhost:11434/v1", EmbeddingModel: "my-embedder"})
	require.ErrorContains(t, err, `vector size of embedding model "my-embedder" is not known`)
	p, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: "http://localhost:11434/v1", EmbeddingModel: "nomic-embed-text"})
	require.NoError(t, err)
	require.Equal(t, 768, p.Dimensions())
}

// A stall after the first token is given up on (idle timeout) and not retried.
func TestOpenAIStallAfterTokenIsNotRetried(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(t, r)
		w.Header().Set("Content-Type", "text/event-stream")
		providertest.SSEWrite(w, providertest.OpenAIChunk("Hel", ""), "\n\n")
		<-r.Context().Done()
	}))
	defer srv.Close()
	retry, _ := fastRetry(3)
	var got []string
	_, err := newOpenAI(t, srv.URL, retry, provider.WithIdleTimeout(200*time.Millisecond)).Chat(context.Background(), chatRequest(), func(d string) error {
		got = append(got, d)
		return nil
	})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	require.Contains(t, err.Error(), "no data for 200ms")
	require.Equal(t, []string{"Hel"}, got)
	require.Len(t, rec.all(), 1)
}

// A server that streams without end is cut at Limits.MaxAnswerBytes.
func TestOpenAIAnswerBound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 1000; i++ {
			if r.Context().Err() != nil {
				return
			}
			providertest.SSEWrite(w, providertest.OpenAIChunk("0123456789", ""), "\n\n")
		}
	}))
	defer srv.Close()
	_, err := newOpenAI(t, srv.URL, provider.WithLimits(provider.Limits{MaxAnswerBytes: 100})).Chat(context.Background(), chatRequest(), nil)
	require.ErrorIs(t, err, provider.ErrUnavailable)
	require.Contains(t, err.Error(), "answer over 100 bytes")
}

// The default wait really waits what the server asked for.
func TestOpenAIRetryAfterIsWaited(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec.record(t, r) == 1 {
			w.Header().Set("retry-after-ms", "120")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
			return
		}
		providertest.WriteOpenAIStream(w, []string{"ok"}, nil)
	}))
	defer srv.Close()
	start := time.Now()
	res, err := newOpenAI(t, srv.URL).Chat(context.Background(), chatRequest(), nil)
	require.NoError(t, err)
	require.Equal(t, "ok", res.Text)
	require.GreaterOrEqual(t, time.Since(start), 120*time.Millisecond)
	require.Len(t, rec.all(), 2)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Requests meant for api.openai.com (sent to the test server by the
// client's transport) carry max_completion_tokens, which OpenAI's reasoning
// models require instead of max_tokens.
func TestOpenAIOfficialAPIGetsMaxCompletionTokens(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(t, r)
		providertest.WriteOpenAIStream(w, []string{"ok"}, nil)
	}))
	defer srv.Close()
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		require.Equal(t, "api.openai.com", r.URL.Host)
		r.URL.Scheme, r.URL.Host = "http", strings.TrimPrefix(srv.URL, "http://")
		return http.DefaultTransport.RoundTrip(r)
	})}
	p, err := provider.NewOpenAI(provider.OpenAIConfig{APIKey: "sk-live"}, provider.WithHTTPClient(client))
	require.NoError(t, err)
	req := chatRequest()
	req.MaxTokens = 64
	_, err = p.Chat(context.Background(), req, nil)
	require.NoError(t, err)
	r := rec.all()[0]
	require.Equal(t, "/v1/chat/completions", r.Path)
	require.Equal(t, float64(64), r.Body["max_completion_tokens"])
	require.NotContains(t, r.Body, "max_tokens")
	require.Equal(t, provider.DefaultOpenAIModel, r.Body["model"])
}
