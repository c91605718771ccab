-- Frameworks and their requirements are a catalog shared by every
-- organization (reference data, 0003_catalog.sql): no org_id. Everything an
-- organization owns carries org_id, and every query on it is scoped by it.
CREATE TABLE frameworks (
    id          uuid PRIMARY KEY,
    key         text NOT NULL UNIQUE,
    name        text NOT NULL,
    version     text NOT NULL,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE requirements (
    id           uuid PRIMARY KEY,
    framework_id uuid NOT NULL REFERENCES frameworks (id),
    code         text NOT NULL,
    title        text NOT NULL,
    position     int  NOT NULL,
    UNIQUE (framework_id, code)
);
CREATE INDEX requirements_framework_idx ON requirements (framework_id, position);

-- The frameworks a project is assessed against (its scope).
CREATE TABLE project_frameworks (
    org_id       uuid NOT NULL,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    framework_id uuid NOT NULL REFERENCES frameworks (id),
    adopted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, framework_id)
);

-- A control maps to requirements of any number of frameworks.
CREATE TABLE control_requirements (
    org_id         uuid NOT NULL,
    control_id     uuid NOT NULL REFERENCES controls (id) ON DELETE CASCADE,
    requirement_id uuid NOT NULL REFERENCES requirements (id),
    PRIMARY KEY (control_id, requirement_id)
);
CREATE INDEX control_requirements_requirement_idx ON control_requirements (requirement_id);

-- Controls are the organization's own (code e.g. AC-01); the framework label
-- of the first schema stays for old rows.
ALTER TABLE controls ALTER COLUMN framework SET DEFAULT '';
ALTER TABLE controls ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE projects ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- Evidence is reviewed: PENDING until accepted or rejected; accepted evidence
-- is current until it expires. owner_id is the user answerable for it (a
-- user of identity, like submitted_by).
ALTER TABLE evidence
    ADD COLUMN status      text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'ACCEPTED', 'REJECTED')),
    ADD COLUMN owner_id    uuid,
    ADD COLUMN reviewed_by uuid,
    ADD COLUMN reviewed_at timestamptz,
    ADD COLUMN expires_at  timestamptz,
    ADD COLUMN version     bigint NOT NULL DEFAULT 1;
UPDATE evidence SET owner_id = submitted_by WHERE owner_id IS NULL;
CREATE INDEX evidence_current_idx ON evidence (control_id) WHERE status = 'ACCEPTED';
