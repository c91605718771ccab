package provider_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/ai/provider"
)

func newOffline(t *testing.T) *provider.Offline {
	t.Helper()
	p, err := provider.NewOffline(provider.OfflineConfig{})
	require.NoError(t, err)
	return p
}

func ask(q string) provider.ChatRequest {
	return provider.ChatRequest{Messages: []provider.Message{{Role: provider.RoleUser, Content: q}}, Passages: passages}
}

func TestOfflineQuotesAndCitesBestPassage(t *testing.T) {
	p := newOffline(t)
	cases := []struct{ q, want, quote string }{
		{"Is multi-factor authentication required for administrators?", "CC6.1", "Multi-factor authentication is required for every administrator login"},
		{"How often are backups restored and tested?", "doc-7#2", "Restores are tested every quarter."},
		{"Who reviews the security event logs?", "CC7.2", "Security events are logged centrally and reviewed daily"},
		{"Do pull requests need an approving review before deployment?", "CC8.1", "Every pull request needs one approving review."},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			var deltas []string
			res, err := p.Chat(context.Background(), ask(c.q), func(d string) error {
				deltas = append(deltas, d)
				return nil
			})
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(res.Text, provider.OfflineDisclaimer), "it says it is not a language model")
			require.Contains(t, res.Text, "not a language model")
			require.NotEmpty(t, res.Citations)
			require.Equal(t, c.want, res.Citations[0], res.Text)
			require.Contains(t, res.Text, "["+c.want+"] ")
			require.Contains(t, res.Text, c.quote)
			// Streamed word by word: each delta is one word and its spacing,
			// and together they are the answer.
			require.Equal(t, res.Text, strings.Join(deltas, ""))
			require.Greater(t, len(deltas), 20)
			for _, d := range deltas {
				require.Len(t, strings.Fields(d), 1, "delta %q", d)
			}
			require.Equal(t, len(deltas), res.Usage.CompletionTokens)
			require.Positive(t, res.Usage.PromptTokens)
			require.Equal(t, "stop", res.FinishReason)
		})
	}
}

func TestOfflineIsDeterministic(t *testing.T) {
	p := newOffline(t)
	req := ask("Are customer database backups encrypted?")
	first, err := p.Chat(context.Background(), req, nil)
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		again, err := p.Chat(context.Background(), req, nil)
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
	require.Equal(t, "doc-7#2", first.Citations[0])
	require.Equal(t, provider.OfflineDisclaimer+"\n\nThe passages that best match your question:\n\n"+
		"[doc-7#2] Backup policy: \u201cBackups of customer databases are encrypted with AES-256 and copied nightly to a second region.\u201d\n",
		first.Text)
}

func TestOfflineSaysWhenNothingMatches(t *testing.T) {
	p := newOffline(t)
	res, err := p.Chat(context.Background(), ask("What colour is the office cat?"), nil)
	require.NoError(t, err)
	require.Empty(t, res.Citations)
	require.Contains(t, res.Text, "None of the 4 passages provided matches the words of your question")

	res, err = p.Chat(context.Background(), provider.ChatRequest{Messages: []provider.Message{{Role: provider.RoleUser, Content: "hi"}}}, nil)
	require.NoError(t, err)
	require.Contains(t, res.Text, "No passages were provided")
}

func TestOfflineStopsOnCancelAndCallbackError(t *testing.T) {
	p := newOffline(t)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := p.Chat(ctx, ask("backups encrypted"), func(string) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 3, n)

	stop := context.DeadlineExceeded // any error
	_, err = p.Chat(context.Background(), ask("backups encrypted"), func(string) error { return stop })
	require.ErrorIs(t, err, stop)
}

func TestOfflineInputBounds(t *testing.T) {
	p, err := provider.NewOffline(provider.OfflineConfig{}, provider.WithLimits(provider.Limits{MaxPromptBytes: 100, MaxEmbedTexts: 2, MaxEmbedTextBytes: 10}))
	require.NoError(t, err)
	_, err = p.Chat(context.Background(), ask("backups"), nil)
	require.ErrorIs(t, err, provider.ErrInputTooLarge)
	_, err = p.Embed(context.Background(), []string{"a", "b", "c"})
	require.ErrorIs(t, err, provider.ErrInputTooLarge)
	_, err = p.Embed(context.Background(), []string{"eleven byte"})
	require.ErrorIs(t, err, provider.ErrInputTooLarge)
	_, err = p.Chat(context.Background(), provider.ChatRequest{}, nil)
	require.ErrorIs(t, err, provider.ErrBadRequest)
	_, err = p.Chat(context.Background(), provider.ChatRequest{Messages: []provider.Message{{Role: "robot", Content: "x"}}}, nil)
	require.ErrorIs(t, err, provider.ErrBadRequest)
	bad := ask("x")
	bad.Passages = []provider.Passage{{ID: "has space", Text: "t"}}
	_, err = newOffline(t).Chat(context.Background(), bad, nil)
	require.ErrorIs(t, err, provider.ErrBadRequest)
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestOfflineEmbeddingsRankRelevantPassageFirst(t *testing.T) {
	p := newOffline(t)
	texts := make([]string, len(passages))
	for i, ps := range passages {
		texts[i] = ps.Title + ". " + ps.Text
	}
	docs, err := p.Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Len(t, docs.Vectors, len(passages))
	for _, v := range docs.Vectors {
		require.Len(t, v, 256)
		require.InDelta(t, 1, dot(v, v), 1e-5, "unit length")
	}
	queries := map[string]string{
		"administrator MFA login":              "CC6.1",
		"are backups encrypted":                "doc-7#2",
		"review of security event logs":        "CC7.2",
		"approval of changes before deploying": "CC8.1",
	}
	for q, want := range queries {
		qv, err := p.Embed(context.Background(), []string{q})
		require.NoError(t, err)
		best, bestScore := "", -2.0
		for i, v := range docs.Vectors {
			if s := dot(qv.Vectors[0], v); s > bestScore {
				best, bestScore = passages[i].ID, s
			}
		}
		require.Equal(t, want, best, q)
	}
	again, err := p.Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Equal(t, docs, again, "deterministic")
	// Unrelated texts are near orthogonal; related ones are not.
	v, err := p.Embed(context.Background(), []string{"encrypted backups", "backup encryption", "quarterly picnic menu"})
	require.NoError(t, err)
	require.Greater(t, dot(v.Vectors[0], v.Vectors[1]), 0.5)
	require.Less(t, dot(v.Vectors[0], v.Vectors[2]), 0.2)
}
