-- Every row carries org_id so every query is scoped by the caller's
-- organization. Users (owner_id, submitted_by) live in identity: plain uuids,
-- no foreign keys across subgraphs.
CREATE TABLE projects (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    owner_id    uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_org_id_idx ON projects (org_id, created_at DESC);
CREATE INDEX projects_owner_id_idx ON projects (owner_id);

CREATE TABLE controls (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    code        text NOT NULL,
    title       text NOT NULL,
    description text NOT NULL DEFAULT '',
    framework   text NOT NULL,
    status      text NOT NULL CHECK (status IN ('NOT_STARTED', 'IN_PROGRESS', 'IMPLEMENTED', 'NOT_APPLICABLE')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, framework, code)
);
CREATE INDEX controls_project_id_idx ON controls (project_id);

CREATE TABLE evidence (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL,
    control_id   uuid NOT NULL REFERENCES controls (id) ON DELETE CASCADE,
    title        text NOT NULL,
    description  text NOT NULL DEFAULT '',
    url          text,
    submitted_by uuid,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_control_id_idx ON evidence (control_id);
