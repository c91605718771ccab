package work

import (
	"context"
	"fmt"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
)

// analyze decides whether analysis id's evidence supports its control.
func (w *Worker) analyze(ctx context.Context, org, id string) error {
	rows, err := w.st.AnalysesByIDs(ctx, org, []string{id})
	if err != nil {
		return err
	}
	a := rows[0]
	if a == nil {
		return nil
	}
	ctl, err := w.a.Graph().Control(ctx, projection.Scope{OrgID: org}, a.ControlID)
	if err != nil {
		return err
	}
	ev, err := w.a.Graph().Evidence(ctx, projection.Scope{OrgID: org}, a.EvidenceID)
	if err != nil {
		return err
	}
	if ctl == nil || ev == nil {
		return fmt.Errorf("the control or the evidence is not in the compliance graph yet")
	}
	res, err := w.a.Analyze(ctx, org, *ctl, *ev)
	if err != nil {
		return err
	}
	a.Verdict, a.Summary, a.Citations, a.Model = &res.Verdict, &res.Summary, res.Citations, &res.Model
	return w.st.FinishAnalysis(ctx, a)
}
