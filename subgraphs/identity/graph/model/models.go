// Package model holds identity's GraphQL models: the hand-written entity
// structs and enums here (bound by autobind, so relation fields become
// resolvers) and gqlgen's generated inputs and payloads in models_gen.go.
package model

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/studio-platform/studio/subgraphs/kit"
)

// User is a person who signs in. Organization is resolved from OrganizationID.
type User struct {
	ID             string    `json:"id"`
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	Role           Role      `json:"role"`
	OrganizationID string    `json:"-"`
	CreatedAt      time.Time `json:"createdAt"`
}

// IsEntity marks User as a federation entity.
func (User) IsEntity() {}

// Organization is a tenant. Members are resolved by a loader.
type Organization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// IsEntity marks Organization as a federation entity.
func (Organization) IsEntity() {}

// Connections (Relay) of identity's lists.
type (
	UserConnection = kit.Connection[User]
	UserEdge       = kit.Edge[User]
)

// Role is a member's role in their organization.
type Role string

// Roles.
const (
	RoleAdmin  Role = "ADMIN"
	RoleMember Role = "MEMBER"
	RoleViewer Role = "VIEWER"
)

// IsValid reports whether r is a known role.
func (r Role) IsValid() bool {
	switch r {
	case RoleAdmin, RoleMember, RoleViewer:
		return true
	}
	return false
}

func (r Role) String() string { return string(r) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (r *Role) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*r = Role(s)
	if !r.IsValid() {
		return fmt.Errorf("%s is not a valid Role", s)
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (r Role) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(r)))
}
