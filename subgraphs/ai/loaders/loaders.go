// Package loaders holds the ai subgraph's per-request dataloaders, so
// resolving a field for a list of N parents costs one query, not N. The
// subgraph kit installs them per request (kit.Loaders) and scopes each set
// by the caller's organization.
package loaders

import (
	"github.com/graph-gophers/dataloader/v7"

	"github.com/studio-platform/studio/subgraphs/ai/graph/model"
	"github.com/studio-platform/studio/subgraphs/ai/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Loaders are the dataloaders of one request, all scoped to one organization.
type Loaders struct {
	// SessionsByProjectID loads pages of Project.chatSessions.
	SessionsByProjectID *dataloader.Loader[kit.PageKey, *model.ChatSessionConnection]
	// MessagesBySessionID loads pages of ChatSession.messages.
	MessagesBySessionID *dataloader.Loader[kit.PageKey, *model.ChatMessageConnection]
	// SessionByID loads ChatMessage.session.
	SessionByID *dataloader.Loader[string, *model.ChatSession]
	// AnalysesByEvidenceID loads pages of Evidence.analyses.
	AnalysesByEvidenceID *dataloader.Loader[kit.PageKey, *model.AnalysisConnection]
	// DraftsByProjectID loads pages of Project.policyDrafts.
	DraftsByProjectID *dataloader.Loader[kit.PageKey, *model.PolicyDraftConnection]
}

// New returns the per-request loaders reading from st.
func New(st *store.Store) *kit.Loaders[Loaders] {
	return kit.NewLoaders(func(s kit.Scope) *Loaders {
		return &Loaders{
			SessionsByProjectID:  kit.NewLoader(s, st.SessionsByProjectIDs),
			MessagesBySessionID:  kit.NewLoader(s, st.MessagesBySessionIDs),
			SessionByID:          kit.NewLoader(s, st.SessionsByIDs),
			AnalysesByEvidenceID: kit.NewLoader(s, st.AnalysesByEvidenceIDs),
			DraftsByProjectID:    kit.NewLoader(s, st.DraftsByProjectIDs),
		}
	})
}
