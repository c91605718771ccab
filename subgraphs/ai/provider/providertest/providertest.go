// Package providertest writes the real streaming wire formats of the remote
// providers (OpenAI's chat.completion.chunk server-sent events, Gemini's
// streamGenerateContent?alt=sse frames), chunk by chunk, for tests of the
// provider package and of what is built on it (the ai subgraph): a local
// HTTP server that speaks the provider's API.
package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// SSEWrite writes one event as "data: <data><sep>" and flushes it.
func SSEWrite(w http.ResponseWriter, data, sep string) {
	_, _ = io.WriteString(w, "data: "+data+sep)
	w.(http.Flusher).Flush()
}

// OpenAIChunk is a chat.completion.chunk as OpenAI sends it.
func OpenAIChunk(content string, finish string) string {
	fin := "null"
	if finish != "" {
		fin = fmt.Sprintf("%q", finish)
	}
	delta := `{}`
	if content != "" {
		c, _ := json.Marshal(content)
		delta = `{"content":` + string(c) + `}`
	}
	return `{"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1733500000,"model":"gpt-4o-mini-2024-07-18",` +
		`"system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + fin + `}],"usage":null}`
}

// OpenAIFirstChunk is the role chunk OpenAI's streams open with.
const OpenAIFirstChunk = `{"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1733500000,"model":"gpt-4o-mini-2024-07-18",` +
	`"system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`

// OpenAIUsageChunk is the last chunk of a stream with include_usage.
func OpenAIUsageChunk(prompt, completion int) string {
	return fmt.Sprintf(`{"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1733500000,"model":"gpt-4o-mini-2024-07-18",`+
		`"system_fingerprint":"fp_0ba0d124f1","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,`+
		`"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}}`,
		prompt, completion, prompt+completion)
}

// WriteOpenAIStream writes a whole successful stream of tokens, calling
// afterEach (when set) after each token's chunk is flushed.
func WriteOpenAIStream(w http.ResponseWriter, tokens []string, afterEach func(i int)) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	SSEWrite(w, OpenAIFirstChunk, "\n\n")
	for i, tok := range tokens {
		SSEWrite(w, OpenAIChunk(tok, ""), "\n\n")
		if afterEach != nil {
			afterEach(i)
		}
	}
	SSEWrite(w, OpenAIChunk("", "stop"), "\n\n")
	SSEWrite(w, OpenAIUsageChunk(57, len(tokens)), "\n\n")
	SSEWrite(w, "[DONE]", "\n\n")
}

// GeminiFrame is a GenerateContentResponse as streamGenerateContent?alt=sse
// sends it; the last one carries finishReason and the final usageMetadata.
func GeminiFrame(text string, last bool, prompt, candidates int) string {
	t, _ := json.Marshal(text)
	fin := ""
	if last {
		fin = `,"finishReason":"STOP"`
	}
	usage := fmt.Sprintf(`"usageMetadata":{"promptTokenCount":%d,"totalTokenCount":%d,"promptTokensDetails":[{"modality":"TEXT","tokenCount":%d}]}`, prompt, prompt, prompt)
	if last {
		usage = fmt.Sprintf(`"usageMetadata":{"promptTokenCount":%d,"candidatesTokenCount":%d,"totalTokenCount":%d,"thoughtsTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":%d}]}`,
			prompt, candidates, prompt+candidates+4, prompt)
	}
	return `{"candidates":[{"content":{"parts":[{"text":` + string(t) + `}],"role":"model"}` + fin + `,"index":0}],` +
		usage + `,"modelVersion":"gemini-2.5-flash","responseId":"mOBTaZ-6LuvX1PIPgY3EsAQ"}`
}

// WriteGeminiStream writes a whole successful stream of tokens (CRLF
// framing, as Google's servers send), calling afterEach (when set) after
// each frame is flushed.
func WriteGeminiStream(w http.ResponseWriter, tokens []string, afterEach func(i int)) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for i, tok := range tokens {
		SSEWrite(w, GeminiFrame(tok, i == len(tokens)-1, 61, 9), "\r\n\r\n")
		if afterEach != nil {
			afterEach(i)
		}
	}
}

// Answerer writes the answer a local server streams for a request body.
type Answerer func(body map[string]any) []string

// CitingFirstPassage answers with a sentence citing the first [id] the
// request's grounding message names, in several tokens.
func CitingFirstPassage(body map[string]any) []string {
	ref := "none"
	raw, _ := json.Marshal(body)
	s := string(raw)
	if i := strings.Index(s, `\n[`); i >= 0 {
		if j := strings.IndexByte(s[i+3:], ']'); j > 0 {
			ref = s[i+3 : i+3+j]
		}
	}
	return []string{"According", " to the", " context", ", yes", " [" + ref + "]", "."}
}

// OpenAIServer serves POST /v1/chat/completions in OpenAI's wire format,
// each answer from answer.
func OpenAIServer(answer Answerer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, "/v1/chat/completions")
		if ok {
			WriteOpenAIStream(w, answer(body), nil)
		}
	})
}

// GeminiServer serves POST /v1beta/models/{model}:streamGenerateContent in
// Gemini's wire format, each answer from answer.
func GeminiServer(answer Answerer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ":streamGenerateContent") || r.URL.Query().Get("alt") != "sse" {
			http.Error(w, `{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}`, http.StatusNotFound)
			return
		}
		body, ok := readBody(w, r, r.URL.Path)
		if ok {
			WriteGeminiStream(w, answer(body), nil)
		}
	})
}

func readBody(w http.ResponseWriter, r *http.Request, path string) (map[string]any, bool) {
	var body map[string]any
	if r.Method != http.MethodPost || r.URL.Path != path || json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return nil, false
	}
	return body, true
}
