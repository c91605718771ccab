// Package provider is the AI layer under the ai subgraph: one interface
// (Provider: streaming chat completion and embeddings) and three
// implementations.
//
//   - Offline (the default, AI_PROVIDER=offline): no network, no key,
//     deterministic. It is not a language model and says so in every answer:
//     it ranks the request's Passages against the last user message with
//     BM25, quotes the best sentences of the best passages with their [ID],
//     and streams that answer word by word. Its embeddings hash words and
//     character trigrams into 256 dimensions, so cosine similarity measures
//     lexical overlap.
//   - OpenAI (AI_PROVIDER=openai): the OpenAI chat completions and
//     embeddings API as OpenAI, Ollama and vLLM serve it; streamed as
//     server-sent events with a usage chunk (stream_options.include_usage).
//   - Gemini (AI_PROVIDER=gemini): streamGenerateContent?alt=sse and
//     batchEmbedContents, authenticated with x-goog-api-key.
//
// Use:
//
//	p, err := provider.FromEnv() // or provider.New(cfg, opts...)
//	res, err := p.Chat(ctx, provider.ChatRequest{
//		Messages: []provider.Message{{Role: provider.RoleUser, Content: question}},
//		Passages: retrieved, // each cited as [ID]
//	}, func(delta string) error {
//		return publish(delta) // each token as produced, in order
//	})
//	// res.Text, res.Citations (passage ids the answer cites), res.Usage
//	vecs, err := p.Embed(ctx, chunks) // unit vectors of p.Dimensions()
//
// Behaviour shared by the remote providers: every call is bounded
// (WithTimeout, default 2 min; WithIdleTimeout, default 1 min of silence);
// requests failing with 429, 408, 5xx or a connection error, or a stream
// that broke before its first delta, are retried with exponential backoff
// and jitter, honouring Retry-After and retry-after-ms (WithRetry, default 3
// attempts); a completion is never retried once a delta was delivered.
// Errors wrap one of ErrRateLimited, ErrAuth, ErrBadRequest, ErrInputTooLarge
// or ErrUnavailable (details in *APIError: status, provider code, message,
// RetryAfter, attempts), or the caller's context error. Inputs are bounded
// before anything is sent (Limits: prompt bytes, messages, passages,
// embedding batch and text sizes).
//
// The SSE wire format is read by subpackage sse.
package provider
