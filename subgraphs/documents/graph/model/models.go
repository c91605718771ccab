// Package model holds the documents subgraph's GraphQL models: the
// hand-written entity structs and enums here (bound by autobind, so relation
// fields become resolvers) and gqlgen's generated inputs in models_gen.go.
package model

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/studio-platform/studio/subgraphs/kit"
)

// Document is a stored file of a project.
type Document struct {
	ID           string         `json:"id"`
	OrgID        string         `json:"-"`
	ProjectID    string         `json:"-"`
	EvidenceID   *string        `json:"-"`
	UploadedByID string         `json:"-"`
	Filename     string         `json:"filename"`
	ContentType  string         `json:"contentType"`
	Size         int64          `json:"size"`
	Sha256       string         `json:"sha256"`
	ObjectKey    string         `json:"-"`
	Status       DocumentStatus `json:"status"`
	CreatedAt    time.Time      `json:"createdAt"`
}

// IsEntity marks Document as a federation entity.
func (Document) IsEntity() {}

// ProcessingJob is one run of extraction and chunking over a document.
type ProcessingJob struct {
	ID         string    `json:"id"`
	OrgID      string    `json:"-"`
	DocumentID string    `json:"-"`
	State      JobState  `json:"state"`
	Progress   int       `json:"progress"`
	Attempts   int       `json:"attempts"`
	Error      *string   `json:"error"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// IsEntity marks ProcessingJob as a federation entity.
func (ProcessingJob) IsEntity() {}

// DocumentProcessingEvent is one progress message of a document's job; its
// document and job are resolvers, read when the event is sent.
type DocumentProcessingEvent struct {
	ID         string   `json:"id"`
	OrgID      string   `json:"-"`
	DocumentID string   `json:"-"`
	JobID      string   `json:"-"`
	State      JobState `json:"state"`
	Progress   int      `json:"progress"`
	Attempt    int      `json:"attempt"`
	Error      *string  `json:"error"`
	Final      bool     `json:"final"`
}

// Project is compliance's entity, known here by id; documents adds documents.
type Project struct {
	ID string `json:"id"`
}

// IsEntity marks Project as a federation entity.
func (Project) IsEntity() {}

// Evidence is compliance's entity, known here by id; documents adds documents.
type Evidence struct {
	ID string `json:"id"`
}

// IsEntity marks Evidence as a federation entity.
func (Evidence) IsEntity() {}

// User is identity's entity, known here by id only.
type User struct {
	ID string `json:"id"`
}

// IsEntity marks User as a federation entity.
func (User) IsEntity() {}

// Connections (Relay) of the subgraph's lists.
type (
	DocumentConnection      = kit.Connection[Document]
	DocumentEdge            = kit.Edge[Document]
	ProcessingJobConnection = kit.Connection[ProcessingJob]
	ProcessingJobEdge       = kit.Edge[ProcessingJob]
)

// DocumentStatus is where a document stands.
type DocumentStatus string

// DocumentStatus values.
const (
	DocumentStatusUploaded   DocumentStatus = "UPLOADED"
	DocumentStatusProcessing DocumentStatus = "PROCESSING"
	DocumentStatusProcessed  DocumentStatus = "PROCESSED"
	DocumentStatusFailed     DocumentStatus = "FAILED"
)

// IsValid reports whether s is a known value.
func (s DocumentStatus) IsValid() bool {
	switch s {
	case DocumentStatusUploaded, DocumentStatusProcessing, DocumentStatusProcessed, DocumentStatusFailed:
		return true
	}
	return false
}

func (s DocumentStatus) String() string { return string(s) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *DocumentStatus) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*s = DocumentStatus(str)
	if !s.IsValid() {
		return fmt.Errorf("%s is not a valid DocumentStatus", str)
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (s DocumentStatus) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(s)))
}

// JobState is where a processing job stands.
type JobState string

// JobState values.
const (
	JobStateQueued    JobState = "QUEUED"
	JobStateRunning   JobState = "RUNNING"
	JobStateSucceeded JobState = "SUCCEEDED"
	JobStateFailed    JobState = "FAILED"
)

// IsValid reports whether s is a known value.
func (s JobState) IsValid() bool {
	switch s {
	case JobStateQueued, JobStateRunning, JobStateSucceeded, JobStateFailed:
		return true
	}
	return false
}

func (s JobState) String() string { return string(s) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *JobState) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*s = JobState(str)
	if !s.IsValid() {
		return fmt.Errorf("%s is not a valid JobState", str)
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (s JobState) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(s)))
}
