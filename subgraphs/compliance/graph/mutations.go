package graph

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/internal/gqlserver"
	"github.com/studio-platform/studio/subgraphs/internal/keyed"
)

func badInput(problems []string) error {
	return &gqlserver.Error{Code: gqlserver.CodeBadUserInput, Message: strings.Join(problems, "; ")}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

func (r *Resolver) createProject(ctx context.Context, in model.CreateProjectInput) (*model.Project, error) {
	c, err := claims(ctx)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, badInput([]string{"name is required"})
	}
	p := &model.Project{ID: uuid.NewString(), OrgID: c.OrgID, Name: name, Description: deref(in.Description), OwnerID: c.Subject}
	if err := r.Store.CreateProject(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

func (r *Resolver) addControl(ctx context.Context, in model.AddControlInput) (*model.Control, error) {
	c, err := claims(ctx)
	if err != nil {
		return nil, err
	}
	ctl := &model.Control{
		ID: uuid.NewString(), OrgID: c.OrgID, ProjectID: in.ProjectID,
		Code: strings.TrimSpace(in.Code), Title: strings.TrimSpace(in.Title), Description: deref(in.Description),
		Framework: strings.TrimSpace(in.Framework), Status: in.Status,
	}
	var problems []string
	if ctl.Code == "" {
		problems = append(problems, "code is required")
	}
	if ctl.Title == "" {
		problems = append(problems, "title is required")
	}
	if ctl.Framework == "" {
		problems = append(problems, "framework is required")
	}
	if len(problems) > 0 {
		return nil, badInput(problems)
	}
	if !keyed.IsUUID(in.ProjectID) {
		return nil, gqlserver.Errorf(gqlserver.CodeNotFound, "project %s not found", in.ProjectID)
	}
	switch err := r.Store.AddControl(ctx, ctl); {
	case errors.Is(err, store.ErrNotFound):
		return nil, gqlserver.Errorf(gqlserver.CodeNotFound, "project %s not found", in.ProjectID)
	case errors.Is(err, store.ErrDuplicate):
		return nil, gqlserver.Errorf(gqlserver.CodeBadUserInput, "the project already has control %s %s", ctl.Framework, ctl.Code)
	case err != nil:
		return nil, err
	}
	return ctl, nil
}

func (r *Resolver) addEvidence(ctx context.Context, in model.AddEvidenceInput) (*model.Evidence, error) {
	c, err := claims(ctx)
	if err != nil {
		return nil, err
	}
	submitter := c.Subject
	ev := &model.Evidence{
		ID: uuid.NewString(), OrgID: c.OrgID, ControlID: in.ControlID,
		Title: strings.TrimSpace(in.Title), Description: deref(in.Description), SubmittedByID: &submitter,
	}
	var problems []string
	if ev.Title == "" {
		problems = append(problems, "title is required")
	}
	if raw := deref(in.URL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, "url must be an absolute http(s) URL")
		}
		ev.URL = &raw
	}
	if len(problems) > 0 {
		return nil, badInput(problems)
	}
	if !keyed.IsUUID(in.ControlID) {
		return nil, gqlserver.Errorf(gqlserver.CodeNotFound, "control %s not found", in.ControlID)
	}
	switch err := r.Store.AddEvidence(ctx, ev); {
	case errors.Is(err, store.ErrNotFound):
		return nil, gqlserver.Errorf(gqlserver.CodeNotFound, "control %s not found", in.ControlID)
	case err != nil:
		return nil, err
	}
	return ev, nil
}
