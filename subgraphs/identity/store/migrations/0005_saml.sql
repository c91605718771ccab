-- SAML 2.0 sign-in: each organization may name one identity provider, set by
-- an organization ADMIN from the IdP's metadata (kept whole: its signing
-- certificates verify the assertions).
CREATE TABLE saml_identity_providers (
    org_id       uuid PRIMARY KEY REFERENCES organizations (id),
    entity_id    text NOT NULL,
    sso_url      text NOT NULL,
    metadata_xml text NOT NULL,
    updated_by   uuid NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The service provider's RSA key and self-signed certificate (signs
-- AuthnRequests, decrypts encrypted assertions), generated on first start.
CREATE TABLE saml_sp_keys (
    id              int PRIMARY KEY CHECK (id = 1),
    private_key_pem text NOT NULL,
    certificate_pem text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
