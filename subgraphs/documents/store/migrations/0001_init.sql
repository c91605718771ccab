-- Every row carries org_id so every query is scoped by the caller's
-- organization. Projects and evidence live in compliance, users in identity:
-- plain uuids, no foreign keys across subgraphs. The bytes are in object
-- storage under object_key.
CREATE TABLE documents (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL,
    project_id   uuid NOT NULL,
    evidence_id  uuid,
    uploaded_by  uuid NOT NULL,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL CHECK (size > 0),
    sha256       text NOT NULL,
    object_key   text NOT NULL UNIQUE,
    status       text NOT NULL CHECK (status IN ('UPLOADED', 'PROCESSING', 'PROCESSED', 'FAILED')),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_project_idx ON documents (project_id, created_at DESC);
CREATE INDEX documents_evidence_idx ON documents (evidence_id, created_at DESC) WHERE evidence_id IS NOT NULL;

-- A presigned upload between requestUpload and completeUpload.
CREATE TABLE pending_uploads (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL,
    project_id  uuid NOT NULL,
    evidence_id uuid,
    uploaded_by uuid NOT NULL,
    filename    text NOT NULL,
    size        bigint NOT NULL,
    object_key  text NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX pending_uploads_expires_idx ON pending_uploads (expires_at);

CREATE TABLE processing_jobs (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL,
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    state       text NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    progress    int NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    attempts    int NOT NULL DEFAULT 0,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processing_jobs_document_idx ON processing_jobs (document_id, created_at DESC);

-- The extracted text of a document, in order (position 0, 1, …).
CREATE TABLE chunks (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL,
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    job_id      uuid NOT NULL,
    position    int NOT NULL,
    start_char  int NOT NULL,
    content     text NOT NULL,
    UNIQUE (document_id, position)
);
