package graph

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Limits on the lists of one input.
const (
	// MaxProjectFrameworks bounds a project's scope (and so Project.scores).
	MaxProjectFrameworks = 20
	// MaxControlRequirements bounds the requirements one control maps to.
	MaxControlRequirements = 100
)

// userRef is a User reference for an optional user id.
func userRef(id *string) *model.User {
	if id == nil {
		return nil
	}
	return &model.User{ID: *id}
}

// ids checks a list of ids of one input: at most max, each at most kit.MaxID.
func ids(v *kit.Input, field string, list []string, max int) {
	if len(list) > max {
		v.Problemf("%s must have at most %d ids", field, max)
		return
	}
	for _, id := range list {
		if !v.MaxLen(field, id, kit.MaxID) {
			return
		}
	}
}

// usersByIDs answers User representations: compliance knows users by id only.
func usersByIDs(_ context.Context, _ string, ids []string) ([]*model.User, error) {
	users := make([]*model.User, len(ids))
	for i, id := range ids {
		users[i] = &model.User{ID: id}
	}
	return users, nil
}

func (r *Resolver) createProject(ctx context.Context, in model.CreateProjectInput) (*model.Project, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	p := &model.Project{
		ID: uuid.NewString(), OrgID: c.OrgID, OwnerID: c.Subject,
		Name:        v.Text("name", in.Name, kit.MaxName),
		Description: v.Optional("description", in.Description, kit.MaxDescription),
	}
	ids(&v, "frameworkIds", in.FrameworkIds, MaxProjectFrameworks)
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch err := r.Store.CreateProject(ctx, p, in.FrameworkIds); {
	case errors.Is(err, store.ErrUnknownReference):
		return nil, kit.BadInput("frameworkIds: unknown framework")
	case err != nil:
		return nil, err
	}
	return p, nil
}

func (r *Resolver) adoptFramework(ctx context.Context, in model.AdoptFrameworkInput) (*model.Project, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	v.MaxLen("projectId", in.ProjectID, kit.MaxID)
	v.MaxLen("frameworkId", in.FrameworkID, kit.MaxID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !kit.IsUUID(in.ProjectID) {
		return nil, kit.NotFound("project", in.ProjectID)
	}
	frameworks, err := r.Store.FrameworksByProjectIDs(ctx, c.OrgID, []kit.PageKey{{ID: in.ProjectID, Page: kit.Page{Limit: 1}}})
	if err != nil {
		return nil, err
	}
	if frameworks[0].TotalCount >= MaxProjectFrameworks {
		return nil, kit.BadInput(fmt.Sprintf("a project has at most %d frameworks", MaxProjectFrameworks))
	}
	p, err := r.Store.AdoptFramework(ctx, c.OrgID, in.ProjectID, in.FrameworkID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, kit.NotFound("project", in.ProjectID)
	case errors.Is(err, store.ErrUnknownReference):
		return nil, kit.NotFound("framework", in.FrameworkID)
	case err != nil:
		return nil, err
	}
	return p, nil
}

func (r *Resolver) addControl(ctx context.Context, in model.AddControlInput) (*model.Control, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	v.MaxLen("projectId", in.ProjectID, kit.MaxID)
	ctl := &model.Control{
		ID: uuid.NewString(), OrgID: c.OrgID, ProjectID: in.ProjectID,
		Code:        v.Text("code", in.Code, kit.MaxName),
		Title:       v.Text("title", in.Title, kit.MaxName),
		Description: v.Optional("description", in.Description, kit.MaxDescription),
		Framework:   v.Optional("framework", &in.Framework, kit.MaxName),
		Status:      in.Status,
	}
	ids(&v, "requirementIds", in.RequirementIds, MaxControlRequirements)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !kit.IsUUID(in.ProjectID) {
		return nil, kit.NotFound("project", in.ProjectID)
	}
	switch err := r.Store.AddControl(ctx, ctl, in.RequirementIds); {
	case errors.Is(err, store.ErrNotFound):
		return nil, kit.NotFound("project", in.ProjectID)
	case errors.Is(err, store.ErrDuplicate):
		return nil, kit.Errorf(kit.CodeBadUserInput, "the project already has control %s", strings.TrimSpace(ctl.Framework+" "+ctl.Code))
	case errors.Is(err, store.ErrUnknownReference):
		return nil, kit.BadInput("requirementIds: unknown requirement")
	case err != nil:
		return nil, err
	}
	return ctl, nil
}

func (r *Resolver) updateControl(ctx context.Context, in model.UpdateControlInput) (*model.Control, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	v.MaxLen("controlId", in.ControlID, kit.MaxID)
	ids(&v, "requirementIds", in.RequirementIds, MaxControlRequirements)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !kit.IsUUID(in.ControlID) {
		return nil, kit.NotFound("control", in.ControlID)
	}
	ctl, err := r.Store.UpdateControl(ctx, c.OrgID, in.ControlID, in.Status, in.RequirementIds)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, kit.NotFound("control", in.ControlID)
	case errors.Is(err, store.ErrUnknownReference):
		return nil, kit.BadInput("requirementIds: unknown requirement")
	case err != nil:
		return nil, err
	}
	return ctl, nil
}

func (r *Resolver) addEvidence(ctx context.Context, in model.AddEvidenceInput) (*model.Evidence, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	submitter := c.Subject
	var v kit.Input
	v.MaxLen("controlId", in.ControlID, kit.MaxID)
	ev := &model.Evidence{
		ID: uuid.NewString(), OrgID: c.OrgID, ControlID: in.ControlID, SubmittedByID: &submitter, OwnerID: &submitter,
		Title:       v.Text("title", in.Title, kit.MaxName),
		Description: v.Optional("description", in.Description, kit.MaxDescription),
		ExpiresAt:   in.ExpiresAt,
	}
	if in.OwnerID != nil {
		if v.MaxLen("ownerId", *in.OwnerID, kit.MaxID) && !kit.IsUUID(*in.OwnerID) {
			v.Problemf("ownerId must be a user id")
		}
		ev.OwnerID = in.OwnerID
	}
	if raw := v.Optional("url", in.URL, kit.MaxURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Problemf("url must be an absolute http(s) URL")
		}
		ev.URL = &raw
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !kit.IsUUID(in.ControlID) {
		return nil, kit.NotFound("control", in.ControlID)
	}
	switch err := r.Store.AddEvidence(ctx, ev); {
	case errors.Is(err, store.ErrNotFound):
		return nil, kit.NotFound("control", in.ControlID)
	case err != nil:
		return nil, err
	}
	return ev, nil
}

func (r *Resolver) reviewEvidence(ctx context.Context, in model.ReviewEvidenceInput) (*model.Evidence, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	v.MaxLen("evidenceId", in.EvidenceID, kit.MaxID)
	if in.Status == model.EvidenceStatusPending {
		v.Problemf("status must be ACCEPTED or REJECTED")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !kit.IsUUID(in.EvidenceID) {
		return nil, kit.NotFound("evidence", in.EvidenceID)
	}
	ev, err := r.Store.ReviewEvidence(ctx, c.OrgID, in.EvidenceID, in.Status, c.Subject, in.ExpiresAt)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, kit.NotFound("evidence", in.EvidenceID)
	case err != nil:
		return nil, err
	}
	return ev, nil
}
