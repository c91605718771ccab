package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/identity/graph/model"
)

// Errors of ExternalUser.
var (
	// ErrNoAccount: no user is linked to the external identity or has its
	// (verified) email in the organization it may sign in to.
	ErrNoAccount = errors.New("no account for this external identity")
	// ErrEmailNotVerified: the identity is not linked yet and the provider
	// did not vouch for its email, so it cannot be matched to a user.
	ErrEmailNotVerified = errors.New("external identity's email not verified")
)

// ExternalIdentity is who an external identity provider says signed in.
type ExternalIdentity struct {
	// Issuer and Subject identify the account at the provider, for good
	// (OIDC iss and sub; SAML "saml:<org id>:<IdP entity id>" and NameID).
	Issuer  string
	Subject string
	// Email and EmailVerified: the address and whether the provider vouches
	// for it (OIDC email_verified; an organization's SAML IdP is trusted for
	// its own organization's users).
	Email         string
	EmailVerified bool
	Name          string
	// OrgID, when set (SAML), is the only organization the identity may
	// sign in to: an organization's IdP never vouches for another's users.
	OrgID string
}

// ExternalUser returns the user ext signs in as, linking ext to a user on
// its first sign-in:
//
//   - an identity already linked signs in as its user (in OrgID, when set);
//   - otherwise, with a verified email, the user with that email (in OrgID,
//     when set) is linked and signs in;
//   - otherwise ErrEmailNotVerified or ErrNoAccount: sign-in never creates
//     users or organizations (sign-up and invitations do, on purpose).
func (s *Store) ExternalUser(ctx context.Context, ext ExternalIdentity) (*model.User, error) {
	var u *model.User
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		// The lookups run before there is an organization (the caller is
		// signing in); the link insert is scoped by the user's.
		rows, err := tx.Query(ctx, "SELECT "+userCols+" FROM users WHERE id = (SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2)",
			ext.Issuer, ext.Subject)
		if err != nil {
			return fmt.Errorf("find linked user: %w", err)
		}
		u, err = pgx.CollectExactlyOneRow(rows, scanUser)
		switch {
		case err == nil:
			if ext.OrgID != "" && u.OrganizationID != ext.OrgID {
				return ErrNoAccount
			}
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("find linked user: %w", err)
		case !ext.EmailVerified || ext.Email == "":
			return ErrEmailNotVerified
		}
		rows, err = tx.Query(ctx, "SELECT "+userCols+" FROM users WHERE lower(email) = lower($1)", ext.Email)
		if err != nil {
			return fmt.Errorf("find user by email: %w", err)
		}
		u, err = pgx.CollectExactlyOneRow(rows, scanUser)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && ext.OrgID != "" && u.OrganizationID != ext.OrgID) {
			return ErrNoAccount
		}
		if err != nil {
			return fmt.Errorf("find user by email: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO external_identities (issuer, subject, user_id, org_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT (issuer, subject) DO NOTHING`, ext.Issuer, ext.Subject, u.ID, u.OrganizationID)
		if err != nil {
			return fmt.Errorf("link external identity: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
