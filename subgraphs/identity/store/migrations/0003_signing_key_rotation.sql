-- Signing-key rotation: a key is published in the JWKS from its creation,
-- signs new tokens from activates_at (the newest key whose activates_at has
-- come is the active one), and leaves the JWKS when retired_at is set.
ALTER TABLE signing_keys ADD COLUMN activates_at timestamptz, ADD COLUMN retired_at timestamptz;
UPDATE signing_keys SET activates_at = created_at;
ALTER TABLE signing_keys ALTER COLUMN activates_at SET NOT NULL, ALTER COLUMN activates_at SET DEFAULT now();
