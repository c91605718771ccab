// Package model holds policy's GraphQL models: the hand-written entity structs
// and enums here (bound by autobind) and gqlgen's generated inputs in
// models_gen.go.
package model

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/studio-platform/studio/subgraphs/kit"
)

// Permission is an entry of the fixed permission catalogue (package rbac).
type Permission struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// AccessRole is a built-in or custom role.
type AccessRole struct {
	ID          string     `json:"id"`
	OrgID       string     `json:"-"` // "" for built-in roles
	Name        string     `json:"name"`
	Description string     `json:"description"`
	BuiltIn     bool       `json:"builtIn"`
	PermNames   []string   `json:"-"`
	CreatedAt   *time.Time `json:"createdAt"`
}

// IsEntity marks AccessRole as a federation entity.
func (AccessRole) IsEntity() {}

// RoleBinding grants a role to a user in the organization or one project.
type RoleBinding struct {
	ID          string       `json:"id"`
	OrgID       string       `json:"-"`
	SubjectID   string       `json:"-"`
	RoleID      string       `json:"-"`
	Scope       BindingScope `json:"scope"`
	ProjectID   *string      `json:"projectId"`
	GrantedByID *string      `json:"-"`
	CreatedAt   time.Time    `json:"createdAt"`
	// Role is the bound role, read with the binding (one query).
	Role *AccessRole `json:"-"`
}

// IsEntity marks RoleBinding as a federation entity.
func (RoleBinding) IsEntity() {}

// Policy is a named CEL condition.
type Policy struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"-"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Permission  *string   `json:"permission"`
	Condition   string    `json:"condition"`
	Enabled     bool      `json:"enabled"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// IsEntity marks Policy as a federation entity.
func (Policy) IsEntity() {}

// PolicyEvaluation is one policy's result in a decision.
type PolicyEvaluation struct {
	Policy  *Policy `json:"policy"`
	Allowed bool    `json:"allowed"`
	Error   *string `json:"error"`
}

// Decision answers one authorize input.
type Decision struct {
	Allowed           bool                `json:"allowed"`
	Permission        string              `json:"permission"`
	Reasons           []string            `json:"reasons"`
	GrantingBindings  []*RoleBinding      `json:"grantingBindings"`
	EvaluatedPolicies []*PolicyEvaluation `json:"evaluatedPolicies"`
	Cached            bool                `json:"cached"`
}

// PolicyDecision is a named policy evaluated for the caller (the router's contract).
type PolicyDecision struct {
	Policy  string `json:"policy"`
	Allowed bool   `json:"allowed"`
}

// PolicyAuditEntry is one row of the append-only audit log.
type PolicyAuditEntry struct {
	ID         string    `json:"id"`
	OrgID      string    `json:"-"`
	ActorID    *string   `json:"-"`
	Action     string    `json:"action"`
	TargetType string    `json:"targetType"`
	TargetID   string    `json:"targetId"`
	Before     *string   `json:"before"`
	After      *string   `json:"after"`
	OccurredAt time.Time `json:"occurredAt"`
}

// User is identity's entity, known here by id only.
type User struct {
	ID string `json:"id"`
}

// IsEntity marks User as a federation entity.
func (User) IsEntity() {}

// Connections (Relay) of policy's lists.
type (
	AccessRoleConnection       = kit.Connection[AccessRole]
	AccessRoleEdge             = kit.Edge[AccessRole]
	RoleBindingConnection      = kit.Connection[RoleBinding]
	RoleBindingEdge            = kit.Edge[RoleBinding]
	PolicyConnection           = kit.Connection[Policy]
	PolicyEdge                 = kit.Edge[Policy]
	PolicyAuditEntryConnection = kit.Connection[PolicyAuditEntry]
	PolicyAuditEntryEdge       = kit.Edge[PolicyAuditEntry]
)

// BindingScope is where a role binding applies.
type BindingScope string

// Binding scopes.
const (
	BindingScopeOrganization BindingScope = "ORGANIZATION"
	BindingScopeProject      BindingScope = "PROJECT"
)

// IsValid reports whether e is a known scope.
func (e BindingScope) IsValid() bool {
	return e == BindingScopeOrganization || e == BindingScopeProject
}

func (e BindingScope) String() string { return string(e) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (e *BindingScope) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*e = BindingScope(str)
	if !e.IsValid() {
		return fmt.Errorf("%s is not a valid BindingScope", str)
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (e BindingScope) MarshalGQL(w io.Writer) { fmt.Fprint(w, strconv.Quote(e.String())) }
