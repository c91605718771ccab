package assistant

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
)

// MaxDraftBytes bounds a policy draft (it travels whole in one event).
const MaxDraftBytes = 48 << 10

const draftInstruction = "You write information security policies. From the framework requirements and the project's controls " +
	"in the passages, write the policy statements of a policy document in Markdown: one short section per requirement, " +
	"stating what the organization does, citing the passages. Do not invent controls the passages do not name."

// Draft writes a policy draft in Markdown for framework f of a project
// (f from projection.Framework, its requirements with the project's
// controls): a deterministic skeleton — purpose, scope, one section per
// requirement naming the controls that implement it or the gap — and, with
// a language model (any provider but the offline one, which writes no
// text of its own), policy statements the model writes from the same
// passages. Bounded by MaxDraftBytes.
func (a *Assistant) Draft(ctx context.Context, title string, f *projection.FrameworkContext, now time.Time) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "*Draft generated on %s by %s from %s %s and the project's controls. Review it before adoption.*\n\n",
		now.UTC().Format("2006-01-02"), a.ModelName(), f.Name, f.Version)
	fmt.Fprintf(&b, "## Purpose\n\nThis policy sets out how the organization meets the requirements of %s.\n\n", f.Name)
	b.WriteString("## Scope\n\nAll systems, people and processes of the project in scope of the framework.\n\n")
	b.WriteString("## Requirements and controls\n\n")
	var passages []provider.Passage
	gaps := 0
	for _, r := range f.Requirements {
		fmt.Fprintf(&b, "### %s %s\n\n", r.Code, oneLine(r.Title, 300))
		if len(r.Controls) == 0 {
			gaps++
			b.WriteString("No control of the project implements this requirement yet.\n\n")
		}
		for _, c := range r.Controls {
			fmt.Fprintf(&b, "- %s %s (%s)\n", c.Code, oneLine(c.Title, 200), strings.ToLower(strings.ReplaceAll(c.Status, "_", " ")))
		}
		if len(r.Controls) > 0 {
			b.WriteString("\n")
		}
		if len(passages) < 100 {
			var text strings.Builder
			fmt.Fprintf(&text, "Requirement %s: %s.", r.Code, oneLine(r.Title, 300))
			for _, c := range r.Controls {
				fmt.Fprintf(&text, " Control %s %q (%s).", c.Code, c.Title, c.Status)
			}
			passages = append(passages, provider.Passage{ID: ref(r.Code, fmt.Sprintf("R%d", len(passages)+1)), Text: text.String()})
		}
	}
	fmt.Fprintf(&b, "## Gaps\n\n%d of %d requirements have no control yet.\n", gaps, len(f.Requirements))
	if a.p.Name() != "offline" && len(passages) > 0 {
		res, err := a.p.Chat(ctx, provider.ChatRequest{Passages: passages, Messages: []provider.Message{
			{Role: provider.RoleSystem, Content: draftInstruction},
			{Role: provider.RoleUser, Content: "Write the policy statements of the " + title + "."},
		}}, nil)
		if err != nil {
			return "", err
		}
		b.WriteString("\n## Policy statements\n\n" + strings.TrimSpace(res.Text) + "\n")
	}
	out := b.String()
	if len(out) > MaxDraftBytes {
		cut := strings.LastIndex(out[:MaxDraftBytes-100], "\n")
		out = out[:cut] + "\n\n*(Truncated: the draft is longer than the limit.)*\n"
	}
	return out, nil
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
