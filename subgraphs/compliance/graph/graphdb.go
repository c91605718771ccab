package graph

import (
	"context"
	"errors"

	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// The graph fields read the compliance graph in Neo4j (package projection),
// scoped by the caller's organization; the entities they name (controls,
// frameworks, requirements) are then loaded from PostgreSQL through the
// request's loaders (one statement per level), and a node the graph has but
// PostgreSQL has not (the graph lags or leads by an event) is left out.

var errNoGraph = kit.Errorf(kit.CodeInternal, "the compliance graph is not configured")

// graphPage validates first and after (an id cursor of the graph's pages).
func graphPage(first *int, after *string) (projection.Page, error) {
	p := projection.Page{First: kit.DefaultFirst}
	var v kit.Input
	if first != nil {
		if *first < 1 || *first > kit.MaxFirst {
			v.Problemf("first must be between 1 and %d", kit.MaxFirst)
		}
		p.First = *first
	}
	if after != nil && v.MaxLen("after", *after, kit.MaxID) {
		p.After = *after
	}
	return p, v.Err()
}

func pageInfo(next string) *kit.PageInfo {
	if next == "" {
		return &kit.PageInfo{}
	}
	return &kit.PageInfo{HasNextPage: true, EndCursor: &next}
}

// knownControls loads ids' controls (one statement, cached for the fields
// below) and reports which exist in PostgreSQL.
func (r *Resolver) knownControls(ctx context.Context, ids []string) (map[string]bool, error) {
	l, err := r.Loaders.Get(ctx)
	if err != nil {
		return nil, err
	}
	ctls, errs := l.ControlByID.LoadMany(ctx, ids)()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(ctls))
	for _, c := range ctls {
		if c != nil {
			known[c.ID] = true
		}
	}
	return known, nil
}

func (r *Resolver) control(ctx context.Context, id string) (*model.Control, error) {
	l, err := r.Loaders.Get(ctx)
	if err != nil {
		return nil, err
	}
	c, err := l.ControlByID.Load(ctx, id)()
	if err == nil && c == nil {
		err = kit.NotFound("control", id)
	}
	return c, err
}

func (r *Resolver) framework(ctx context.Context, id string) (*model.Framework, error) {
	l, err := r.Loaders.Get(ctx)
	if err != nil {
		return nil, err
	}
	f, err := l.FrameworkByID.Load(ctx, id)()
	if err == nil && f == nil {
		err = kit.NotFound("framework", id)
	}
	return f, err
}

func (r *Resolver) controlsLackingEvidence(ctx context.Context, p *model.Project, first *int, after *string) (*model.ControlGapConnection, error) {
	if r.Graph == nil {
		return nil, errNoGraph
	}
	pg, err := graphPage(first, after)
	if err != nil {
		return nil, err
	}
	gaps, next, err := r.Graph.ControlsWithoutCurrentEvidence(ctx, projection.Scope{OrgID: p.OrgID, ProjectID: p.ID}, pg)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(gaps))
	for i, g := range gaps {
		ids[i] = g.ControlID
	}
	known, err := r.knownControls(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := &model.ControlGapConnection{Nodes: []*model.ControlGap{}, PageInfo: pageInfo(next)}
	for _, g := range gaps {
		if known[g.ControlID] {
			out.Nodes = append(out.Nodes, &model.ControlGap{ControlID: g.ControlID, Reason: model.GapReason(g.Reason), Evidence: g.Evidence, Expired: g.Expired})
		}
	}
	return out, nil
}

func (r *Resolver) coverage(ctx context.Context, p *model.Project) ([]*model.FrameworkCoverage, error) {
	if r.Graph == nil {
		return nil, errNoGraph
	}
	cov, _, err := r.Graph.Coverage(ctx, projection.Scope{OrgID: p.OrgID, ProjectID: p.ID}, projection.Page{First: kit.MaxFirst})
	if err != nil {
		return nil, err
	}
	out := make([]*model.FrameworkCoverage, len(cov))
	for i, c := range cov {
		out[i] = &model.FrameworkCoverage{FrameworkID: c.FrameworkID, Requirements: c.Requirements, Covered: c.Covered}
	}
	return out, nil
}

func (r *Resolver) controlsSpanning(ctx context.Context, a, b string, first *int, after *string) (*model.SpanningControlConnection, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	v.MaxLen("a", a, kit.MaxID)
	v.MaxLen("b", b, kit.MaxID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	pg, err := graphPage(first, after)
	if err != nil {
		return nil, err
	}
	if r.Graph == nil {
		return nil, errNoGraph
	}
	shared, next, err := r.Graph.ControlsSatisfyingBoth(ctx, projection.Scope{OrgID: c.OrgID}, a, b, pg)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(shared))
	for i, s := range shared {
		ids[i] = s.ControlID
	}
	known, err := r.knownControls(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := &model.SpanningControlConnection{Nodes: []*model.SpanningControl{}, PageInfo: pageInfo(next)}
	for _, s := range shared {
		if known[s.ControlID] {
			out.Nodes = append(out.Nodes, &model.SpanningControl{ControlID: s.ControlID, CodesA: s.CodesA, CodesB: s.CodesB})
		}
	}
	return out, nil
}

func (r *Resolver) evidenceExpiryImpact(ctx context.Context, evidenceID string) (*model.ExpiryImpact, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	v.MaxLen("evidenceId", evidenceID, kit.MaxID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if r.Graph == nil {
		return nil, errNoGraph
	}
	if !kit.IsUUID(evidenceID) {
		return nil, nil
	}
	evs, err := r.Store.EvidenceByIDs(ctx, c.OrgID, []string{evidenceID})
	if err != nil || evs[0] == nil {
		return nil, err // another organization's evidence is unknown here
	}
	imp, err := r.Graph.ExpiryImpact(ctx, projection.Scope{OrgID: c.OrgID}, evidenceID, projection.Page{First: kit.MaxFirst})
	if err != nil {
		return nil, err
	}
	out := &model.ExpiryImpact{Frameworks: []*model.FrameworkImpact{}, Requirements: []*model.AffectedRequirement{}}
	var ctlIDs []string
	for _, f := range imp.Frameworks {
		out.Frameworks = append(out.Frameworks, &model.FrameworkImpact{FrameworkID: f.FrameworkID, Requirements: f.Requirements, LoseCoverage: f.LoseCoverage})
	}
	for _, q := range imp.Requirements {
		ctlIDs = append(ctlIDs, q.ControlIDs...)
	}
	known, err := r.knownControls(ctx, ctlIDs)
	if err != nil {
		return nil, err
	}
	for _, q := range imp.Requirements {
		var ids []string
		for _, id := range q.ControlIDs {
			if known[id] {
				ids = append(ids, id)
			}
		}
		out.Requirements = append(out.Requirements, &model.AffectedRequirement{RequirementID: q.RequirementID, ControlIDs: ids, LosesCoverage: q.LosesCoverage})
	}
	return out, nil
}

func (r *Resolver) requirement(ctx context.Context, id string) (*model.Requirement, error) {
	l, err := r.Loaders.Get(ctx)
	if err != nil {
		return nil, err
	}
	q, err := l.RequirementByID.Load(ctx, id)()
	if err == nil && q == nil {
		err = kit.NotFound("requirement", id)
	}
	return q, err
}

func (r *Resolver) controls(ctx context.Context, ids []string) ([]*model.Control, error) {
	out := make([]*model.Control, 0, len(ids))
	for _, id := range ids {
		c, err := r.control(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
