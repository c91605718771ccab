// Package loaders holds the documents subgraph's per-request dataloaders, so
// resolving a field for a list of N parents costs one query, not N. The
// subgraph kit installs them per request (kit.Loaders) and scopes each set
// by the caller's organization.
package loaders

import (
	"github.com/graph-gophers/dataloader/v7"

	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Loaders are the dataloaders of one request, all scoped to one organization.
type Loaders struct {
	// DocumentsByProjectID loads pages of Project.documents.
	DocumentsByProjectID *dataloader.Loader[kit.PageKey, *model.DocumentConnection]
	// DocumentsByEvidenceID loads pages of Evidence.documents.
	DocumentsByEvidenceID *dataloader.Loader[kit.PageKey, *model.DocumentConnection]
	// JobsByDocumentID loads pages of Document.jobs.
	JobsByDocumentID *dataloader.Loader[kit.PageKey, *model.ProcessingJobConnection]
	// DocumentByID loads ProcessingJob.document.
	DocumentByID *dataloader.Loader[string, *model.Document]
}

// New returns the per-request loaders reading from st.
func New(st *store.Store) *kit.Loaders[Loaders] {
	return kit.NewLoaders(func(s kit.Scope) *Loaders {
		return &Loaders{
			DocumentsByProjectID:  kit.NewLoader(s, st.DocumentsByProjectIDs),
			DocumentsByEvidenceID: kit.NewLoader(s, st.DocumentsByEvidenceIDs),
			JobsByDocumentID:      kit.NewLoader(s, st.JobsByDocumentIDs),
			DocumentByID:          kit.NewLoader(s, st.DocumentsByIDs),
		}
	})
}
