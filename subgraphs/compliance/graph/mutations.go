package graph

import (
	"context"
	"errors"
	"net/url"

	"github.com/google/uuid"

	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

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
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := r.Store.CreateProject(ctx, p); err != nil {
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
		Framework:   v.Text("framework", in.Framework, kit.MaxName),
		Status:      in.Status,
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !kit.IsUUID(in.ProjectID) {
		return nil, kit.NotFound("project", in.ProjectID)
	}
	switch err := r.Store.AddControl(ctx, ctl); {
	case errors.Is(err, store.ErrNotFound):
		return nil, kit.NotFound("project", in.ProjectID)
	case errors.Is(err, store.ErrDuplicate):
		return nil, kit.Errorf(kit.CodeBadUserInput, "the project already has control %s %s", ctl.Framework, ctl.Code)
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
		ID: uuid.NewString(), OrgID: c.OrgID, ControlID: in.ControlID, SubmittedByID: &submitter,
		Title:       v.Text("title", in.Title, kit.MaxName),
		Description: v.Optional("description", in.Description, kit.MaxDescription),
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
