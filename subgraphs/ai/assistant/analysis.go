package assistant

import (
	"context"
	"fmt"
	"strings"

	"github.com/studio-platform/studio/subgraphs/ai/graph/model"
	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/ai/vectors"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
)

// Analysis is the result of an evidence analysis.
type Analysis struct {
	Verdict   model.AnalysisVerdict
	Summary   string
	Citations []model.Citation
	Model     string
}

// Similarity bounds of the verdict when the answer names none (the offline
// provider never does): the best chunk's cosine similarity to the control
// and the evidence's title. With the offline embeddings (hashed words and
// trigrams) similarity is lexical overlap: measured, a policy stating the
// control 0.28, a text on another control 0.20–0.24, unrelated text −0.03
// to 0.08. The bounds are that coarse; a language model's verdict is used
// whenever it gives one.
const (
	SupportedSimilarity = 0.25
	PartialSimilarity   = 0.15
)

const analysisInstruction = "You review evidence for a compliance audit. Decide whether the evidence passages show that the control " +
	"operates as described. Begin your answer with exactly one word: SUPPORTED, PARTIAL or NOT_SUPPORTED. Then explain briefly, citing the passages you rely on."

// Analyze decides whether evidence ev supports control ctl of org, from the
// chunks of the documents attached to the evidence most similar to the
// control: the provider's verdict (the first word of its answer) or, when it
// names none, one from the best chunk's similarity; the cited chunks as
// citations (the best chunk when the answer cites none but finds support).
func (a *Assistant) Analyze(ctx context.Context, org string, ctl projection.ControlContext, ev projection.EvidenceContext) (*Analysis, error) {
	g := &Grounding{}
	query := fmt.Sprintf("%s %s. %s", ctl.Code, ctl.Title, ev.Title)
	hits, err := a.addChunks(ctx, g, vectors.Scope{OrgID: org, EvidenceID: ev.ID}, query, a.cfg.Chunks)
	if err != nil {
		return nil, err
	}
	out := &Analysis{Model: a.ModelName(), Citations: []model.Citation{}}
	if len(hits) == 0 {
		out.Verdict = model.AnalysisVerdictNoDocuments
		out.Summary = fmt.Sprintf("The evidence %q has no processed document to read.", ev.Title)
		return out, nil
	}
	question := fmt.Sprintf("Does the evidence %q support control %s %q?", ev.Title, ctl.Code, ctl.Title)
	res, err := a.p.Chat(ctx, provider.ChatRequest{Passages: g.Passages, Messages: []provider.Message{
		{Role: provider.RoleSystem, Content: analysisInstruction},
		{Role: provider.RoleUser, Content: question},
	}}, nil)
	if err != nil {
		return nil, err
	}
	out.Summary = res.Text
	out.Citations = g.Citations(res.Citations)
	out.Verdict = verdictOf(res.Text)
	if out.Verdict == "" {
		out.Verdict = model.AnalysisVerdictNotSupported
		switch best := hits[0].Score; {
		case best >= SupportedSimilarity:
			out.Verdict = model.AnalysisVerdictSupported
		case best >= PartialSimilarity:
			out.Verdict = model.AnalysisVerdictPartial
		}
	}
	if len(out.Citations) == 0 && out.Verdict != model.AnalysisVerdictNotSupported {
		out.Citations = g.Citations([]string{g.Passages[0].ID})
	}
	return out, nil
}

// verdictOf reads the verdict a model's answer opens with ("" when none).
func verdictOf(text string) model.AnalysisVerdict {
	first := strings.ToUpper(strings.Trim(strings.Join(strings.Fields(text), " "), "*_# "))
	for _, v := range []model.AnalysisVerdict{model.AnalysisVerdictNotSupported, model.AnalysisVerdictSupported, model.AnalysisVerdictPartial} {
		if strings.HasPrefix(first, string(v)) || strings.HasPrefix(first, strings.ReplaceAll(string(v), "_", " ")) {
			return v
		}
	}
	return ""
}
