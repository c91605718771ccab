-- policy: custom roles, role bindings, CEL policies and their audit log.
-- Built-in roles live in code (package rbac) with fixed ids; bindings may
-- name them or a custom role of the same organization.

CREATE TABLE roles (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    permissions text[] NOT NULL CHECK (cardinality(permissions) BETWEEN 1 AND 64),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name),
    UNIQUE (org_id, id)
);

CREATE TABLE role_bindings (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL,
    subject_id  uuid NOT NULL,
    role_id     uuid NOT NULL,
    scope       text NOT NULL CHECK (scope IN ('ORGANIZATION', 'PROJECT')),
    project_id  uuid,
    granted_by  uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope = 'PROJECT') = (project_id IS NOT NULL))
);
-- One binding per (subject, role, scope); NULLS NOT DISTINCT so two
-- ORGANIZATION bindings of the same role collide too.
CREATE UNIQUE INDEX role_bindings_unique ON role_bindings (org_id, subject_id, role_id, scope, project_id) NULLS NOT DISTINCT;
CREATE INDEX role_bindings_role ON role_bindings (org_id, role_id);

CREATE TABLE policies (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    permission  text,
    condition   text NOT NULL CHECK (length(condition) <= 4096),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);
CREATE INDEX policies_permission ON policies (org_id, permission) WHERE enabled;

-- Append-only: rows are inserted in the transaction of the change they
-- describe and never updated or deleted (the trigger refuses it).
CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    org_id      uuid NOT NULL,
    actor_id    uuid,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   uuid NOT NULL,
    before      jsonb,
    after       jsonb,
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_org ON audit_log (org_id, seq DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
