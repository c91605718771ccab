// Package model holds compliance's GraphQL models: the hand-written entity
// structs and enums here (bound by autobind, so relation fields become
// resolvers) and gqlgen's generated inputs in models_gen.go.
package model

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/studio-platform/studio/subgraphs/kit"
)

// Project is a compliance effort of one organization.
type Project struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"-"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	OwnerID     string    `json:"-"`
	CreatedAt   time.Time `json:"createdAt"`
}

// IsEntity marks Project as a federation entity.
func (Project) IsEntity() {}

// Control is a framework control tracked in a project.
type Control struct {
	ID          string        `json:"id"`
	OrgID       string        `json:"-"`
	ProjectID   string        `json:"-"`
	Code        string        `json:"code"`
	Title       string        `json:"title"`
	Description string        `json:"description"`
	Framework   string        `json:"framework"`
	Status      ControlStatus `json:"status"`
}

// IsEntity marks Control as a federation entity.
func (Control) IsEntity() {}

// Evidence is proof that a control operates.
type Evidence struct {
	ID            string    `json:"id"`
	OrgID         string    `json:"-"`
	ControlID     string    `json:"-"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	URL           *string   `json:"url"`
	SubmittedByID *string   `json:"-"`
	CreatedAt     time.Time `json:"createdAt"`
}

// IsEntity marks Evidence as a federation entity.
func (Evidence) IsEntity() {}

// Connections (Relay) of compliance's lists.
type (
	ProjectConnection  = kit.Connection[Project]
	ProjectEdge        = kit.Edge[Project]
	ControlConnection  = kit.Connection[Control]
	ControlEdge        = kit.Edge[Control]
	EvidenceConnection = kit.Connection[Evidence]
	EvidenceEdge       = kit.Edge[Evidence]
)

// User is identity's entity, known here by id only; compliance adds projects.
type User struct {
	ID string `json:"id"`
}

// IsEntity marks User as a federation entity.
func (User) IsEntity() {}

// ControlStatus is where a control stands.
type ControlStatus string

// Control statuses.
const (
	ControlStatusNotStarted    ControlStatus = "NOT_STARTED"
	ControlStatusInProgress    ControlStatus = "IN_PROGRESS"
	ControlStatusImplemented   ControlStatus = "IMPLEMENTED"
	ControlStatusNotApplicable ControlStatus = "NOT_APPLICABLE"
)

// IsValid reports whether s is a known status.
func (s ControlStatus) IsValid() bool {
	switch s {
	case ControlStatusNotStarted, ControlStatusInProgress, ControlStatusImplemented, ControlStatusNotApplicable:
		return true
	}
	return false
}

func (s ControlStatus) String() string { return string(s) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *ControlStatus) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*s = ControlStatus(str)
	if !s.IsValid() {
		return fmt.Errorf("%s is not a valid ControlStatus", str)
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (s ControlStatus) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(s)))
}
