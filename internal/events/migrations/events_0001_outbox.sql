-- The event pipeline's tables, applied in each subgraph's own schema
-- (unqualified names: pg.Open runs migrations with search_path = the schema).

-- Outbox: events written in the same transaction as the state change they
-- describe; the relay publishes unsent rows in seq order and marks them sent.
CREATE TABLE events_outbox (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              uuid        NOT NULL UNIQUE,
    subject         text        NOT NULL CHECK (octet_length(subject) <= 255),
    organization_id uuid        NOT NULL,
    payload         jsonb       NOT NULL,
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text        CHECK (octet_length(last_error) <= 1024)
);

-- The relay's claim query reads only unsent rows.
CREATE INDEX events_outbox_unsent ON events_outbox (seq) WHERE sent_at IS NULL;
-- Pruning sent rows by age.
CREATE INDEX events_outbox_sent_at ON events_outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Wake the relay at commit: one notification per inserting statement, on a
-- channel named after the schema (only this schema's relay listens to it).
CREATE FUNCTION events_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('studio_events_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_outbox_notify AFTER INSERT ON events_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION events_outbox_notify();

-- Processed events: a consumer records an event id in the same transaction
-- as its effect, so a redelivered event has no second effect.
CREATE TABLE events_processed (
    consumer     text        NOT NULL CHECK (octet_length(consumer) <= 64),
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
