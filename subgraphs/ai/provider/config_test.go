package provider_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/ai/provider"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaultsToOffline(t *testing.T) {
	c, err := provider.ConfigFromEnv(env(nil))
	require.NoError(t, err)
	require.Equal(t, "offline", c.Provider)
	p, err := provider.New(c)
	require.NoError(t, err)
	require.Equal(t, "offline", p.Name())
	require.Equal(t, provider.DefaultOfflineDimensions, p.Dimensions())
}

func TestConfigFromEnv(t *testing.T) {
	c, err := provider.ConfigFromEnv(env(map[string]string{
		"AI_PROVIDER": "openai", "OPENAI_BASE_URL": "http://localhost:11434/v1", "OPENAI_MODEL": "llama3.2",
		"OPENAI_EMBEDDING_MODEL": "nomic-embed-text", "AI_TIMEOUT": "90s", "AI_MAX_ATTEMPTS": "5",
	}))
	require.NoError(t, err, "Ollama needs no key")
	require.Equal(t, 90*time.Second, c.Timeout)
	require.Equal(t, 5, c.MaxAttempts)
	p, err := provider.New(c)
	require.NoError(t, err)
	require.Equal(t, "openai", p.Name())
	require.Equal(t, "llama3.2", p.ChatModel())
	require.Equal(t, 768, p.Dimensions())

	c, err = provider.ConfigFromEnv(env(map[string]string{"AI_PROVIDER": "gemini", "GEMINI_API_KEY": "g-key"}))
	require.NoError(t, err)
	p, err = provider.New(c)
	require.NoError(t, err)
	require.Equal(t, "gemini", p.Name())
	require.Equal(t, provider.DefaultGeminiModel, p.ChatModel())
	require.Equal(t, provider.DefaultGeminiEmbeddingDimensions, p.Dimensions())
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := provider.ConfigFromEnv(env(map[string]string{
		"AI_PROVIDER": "claude", "AI_TIMEOUT": "soon", "OPENAI_EMBEDDING_DIMENSIONS": "-3",
	}))
	require.ErrorContains(t, err, `AI_PROVIDER="claude": want offline, openai or gemini`)
	require.ErrorContains(t, err, `AI_TIMEOUT="soon"`)
	require.ErrorContains(t, err, `OPENAI_EMBEDDING_DIMENSIONS="-3"`)

	_, err = provider.ConfigFromEnv(env(map[string]string{"AI_PROVIDER": "openai"}))
	require.ErrorContains(t, err, "OPENAI_API_KEY is required for api.openai.com")
	_, err = provider.ConfigFromEnv(env(map[string]string{"AI_PROVIDER": "gemini"}))
	require.ErrorContains(t, err, "GEMINI_API_KEY is required")
}

func TestFromEnv(t *testing.T) {
	t.Setenv("AI_PROVIDER", "offline")
	t.Setenv("AI_OFFLINE_DIMENSIONS", "128")
	p, err := provider.FromEnv()
	require.NoError(t, err)
	require.Equal(t, 128, p.Dimensions())
	t.Setenv("AI_PROVIDER", "nope")
	_, err = provider.FromEnv()
	require.ErrorContains(t, err, "ai provider config:")
}
