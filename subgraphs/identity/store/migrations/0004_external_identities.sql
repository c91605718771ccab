-- Accounts at external identity providers linked to users: the provider's
-- issuer (OpenID Connect iss; for SAML "saml:<org id>:<IdP entity id>") and
-- its stable subject id. A sign-in through a provider finds its user here
-- first; the first sign-in links by verified email (see store.SignInExternal).
CREATE TABLE external_identities (
    issuer     text NOT NULL,
    subject    text NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id     uuid NOT NULL REFERENCES organizations (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_identities_user_idx ON external_identities (org_id, user_id);
