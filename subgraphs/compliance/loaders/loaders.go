// Package loaders holds compliance's per-request dataloaders, so resolving a
// field for a list of N parents costs one query, not N. The subgraph kit
// installs them per request (kit.Loaders) and scopes each set by the caller's
// organization.
package loaders

import (
	"github.com/graph-gophers/dataloader/v7"

	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Loaders are the dataloaders of one request, all scoped to one organization.
type Loaders struct {
	// ControlsByProjectID loads pages of Project.controls.
	ControlsByProjectID *dataloader.Loader[kit.PageKey, *model.ControlConnection]
	// EvidenceByControlID loads pages of Control.evidence.
	EvidenceByControlID *dataloader.Loader[kit.PageKey, *model.EvidenceConnection]
	// ControlByID loads Evidence.control.
	ControlByID *dataloader.Loader[string, *model.Control]
	// ProjectsByOwnerID loads pages of User.projects.
	ProjectsByOwnerID *dataloader.Loader[kit.PageKey, *model.ProjectConnection]
	// FrameworksByProjectID loads pages of Project.frameworks.
	FrameworksByProjectID *dataloader.Loader[kit.PageKey, *model.FrameworkConnection]
	// ScoresByProjectID loads Project.scores.
	ScoresByProjectID *dataloader.Loader[string, []*model.ComplianceScore]
	// RequirementsByControlID loads pages of Control.requirements.
	RequirementsByControlID *dataloader.Loader[kit.PageKey, *model.RequirementConnection]
	// RequirementsByFrameworkID loads pages of Framework.requirements (catalog).
	RequirementsByFrameworkID *dataloader.Loader[kit.PageKey, *model.RequirementConnection]
	// RequirementByID loads requirements named by the graph (catalog).
	RequirementByID *dataloader.Loader[string, *model.Requirement]
	// FrameworkByID loads Requirement.framework (catalog).
	FrameworkByID *dataloader.Loader[string, *model.Framework]
}

// New returns compliance's per-request loaders reading from st.
func New(st *store.Store) *kit.Loaders[Loaders] {
	return kit.NewLoaders(func(s kit.Scope) *Loaders {
		return &Loaders{
			ControlsByProjectID: kit.NewLoader(s, st.ControlsByProjectIDs),
			EvidenceByControlID: kit.NewLoader(s, st.EvidenceByControlIDs),
			ControlByID:         kit.NewLoader(s, st.ControlsByIDs),
			ProjectsByOwnerID:   kit.NewLoader(s, st.ProjectsByOwnerIDs),

			FrameworksByProjectID:     kit.NewLoader(s, st.FrameworksByProjectIDs),
			ScoresByProjectID:         kit.NewLoader(s, st.ScoresByProjectIDs),
			RequirementsByControlID:   kit.NewLoader(s, st.RequirementsByControlIDs),
			RequirementsByFrameworkID: kit.NewLoader(s, st.RequirementsByFrameworkIDs),
			FrameworkByID:             kit.NewLoader(s, st.FrameworksByIDs),
			RequirementByID:           kit.NewLoader(s, st.RequirementsByIDs),
		}
	})
}
