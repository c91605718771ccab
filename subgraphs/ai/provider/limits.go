package provider

import (
	"fmt"
	"unicode"
)

// Limits bound what a caller may send, checked before any request.
type Limits struct {
	// MaxPromptBytes bounds the sum of the messages' and passages' text
	// (default 256 KiB).
	MaxPromptBytes int
	// MaxMessages and MaxPassages bound the counts (defaults 200 and 100).
	MaxMessages int
	MaxPassages int
	// MaxEmbedTexts bounds one Embed batch (default 256); MaxEmbedTextBytes
	// bounds each text (default 32 KiB, about the 8k-token input limit of
	// the common embedding models).
	MaxEmbedTexts     int
	MaxEmbedTextBytes int
	// MaxAnswerBytes bounds the text a remote provider may stream back for
	// one completion (default 1 MiB); past it the call fails with
	// ErrUnavailable.
	MaxAnswerBytes int
}

// DefaultLimits are used unless WithLimits says otherwise.
func DefaultLimits() Limits {
	return Limits{MaxPromptBytes: 256 << 10, MaxMessages: 200, MaxPassages: 100, MaxEmbedTexts: 256, MaxEmbedTextBytes: 32 << 10, MaxAnswerBytes: 1 << 20}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxPromptBytes <= 0 {
		l.MaxPromptBytes = d.MaxPromptBytes
	}
	if l.MaxMessages <= 0 {
		l.MaxMessages = d.MaxMessages
	}
	if l.MaxPassages <= 0 {
		l.MaxPassages = d.MaxPassages
	}
	if l.MaxEmbedTexts <= 0 {
		l.MaxEmbedTexts = d.MaxEmbedTexts
	}
	if l.MaxEmbedTextBytes <= 0 {
		l.MaxEmbedTextBytes = d.MaxEmbedTextBytes
	}
	if l.MaxAnswerBytes <= 0 {
		l.MaxAnswerBytes = d.MaxAnswerBytes
	}
	return l
}

// checkChat validates a chat request against the limits.
func (l Limits) checkChat(req ChatRequest) error {
	if len(req.Messages) == 0 {
		return fmt.Errorf("%w: no messages", ErrBadRequest)
	}
	if n := len(req.Messages); n > l.MaxMessages {
		return &LimitError{What: "conversation", Size: n, Limit: l.MaxMessages, Unit: "messages"}
	}
	if n := len(req.Passages); n > l.MaxPassages {
		return &LimitError{What: "context", Size: n, Limit: l.MaxPassages, Unit: "passages"}
	}
	size := 0
	hasUser := false
	for i, m := range req.Messages {
		switch m.Role {
		case RoleSystem, RoleAssistant:
		case RoleUser:
			hasUser = true
		default:
			return fmt.Errorf("%w: message %d has unknown role %q", ErrBadRequest, i, m.Role)
		}
		size += len(m.Content)
	}
	if !hasUser {
		return fmt.Errorf("%w: no user message", ErrBadRequest)
	}
	for i, p := range req.Passages {
		if p.ID == "" || !validPassageID(p.ID) {
			return fmt.Errorf("%w: passage %d: id %q must be 1–128 bytes without spaces, brackets, commas or semicolons", ErrBadRequest, i, p.ID)
		}
		size += len(p.ID) + len(p.Title) + len(p.Text)
	}
	if size > l.MaxPromptBytes {
		return &LimitError{What: "prompt", Size: size, Limit: l.MaxPromptBytes, Unit: "bytes"}
	}
	if req.MaxTokens < 0 {
		return fmt.Errorf("%w: negative MaxTokens", ErrBadRequest)
	}
	return nil
}

// checkEmbed validates an embedding batch against the limits.
func (l Limits) checkEmbed(texts []string) error {
	if len(texts) == 0 {
		return fmt.Errorf("%w: no texts to embed", ErrBadRequest)
	}
	if n := len(texts); n > l.MaxEmbedTexts {
		return &LimitError{What: "embedding batch", Size: n, Limit: l.MaxEmbedTexts, Unit: "texts"}
	}
	for i, t := range texts {
		if t == "" {
			return fmt.Errorf("%w: embedding input %d is empty", ErrBadRequest, i)
		}
		if len(t) > l.MaxEmbedTextBytes {
			return &LimitError{What: fmt.Sprintf("embedding input %d", i), Size: len(t), Limit: l.MaxEmbedTextBytes, Unit: "bytes"}
		}
	}
	return nil
}

// validPassageID: 1–128 bytes, no whitespace, brackets, commas or
// semicolons (so "[ID]" and "[ID1, ID2]" parse).
func validPassageID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for _, r := range id {
		switch {
		case r == '[' || r == ']' || r == ',' || r == ';' || r <= ' ' || r == 0x7f || unicode.IsSpace(r):
			return false
		}
	}
	return true
}
