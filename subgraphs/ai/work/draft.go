package work

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/studio-platform/studio/subgraphs/ai/store"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
)

// draft writes policy draft id and hands it to the documents subgraph
// (policy_draft.generated, with the document id it is to have).
func (w *Worker) draft(ctx context.Context, org, id string) error {
	rows, err := w.st.DraftsByIDs(ctx, org, []string{id})
	if err != nil {
		return err
	}
	d := rows[0]
	if d == nil {
		return nil
	}
	f, err := w.a.Graph().Framework(ctx, projection.Scope{OrgID: org, ProjectID: d.ProjectID}, d.FrameworkID)
	if err != nil {
		return err
	}
	if f == nil {
		return fmt.Errorf("framework %s is not in the compliance graph", d.FrameworkID)
	}
	content, err := w.a.Draft(ctx, d.Title, f, time.Now())
	if err != nil {
		return err
	}
	model, doc := w.a.ModelName(), store.NewID()
	d.Content, d.Model, d.DocumentID = &content, &model, &doc
	return w.st.FinishDraft(ctx, d, filename(d.Title))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// filename is the draft document's name: its title as a file name, .md.
func filename(title string) string {
	name := strings.Trim(unsafeName.ReplaceAllString(title, "-"), "-.")
	if name == "" {
		name = "policy-draft"
	}
	if len(name) > 120 {
		name = name[:120]
	}
	return name + ".md"
}
