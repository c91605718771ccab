-- Every row carries org_id so every query is scoped by the caller's
-- organization. Projects, controls, evidence and frameworks live in
-- compliance, documents in documents, users in identity: plain uuids, no
-- foreign keys across subgraphs. Citations are JSON arrays of
-- {ref, kind, chunkId, documentId, controlId, evidenceId, quote}.
CREATE TABLE chat_sessions (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL,
    project_id  uuid NOT NULL,
    created_by  uuid NOT NULL,
    title       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_sessions_org_idx ON chat_sessions (org_id, updated_at DESC);
CREATE INDEX chat_sessions_project_idx ON chat_sessions (project_id, updated_at DESC);

CREATE TABLE chat_messages (
    id                uuid PRIMARY KEY,
    org_id            uuid NOT NULL,
    session_id        uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    seq               bigint GENERATED ALWAYS AS IDENTITY,
    role              text NOT NULL CHECK (role IN ('USER', 'ASSISTANT')),
    content           text NOT NULL,
    citations         jsonb NOT NULL DEFAULT '[]',
    author_id         uuid,
    model             text,
    prompt_tokens     int,
    completion_tokens int,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_session_idx ON chat_messages (session_id, seq);

CREATE TABLE analyses (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL,
    evidence_id  uuid NOT NULL,
    control_id   uuid NOT NULL,
    state        text NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    verdict      text CHECK (verdict IN ('SUPPORTED', 'PARTIAL', 'NOT_SUPPORTED', 'NO_DOCUMENTS')),
    summary      text,
    citations    jsonb NOT NULL DEFAULT '[]',
    model        text,
    error        text,
    requested_by uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX analyses_evidence_idx ON analyses (evidence_id, created_at DESC);

CREATE TABLE policy_drafts (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL,
    project_id   uuid NOT NULL,
    framework_id uuid NOT NULL,
    state        text NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    title        text NOT NULL,
    content      text,
    document_id  uuid,
    model        text,
    error        text,
    requested_by uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policy_drafts_project_idx ON policy_drafts (project_id, created_at DESC);
