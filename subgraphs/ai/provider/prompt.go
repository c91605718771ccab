package provider

import (
	"strings"
)

// groundingInstruction heads the system message that carries the passages
// to remote providers.
const groundingInstruction = "Answer using only the context passages below. " +
	"Cite every passage you use by its id in square brackets, for example [%s]. " +
	"If the passages do not contain the answer, say so plainly."

// groundedMessages returns the conversation a remote model sees: the
// caller's leading system messages, then one system message holding the
// passages (when there are any), then the rest.
func groundedMessages(req ChatRequest) []Message {
	if len(req.Passages) == 0 {
		return req.Messages
	}
	lead := 0
	for lead < len(req.Messages) && req.Messages[lead].Role == RoleSystem {
		lead++
	}
	out := make([]Message, 0, len(req.Messages)+1)
	out = append(out, req.Messages[:lead]...)
	out = append(out, Message{Role: RoleSystem, Content: renderPassages(req.Passages)})
	return append(out, req.Messages[lead:]...)
}

// renderPassages writes the grounding instruction and each passage as
// "[id] title" followed by its text.
func renderPassages(ps []Passage) string {
	var b strings.Builder
	b.WriteString(strings.Replace(groundingInstruction, "%s", ps[0].ID, 1))
	b.WriteString("\n\nContext passages:\n")
	for _, p := range ps {
		b.WriteString("\n[")
		b.WriteString(p.ID)
		b.WriteString("]")
		if p.Title != "" {
			b.WriteString(" ")
			b.WriteString(p.Title)
		}
		b.WriteString("\n")
		b.WriteString(strings.TrimSpace(p.Text))
		b.WriteString("\n")
	}
	return b.String()
}

// citations returns the ids of passages cited in text as [id] (or
// [id1, id2]), in order of first citation, each once. Bracketed text that
// names no passage is ignored.
func citations(text string, ps []Passage) []string {
	if len(ps) == 0 {
		return nil
	}
	known := make(map[string]bool, len(ps))
	for _, p := range ps {
		known[p.ID] = true
	}
	var out []string
	seen := map[string]bool{}
	for {
		i := strings.IndexByte(text, '[')
		if i < 0 {
			return out
		}
		text = text[i+1:]
		j := strings.IndexAny(text, "[]\n")
		if j < 0 {
			return out
		}
		if text[j] != ']' {
			continue
		}
		for _, id := range strings.FieldsFunc(text[:j], func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
			if known[id] && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
		text = text[j+1:]
	}
}

// estimateTokens approximates a token count from text: about four bytes a
// token for English with the common BPE vocabularies.
func estimateTokens(n int) int { return (n + 3) / 4 }

func promptBytes(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Content)
	}
	return n
}
