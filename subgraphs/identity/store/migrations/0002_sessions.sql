-- Refresh-token families: every sign-in starts a family whose id is the
-- session id (the access tokens' sid). Rotating a token keeps its family;
-- presenting an already rotated token revokes the whole family (reuse
-- detection, RFC 6819 §5.2.2.3 / OAuth 2.0 Security BCP §4.14).
ALTER TABLE refresh_tokens ADD COLUMN family_id uuid, ADD COLUMN org_id uuid REFERENCES organizations (id);
UPDATE refresh_tokens r SET family_id = gen_random_uuid(), org_id = u.org_id FROM users u WHERE u.id = r.user_id;
ALTER TABLE refresh_tokens ALTER COLUMN family_id SET NOT NULL, ALTER COLUMN org_id SET NOT NULL;
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (org_id, family_id);
CREATE INDEX refresh_tokens_org_user_idx ON refresh_tokens (org_id, user_id) WHERE revoked_at IS NULL;
