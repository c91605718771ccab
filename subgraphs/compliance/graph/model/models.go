// Package model holds compliance's GraphQL models: the hand-written entity
// structs and enums here (bound by autobind, so relation fields become
// resolvers) and gqlgen's generated inputs in models_gen.go.
package model

import (
	"fmt"
	"io"
	"math"
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
	Version     int64     `json:"-"`
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
	Version     int64         `json:"-"`
}

// IsEntity marks Control as a federation entity.
func (Control) IsEntity() {}

// Evidence is proof that a control operates.
type Evidence struct {
	ID            string         `json:"id"`
	OrgID         string         `json:"-"`
	ControlID     string         `json:"-"`
	Title         string         `json:"title"`
	Description   string         `json:"description"`
	URL           *string        `json:"url"`
	SubmittedByID *string        `json:"-"`
	OwnerID       *string        `json:"-"`
	Status        EvidenceStatus `json:"status"`
	ReviewedByID  *string        `json:"-"`
	ReviewedAt    *time.Time     `json:"reviewedAt"`
	ExpiresAt     *time.Time     `json:"expiresAt"`
	CreatedAt     time.Time      `json:"createdAt"`
	Version       int64          `json:"-"`
}

// IsEntity marks Evidence as a federation entity.
func (Evidence) IsEntity() {}

// CurrentAt reports whether the evidence counts as current at now: ACCEPTED
// and not expired (no expiry, or an expiry after now).
func (e *Evidence) CurrentAt(now time.Time) bool {
	return e.Status == EvidenceStatusAccepted && (e.ExpiresAt == nil || e.ExpiresAt.After(now))
}

// Framework is a framework of the shared catalog (e.g. SOC 2 2017).
type Framework struct {
	ID          string `json:"id"`
	Key         string `json:"key"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description"`
}

// IsEntity marks Framework as a federation entity.
func (Framework) IsEntity() {}

// Requirement is one requirement of a framework (e.g. CC6.1, A.5.15).
type Requirement struct {
	ID          string `json:"id"`
	FrameworkID string `json:"-"`
	Code        string `json:"code"`
	Title       string `json:"title"`
}

// IsEntity marks Requirement as a federation entity.
func (Requirement) IsEntity() {}

// ComplianceScore is a project's score for one framework in its scope.
type ComplianceScore struct {
	ProjectID    string     `json:"-"`
	Framework    *Framework `json:"framework"`
	Requirements int        `json:"requirements"`
	Covered      int        `json:"covered"`
}

// Percent is 100 × Covered / Requirements rounded to one decimal (0 without requirements).
func (s *ComplianceScore) Percent() float64 {
	if s.Requirements == 0 {
		return 0
	}
	return math.Round(1000*float64(s.Covered)/float64(s.Requirements)) / 10
}

// Connections (Relay) of compliance's lists.
type (
	ProjectConnection     = kit.Connection[Project]
	ProjectEdge           = kit.Edge[Project]
	ControlConnection     = kit.Connection[Control]
	ControlEdge           = kit.Edge[Control]
	EvidenceConnection    = kit.Connection[Evidence]
	EvidenceEdge          = kit.Edge[Evidence]
	FrameworkConnection   = kit.Connection[Framework]
	FrameworkEdge         = kit.Edge[Framework]
	RequirementConnection = kit.Connection[Requirement]
	RequirementEdge       = kit.Edge[Requirement]
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

// EvidenceStatus is where evidence stands in review.
type EvidenceStatus string

// Evidence statuses.
const (
	EvidenceStatusPending  EvidenceStatus = "PENDING"
	EvidenceStatusAccepted EvidenceStatus = "ACCEPTED"
	EvidenceStatusRejected EvidenceStatus = "REJECTED"
)

// IsValid reports whether s is a known status.
func (s EvidenceStatus) IsValid() bool {
	switch s {
	case EvidenceStatusPending, EvidenceStatusAccepted, EvidenceStatusRejected:
		return true
	}
	return false
}

func (s EvidenceStatus) String() string { return string(s) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *EvidenceStatus) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*s = EvidenceStatus(str)
	if !s.IsValid() {
		return fmt.Errorf("%s is not a valid EvidenceStatus", str)
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (s EvidenceStatus) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(s)))
}

// ControlGap is a control without current evidence (Neo4j).
type ControlGap struct {
	ControlID string    `json:"-"`
	Reason    GapReason `json:"reason"`
	Evidence  int       `json:"evidence"`
	Expired   int       `json:"expired"`
}

// ControlGapConnection is a page of ControlGap.
type ControlGapConnection struct {
	Nodes    []*ControlGap `json:"nodes"`
	PageInfo *kit.PageInfo `json:"pageInfo"`
}

// FrameworkCoverage is a framework's coverage in a project (Neo4j).
type FrameworkCoverage struct {
	FrameworkID  string `json:"-"`
	Requirements int    `json:"requirements"`
	Covered      int    `json:"covered"`
}

// Percent is 100 × Covered / Requirements rounded to one decimal (0 without requirements).
func (c *FrameworkCoverage) Percent() float64 {
	return (&ComplianceScore{Requirements: c.Requirements, Covered: c.Covered}).Percent()
}

// SpanningControl is a control mapped to requirements of two frameworks (Neo4j).
type SpanningControl struct {
	ControlID string   `json:"-"`
	CodesA    []string `json:"codesA"`
	CodesB    []string `json:"codesB"`
}

// SpanningControlConnection is a page of SpanningControl.
type SpanningControlConnection struct {
	Nodes    []*SpanningControl `json:"nodes"`
	PageInfo *kit.PageInfo      `json:"pageInfo"`
}

// FrameworkImpact is an evidence's reach into one framework (Neo4j).
type FrameworkImpact struct {
	FrameworkID  string `json:"-"`
	Requirements int    `json:"requirements"`
	LoseCoverage int    `json:"loseCoverage"`
}

// AffectedRequirement is a requirement an evidence reaches (Neo4j).
type AffectedRequirement struct {
	RequirementID string   `json:"-"`
	ControlIDs    []string `json:"-"`
	LosesCoverage bool     `json:"losesCoverage"`
}

// ExpiryImpact is what an evidence's expiry would affect (Neo4j).
type ExpiryImpact struct {
	Frameworks   []*FrameworkImpact     `json:"frameworks"`
	Requirements []*AffectedRequirement `json:"requirements"`
}

// GapReason says why a control lacks current evidence.
type GapReason string

// Gap reasons.
const (
	GapReasonNoEvidence  GapReason = "NO_EVIDENCE"
	GapReasonExpired     GapReason = "EXPIRED"
	GapReasonNotAccepted GapReason = "NOT_ACCEPTED"
)

// UnmarshalGQL implements graphql.Unmarshaler.
func (r *GapReason) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*r = GapReason(str)
	switch *r {
	case GapReasonNoEvidence, GapReasonExpired, GapReasonNotAccepted:
		return nil
	}
	return fmt.Errorf("%s is not a valid GapReason", str)
}

// MarshalGQL implements graphql.Marshaler.
func (r GapReason) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(r)))
}
