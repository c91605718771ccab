package provider

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"
)

// Config selects and configures a provider (see ConfigFromEnv for the
// environment variables).
type Config struct {
	// Provider is "offline" (the default), "openai" or "gemini".
	Provider string
	OpenAI   OpenAIConfig
	Gemini   GeminiConfig
	Offline  OfflineConfig
	// Timeout bounds one call (0: 2 min); MaxAttempts bounds the requests
	// of one call (0: 3); MaxPromptBytes bounds a chat's text (0: 256 KiB).
	Timeout        time.Duration
	MaxAttempts    int
	MaxPromptBytes int
}

// ConfigFromEnv reads the configuration through getenv (os.Getenv when
// nil) and validates it, reporting every problem at once:
//
//	AI_PROVIDER                 offline | openai | gemini (default offline)
//	AI_TIMEOUT                  one call, Go duration (default 2m)
//	AI_MAX_ATTEMPTS             requests per call, retries included (default 3)
//	AI_MAX_PROMPT_BYTES         bound of a chat's text (default 262144)
//	OPENAI_BASE_URL             default https://api.openai.com/v1 (Ollama: http://localhost:11434/v1)
//	OPENAI_API_KEY              required for api.openai.com
//	OPENAI_MODEL                default gpt-4o-mini
//	OPENAI_EMBEDDING_MODEL      default text-embedding-3-small
//	OPENAI_EMBEDDING_DIMENSIONS sent as "dimensions"; needed for models whose size is not known
//	GEMINI_BASE_URL             default https://generativelanguage.googleapis.com
//	GEMINI_API_KEY              required with AI_PROVIDER=gemini
//	GEMINI_MODEL                default gemini-2.5-flash
//	GEMINI_EMBEDDING_MODEL      default gemini-embedding-001
//	GEMINI_EMBEDDING_DIMENSIONS default 768
//	AI_OFFLINE_DIMENSIONS       offline embedding size (default 256)
//	AI_OFFLINE_WORD_DELAY       pause between offline words, Go duration (default 0)
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	num := func(name string) int {
		v := getenv(name)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive integer", name, v))
			return 0
		}
		return n
	}
	dur := func(name string) time.Duration {
		v := getenv(name)
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a duration such as 90s", name, v))
			return 0
		}
		return d
	}
	c := Config{
		Provider: getenv("AI_PROVIDER"),
		OpenAI: OpenAIConfig{
			BaseURL:             getenv("OPENAI_BASE_URL"),
			APIKey:              getenv("OPENAI_API_KEY"),
			Model:               getenv("OPENAI_MODEL"),
			EmbeddingModel:      getenv("OPENAI_EMBEDDING_MODEL"),
			EmbeddingDimensions: num("OPENAI_EMBEDDING_DIMENSIONS"),
		},
		Gemini: GeminiConfig{
			BaseURL:             getenv("GEMINI_BASE_URL"),
			APIKey:              getenv("GEMINI_API_KEY"),
			Model:               getenv("GEMINI_MODEL"),
			EmbeddingModel:      getenv("GEMINI_EMBEDDING_MODEL"),
			EmbeddingDimensions: num("GEMINI_EMBEDDING_DIMENSIONS"),
		},
		Offline: OfflineConfig{
			Dimensions: num("AI_OFFLINE_DIMENSIONS"),
			WordDelay:  dur("AI_OFFLINE_WORD_DELAY"),
		},
		Timeout:        dur("AI_TIMEOUT"),
		MaxAttempts:    num("AI_MAX_ATTEMPTS"),
		MaxPromptBytes: num("AI_MAX_PROMPT_BYTES"),
	}
	if c.Provider == "" {
		c.Provider = "offline"
	}
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	switch c.Provider {
	case "offline", "":
	case "openai":
		base := c.OpenAI.BaseURL
		if base == "" {
			base = DefaultOpenAIBaseURL
		}
		if u, err := url.Parse(base); err == nil && u.Host == "api.openai.com" && c.OpenAI.APIKey == "" {
			errs = append(errs, errors.New("OPENAI_API_KEY is required for api.openai.com"))
		}
	case "gemini":
		if c.Gemini.APIKey == "" {
			errs = append(errs, errors.New("GEMINI_API_KEY is required with AI_PROVIDER=gemini"))
		}
	default:
		errs = append(errs, fmt.Errorf("AI_PROVIDER=%q: want offline, openai or gemini", c.Provider))
	}
	if c.Timeout < 0 || c.MaxAttempts < 0 || c.MaxPromptBytes < 0 {
		errs = append(errs, errors.New("timeout, attempts and prompt bound must not be negative"))
	}
	return errors.Join(errs...)
}

// New builds the configured provider. Options given here come after the
// ones the Config implies, so they win.
func New(c Config, opts ...Option) (Provider, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var base []Option
	if c.Timeout > 0 {
		base = append(base, WithTimeout(c.Timeout))
	}
	if c.MaxAttempts > 0 {
		base = append(base, func(o *options) { o.retry.MaxAttempts = c.MaxAttempts })
	}
	if c.MaxPromptBytes > 0 {
		base = append(base, func(o *options) { o.limits.MaxPromptBytes = c.MaxPromptBytes })
	}
	opts = append(base, opts...)
	switch c.Provider {
	case "openai":
		return NewOpenAI(c.OpenAI, opts...)
	case "gemini":
		return NewGemini(c.Gemini, opts...)
	default:
		return NewOffline(c.Offline, opts...)
	}
}

// FromEnv builds the provider the environment configures (ConfigFromEnv).
func FromEnv(opts ...Option) (Provider, error) {
	c, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("ai provider config: %w", err)
	}
	p, err := New(c, opts...)
	if err != nil {
		return nil, fmt.Errorf("ai provider: %w", err)
	}
	return p, nil
}
