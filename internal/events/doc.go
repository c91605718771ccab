// Package events is the platform's event pipeline: a transactional outbox in
// each subgraph's PostgreSQL schema, a relay that publishes it to NATS
// JetStream, and durable consumers that apply each event once in effect.
//
// # Subjects
//
// An event's subject is studio.<subgraph>.<entity>.<verb>, e.g.
// studio.compliance.evidence.submitted. One stream (STUDIO, subjects
// studio.>) holds them all; EnsureStream creates it and updates it only when
// its settings differ. Dead letters go to studio.dlq.<consumer>, in the same
// stream.
//
// # Writing: the outbox
//
// A subgraph applies the pipeline's migration (Migrations, or
// WithMigrations(own) for pg.Open) and writes a state change and its event in
// one transaction:
//
//	ev, err := events.New("studio.compliance.evidence.submitted", orgID, payload)
//	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		if _, err := tx.Exec(ctx, `INSERT INTO evidence ...`); err != nil {
//			return err
//		}
//		return events.Append(ctx, tx, ev)
//	})
//
// Both commit or neither does. Payloads are JSON of at most MaxPayload bytes.
//
// # Publishing: the relay
//
//	relay := events.NewRelay(pool, js, events.WithLogger(log), events.WithMetrics(m))
//	go relay.Run(ctx)
//
// The relay claims unsent rows (FOR UPDATE SKIP LOCKED, in batches, in outbox
// order), publishes each with its event id as Nats-Msg-Id and waits for the
// PubAck, then marks them sent in the claiming transaction. It wakes on a
// NOTIFY from the outbox's insert trigger, and polls as a fallback. If it
// stops after a publish and before the commit, the rows are published again:
// JetStream drops the copy within the duplicate window (10 minutes by
// default), and consumers' idempotency covers the rest.
//
// # Consuming
//
//	err := events.Consume(ctx, js, "neo4j-projection", []string{"studio.compliance.>"}, handler, opts...)
//
// runs a durable pull consumer until ctx ends. A handler's nil acknowledges
// the message after its work; an error has it redelivered after an
// exponential backoff (Nak with delay), and after the max-deliver count (or at
// once for Permanent errors and malformed messages) the message is published
// to studio.dlq.<consumer> with the reason in headers and terminated.
// Idempotent wraps a handler whose effect is in PostgreSQL: the event id is
// recorded in the processed-events table in the same transaction as the
// effect, so a redelivered event is acknowledged without a second effect.
// Other stores need their own idempotency (e.g. a MERGE keyed by entity id).
//
// # Replay
//
// Replay deletes a durable consumer; Consume recreates it delivering the
// whole stream. To rebuild a projection: clear it and ForgetProcessed in one
// transaction, then Replay.
//
// # Guarantees
//
// Delivery is at least once: an event committed to the outbox reaches every
// consumer, possibly more than once, and possibly out of order across
// retries. The effect is exactly once when the handler is idempotent by event
// id. Order is the outbox's for one relay and one consumer with no retries;
// handlers must not depend on it.
package events
