package provider

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The classes of failure. Every error a provider returns wraps exactly one
// of them (or a context error), so callers classify with errors.Is.
var (
	// ErrRateLimited: the provider refused for quota or rate (HTTP 429).
	// The *APIError's RetryAfter says when to come back, if the server said.
	ErrRateLimited = errors.New("rate limited")
	// ErrAuth: the API key is missing, invalid or not allowed (401, 403).
	ErrAuth = errors.New("authentication failed")
	// ErrBadRequest: the request is invalid (other 4xx, unknown model,
	// empty input, blocked prompt). Retrying will not help.
	ErrBadRequest = errors.New("bad request")
	// ErrInputTooLarge: an input passed a Limits bound, checked before any
	// request is sent. errors.Is(err, ErrBadRequest) is true as well.
	ErrInputTooLarge = errors.New("input too large")
	// ErrUnavailable: the provider failed (5xx), the connection failed or
	// stalled, or the stream was cut or malformed.
	ErrUnavailable = errors.New("provider unavailable")
)

// APIError is a failure reported by (or on the way to) a provider. Its
// message does not name the provider: the provider wraps it ("openai chat: …").
type APIError struct {
	// Provider is "openai" or "gemini".
	Provider string
	// Kind is one of the sentinel errors above; errors.Is matches it.
	Kind error
	// StatusCode is the HTTP status (0 when no response came).
	StatusCode int
	// Code is the provider's own code ("invalid_api_key", "RESOURCE_EXHAUSTED", …).
	Code string
	// Message is the provider's message or a description of the failure.
	Message string
	// RetryAfter is the wait the server asked for (Retry-After, retry-after-ms), 0 if none.
	RetryAfter time.Duration
	// Attempts is how many requests were sent before giving up.
	Attempts int
	// Err is the underlying error (a network error), if any.
	Err error
}

func (e *APIError) Error() string {
	s := e.Kind.Error()
	var tags []string
	if e.StatusCode != 0 {
		tags = append(tags, fmt.Sprintf("HTTP %d", e.StatusCode))
	}
	if e.Code != "" {
		tags = append(tags, e.Code)
	}
	if len(tags) > 0 {
		s += " (" + strings.Join(tags, " ") + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

// Unwrap gives the sentinel and the underlying error.
func (e *APIError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// retryable reports whether sending the request again may succeed.
func (e *APIError) retryable() bool {
	return e.Kind == ErrRateLimited || e.Kind == ErrUnavailable
}

// kindForStatus classifies an HTTP status.
func kindForStatus(status int) error {
	switch {
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrAuth
	case status == http.StatusRequestTimeout || status >= 500:
		return ErrUnavailable
	default:
		return ErrBadRequest
	}
}

// LimitError is an input over a Limits bound.
type LimitError struct {
	// What names the input ("prompt", "embedding input 3", …).
	What string
	// Size and Limit are in the unit of the bound (bytes or items).
	Size, Limit int
	Unit        string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s is %d %s, over the limit of %d", ErrInputTooLarge, e.What, e.Size, e.Unit, e.Limit)
}

// Is makes errors.Is(err, ErrInputTooLarge) and errors.Is(err, ErrBadRequest) true.
func (e *LimitError) Is(target error) bool {
	return target == ErrInputTooLarge || target == ErrBadRequest
}
