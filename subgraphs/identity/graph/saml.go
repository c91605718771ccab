package graph

import (
	"context"
	"errors"

	"github.com/studio-platform/studio/subgraphs/identity/graph/model"
	"github.com/studio-platform/studio/subgraphs/identity/sso"
	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

var errSAMLOff = &kit.Error{Code: kit.CodeServiceUnavailable, Reason: "SAML_DISABLED", Message: "SAML sign-in is not configured on this server"}

// requireAdmin returns the caller's claims when they are an ADMIN of their
// organization (read from the database, not the token).
func (r *Resolver) requireAdmin(ctx context.Context) (string, string, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return "", "", err
	}
	u, err := r.Store.UserByID(ctx, c.OrgID, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", kit.ErrForbidden
	}
	if err != nil {
		return "", "", err
	}
	if u.Role != model.RoleAdmin {
		return "", "", &kit.Error{Code: kit.CodeForbidden, Message: "only an organization ADMIN may change its identity provider"}
	}
	return c.OrgID, c.Subject, nil
}

func (r *Resolver) samlModel(p *store.SAMLProvider) *model.SamlIdentityProvider {
	u := sso.SAMLURLs(r.PublicURL, p.OrgID)
	return &model.SamlIdentityProvider{EntityID: p.EntityID, SsoURL: p.SSOURL, SpEntityID: u.EntityID,
		SpMetadataURL: u.Metadata, AcsURL: u.ACS, SignInURL: u.Start, UpdatedAt: p.UpdatedAt}
}

func (r *Resolver) samlIdentityProvider(ctx context.Context) (*model.SamlIdentityProvider, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	p, err := r.Store.SAMLProvider(ctx, c.OrgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.samlModel(p), nil
}

func (r *Resolver) setSAMLIdentityProvider(ctx context.Context, metadataXML string) (*model.SamlIdentityProvider, error) {
	org, by, err := r.requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if !r.SAML {
		return nil, errSAMLOff
	}
	var v kit.Input
	v.Text("metadataXml", metadataXML, sso.MaxSAMLMetadata)
	if err := v.Err(); err != nil {
		return nil, err
	}
	m, _, err := sso.ParseIdPMetadata([]byte(metadataXML))
	if err != nil {
		return nil, err
	}
	p := &store.SAMLProvider{OrgID: org, EntityID: m.EntityID, SSOURL: m.SSOURL, MetadataXML: metadataXML, UpdatedBy: by}
	if err := r.Store.SetSAMLProvider(ctx, p); err != nil {
		return nil, err
	}
	return r.samlModel(p), nil
}

func (r *Resolver) removeSAMLIdentityProvider(ctx context.Context) (bool, error) {
	org, by, err := r.requireAdmin(ctx)
	if err != nil {
		return false, err
	}
	return r.Store.RemoveSAMLProvider(ctx, org, by)
}
