package graph

import (
	"context"

	"github.com/studio-platform/studio/subgraphs/ai/graph/model"
	"github.com/studio-platform/studio/subgraphs/ai/store"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// analyzeEvidence queues an analysis (the job runs in package jobs).
func (r *Resolver) analyzeEvidence(ctx context.Context, input model.AnalyzeEvidenceInput) (*model.Analysis, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var in kit.Input
	evidence := uuidArg(&in, "evidenceId", input.EvidenceID)
	control := uuidArg(&in, "controlId", input.ControlID)
	if err := in.Err(); err != nil {
		return nil, err
	}
	scope := projection.Scope{OrgID: c.OrgID}
	ctl, err := r.Assistant.Graph().Control(ctx, scope, control)
	if err != nil {
		return nil, err
	}
	if ctl == nil {
		return nil, kit.NotFound("control", control)
	}
	ev, err := r.Assistant.Graph().Evidence(ctx, scope, evidence)
	if err != nil {
		return nil, err
	}
	if ev == nil {
		return nil, kit.NotFound("evidence", evidence)
	}
	a := &model.Analysis{ID: store.NewID(), OrgID: c.OrgID, EvidenceID: evidence, ControlID: control, RequestedByID: c.Subject}
	if err := r.Store.CreateAnalysis(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// generatePolicyDraft queues a policy draft (the job runs in package jobs).
func (r *Resolver) generatePolicyDraft(ctx context.Context, input model.GeneratePolicyDraftInput) (*model.PolicyDraft, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var in kit.Input
	project := uuidArg(&in, "projectId", input.ProjectID)
	framework := uuidArg(&in, "frameworkId", input.FrameworkID)
	title := in.Optional("title", input.Title, kit.MaxName)
	if err := in.Err(); err != nil {
		return nil, err
	}
	if err := r.project(ctx, c.OrgID, project); err != nil {
		return nil, err
	}
	f, err := r.Assistant.Graph().Framework(ctx, projection.Scope{OrgID: c.OrgID, ProjectID: project}, framework)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, kit.NotFound("framework", framework)
	}
	if title == "" {
		title = f.Name + " policy"
	}
	d := &model.PolicyDraft{ID: store.NewID(), OrgID: c.OrgID, ProjectID: project, FrameworkID: framework, Title: title, RequestedByID: c.Subject}
	if err := r.Store.CreateDraft(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}
