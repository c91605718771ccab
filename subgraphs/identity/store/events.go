package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/internal/events"
)

// Subjects of identity's events (internal/events), appended to the outbox in
// the transaction of the change they describe.
const (
	SubjectOrganizationCreated = "studio.identity.organization.created"
	SubjectUserCreated         = "studio.identity.user.created"
)

// OrganizationCreated is the payload of SubjectOrganizationCreated.
type OrganizationCreated struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// UserCreated is the payload of SubjectUserCreated.
type UserCreated struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	Email          string `json:"email"`
	Name           string `json:"name"`
	Role           string `json:"role"`
}

// appendEvent appends an event of organization orgID to the outbox in tx.
func appendEvent(ctx context.Context, tx pgx.Tx, subject, orgID string, payload any) error {
	return events.AppendPayload(ctx, tx, subject, orgID, payload)
}
