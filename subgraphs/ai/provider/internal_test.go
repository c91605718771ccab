package provider

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWordsAndStems(t *testing.T) {
	require.Equal(t, []string{"soc-2", "cc6.1", "requires", "mfa", "end"}, words("SOC-2 (CC6.1) requires MFA. End."))
	for _, group := range [][]string{
		{"encrypted", "encryption", "encrypts", "encrypting"},
		{"policy", "policies"},
		{"require", "required", "requires"},
		{"control", "controls"},
	} {
		for _, w := range group[1:] {
			require.Equal(t, stem(group[0]), stem(w), "%s ~ %s", group[0], w)
		}
	}
	require.Equal(t, "access", stem("access"))
	require.Equal(t, []string{"backup", "encrypt"}, terms("Are the backups encrypted?"))
}

func TestSentences(t *testing.T) {
	require.Equal(t, []string{"One.", "Two?", "Three", "v1.2 stays whole!"},
		sentences("One. Two? Three\n\nv1.2 stays whole!"))
}

func TestCitations(t *testing.T) {
	ps := []Passage{{ID: "a"}, {ID: "doc-1#2"}, {ID: "CC6.1"}}
	require.Equal(t, []string{"CC6.1", "doc-1#2", "a"},
		citations("See [CC6.1] and [doc-1#2, a]; again [a] [unknown] [b", ps))
	require.Nil(t, citations("no brackets", ps))
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	h := http.Header{}
	require.Zero(t, retryAfter(h, now))
	h.Set("Retry-After", "3")
	require.Equal(t, 3*time.Second, retryAfter(h, now))
	h.Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
	require.Equal(t, 90*time.Second, retryAfter(h, now))
	h.Set("retry-after-ms", "250")
	require.Equal(t, 250*time.Millisecond, retryAfter(h, now), "retry-after-ms first")
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	for n, hi := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: time.Second} {
		for i := 0; i < 50; i++ {
			d := p.backoff(n)
			require.GreaterOrEqual(t, d, hi/2)
			require.LessOrEqual(t, d, hi)
		}
	}
}

func TestGroundedMessages(t *testing.T) {
	req := ChatRequest{
		Messages: []Message{{RoleSystem, "task"}, {RoleUser, "q"}},
		Passages: []Passage{{ID: "p1", Title: "T", Text: " body \n"}},
	}
	msgs := groundedMessages(req)
	require.Len(t, msgs, 3)
	require.Equal(t, "task", msgs[0].Content)
	require.Equal(t, RoleSystem, msgs[1].Role)
	require.Contains(t, msgs[1].Content, "for example [p1]")
	require.Contains(t, msgs[1].Content, "[p1] T\nbody\n")
	require.Equal(t, "q", msgs[2].Content)
}
