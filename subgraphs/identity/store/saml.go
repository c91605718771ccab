package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SubjectSAMLProviderChanged is published when an organization sets or
// removes its SAML identity provider (who may sign in to it changes).
const SubjectSAMLProviderChanged = "studio.identity.saml_provider.changed"

// SAMLProviderChanged is the payload of SubjectSAMLProviderChanged; EntityID
// is empty when the provider was removed.
type SAMLProviderChanged struct {
	OrganizationID string `json:"organizationId"`
	EntityID       string `json:"entityId"`
	ChangedBy      string `json:"changedBy"`
}

// SAMLProvider is an organization's SAML identity provider.
type SAMLProvider struct {
	OrgID       string
	EntityID    string
	SSOURL      string
	MetadataXML string
	UpdatedBy   string
	UpdatedAt   time.Time
}

// SAMLProvider returns orgID's identity provider, or ErrNotFound.
func (s *Store) SAMLProvider(ctx context.Context, orgID string) (*SAMLProvider, error) {
	p := SAMLProvider{OrgID: orgID}
	err := s.Pool().QueryRow(ctx, `SELECT entity_id, sso_url, metadata_xml, updated_by::text, updated_at
		FROM saml_identity_providers WHERE org_id = $1`, orgID).Scan(&p.EntityID, &p.SSOURL, &p.MetadataXML, &p.UpdatedBy, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("saml provider: %w", err)
	}
	return &p, nil
}

// SetSAMLProvider sets p.OrgID's identity provider (replacing any) and
// publishes SubjectSAMLProviderChanged; p.UpdatedAt is set.
func (s *Store) SetSAMLProvider(ctx context.Context, p *SAMLProvider) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO saml_identity_providers (org_id, entity_id, sso_url, metadata_xml, updated_by)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (org_id) DO UPDATE SET entity_id = $2, sso_url = $3, metadata_xml = $4, updated_by = $5, updated_at = now()
			RETURNING updated_at`, p.OrgID, p.EntityID, p.SSOURL, p.MetadataXML, p.UpdatedBy).Scan(&p.UpdatedAt)
		if err != nil {
			return fmt.Errorf("set saml provider: %w", err)
		}
		return appendEvent(ctx, tx, SubjectSAMLProviderChanged, p.OrgID, SAMLProviderChanged{OrganizationID: p.OrgID, EntityID: p.EntityID, ChangedBy: p.UpdatedBy})
	})
}

// RemoveSAMLProvider removes orgID's identity provider; false when it had none.
func (s *Store) RemoveSAMLProvider(ctx context.Context, orgID, by string) (bool, error) {
	var removed bool
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM saml_identity_providers WHERE org_id = $1", orgID)
		if err != nil {
			return fmt.Errorf("remove saml provider: %w", err)
		}
		if removed = tag.RowsAffected() > 0; !removed {
			return nil
		}
		return appendEvent(ctx, tx, SubjectSAMLProviderChanged, orgID, SAMLProviderChanged{OrganizationID: orgID, ChangedBy: by})
	})
	return removed, err
}

// SAMLServiceProviderKey returns the service provider's key and certificate
// (PEM), creating them with generate on first use. Concurrent first starts
// agree on one.
func (s *Store) SAMLServiceProviderKey(ctx context.Context, generate func() (keyPEM, certPEM []byte, err error)) (keyPEM, certPEM []byte, err error) {
	var k, c string
	err = pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('studio.identity.saml_sp_keys'))"); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, "SELECT private_key_pem, certificate_pem FROM saml_sp_keys WHERE id = 1").Scan(&k, &c)
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		kb, cb, err := generate()
		if err != nil {
			return err
		}
		k, c = string(kb), string(cb)
		_, err = tx.Exec(ctx, "INSERT INTO saml_sp_keys (id, private_key_pem, certificate_pem) VALUES (1, $1, $2)", k, c)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("saml sp key: %w", err)
	}
	return []byte(k), []byte(c), nil
}
