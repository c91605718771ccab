package events

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Tables the migration creates in the subgraph's schema.
const (
	OutboxTable    = "events_outbox"
	ProcessedTable = "events_processed"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the pipeline's migrations: the *.sql files at its root,
// named events_NNNN_*.sql so they never collide with a subgraph's own.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern names the folder: cannot happen
	}
	return sub
}

// WithMigrations returns own's migrations plus the pipeline's, for pg.Open:
//
//	pool, err := pg.Open(ctx, url, "compliance", events.WithMigrations(store.Migrations()))
//
// A file of own wins over a pipeline file of the same name. pg.Open applies
// files in lexical order, so events_* run after a subgraph's NNNN_* files.
func WithMigrations(own fs.FS) fs.FS {
	if own == nil {
		return Migrations()
	}
	return unionFS{own, Migrations()}
}

// unionFS overlays file systems: Open takes the first that has the name,
// ReadDir merges the listings (first wins, sorted by name).
type unionFS []fs.FS

func (u unionFS) Open(name string) (fs.File, error) {
	for _, fsys := range u {
		f, err := fsys.Open(name)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (u unionFS) ReadDir(name string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	seen := map[string]bool{}
	found := false
	for _, fsys := range u {
		entries, err := fs.ReadDir(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		for _, e := range entries {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e)
			}
		}
	}
	if !found {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// Append writes ev to the outbox inside tx, the transaction that makes the
// state change it describes: both commit or neither does. A zero OccurredAt
// is set to now. The relay publishes the row after commit.
func Append(ctx context.Context, tx pgx.Tx, ev Event) error {
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = time.Now()
	}
	if err := ev.Validate(); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+OutboxTable+` (id, subject, organization_id, payload, occurred_at)
		VALUES ($1, $2, $3, $4, $5)`, ev.ID, ev.Subject, ev.OrganizationID, string(ev.Payload), ev.OccurredAt); err != nil {
		return fmt.Errorf("events: append %s %s: %w", ev.Subject, ev.ID, err)
	}
	return nil
}

// MarkProcessed records, inside tx, that consumer has handled the event id.
// It reports false when the record already exists: the event was handled
// before (by a committed transaction) and its effect must not be applied again.
// A concurrent transaction recording the same id makes this one wait for its
// outcome, so two deliveries handled at once still have one effect.
func MarkProcessed(ctx context.Context, tx pgx.Tx, consumer string, id uuid.UUID) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO `+ProcessedTable+` (consumer, event_id) VALUES ($1, $2)
		ON CONFLICT (consumer, event_id) DO NOTHING`, consumer, id)
	if err != nil {
		return false, fmt.Errorf("events: mark %s processed by %s: %w", id, consumer, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ForgetProcessed deletes consumer's processed-event records inside tx, to
// rebuild its effect from a replay: clear the projection and forget in one
// transaction, then Replay the consumer.
func ForgetProcessed(ctx context.Context, tx pgx.Tx, consumer string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM `+ProcessedTable+` WHERE consumer = $1`, consumer); err != nil {
		return fmt.Errorf("events: forget events processed by %s: %w", consumer, err)
	}
	return nil
}

// AppendPayload is New then Append: payload, an event of organization
// orgID (a UUID string) on subject, written to the outbox inside tx.
func AppendPayload(ctx context.Context, tx pgx.Tx, subject, orgID string, payload any) error {
	org, err := uuid.Parse(orgID)
	if err != nil {
		return fmt.Errorf("events: %s: organization id: %w", subject, err)
	}
	ev, err := New(subject, org, payload)
	if err != nil {
		return err
	}
	return Append(ctx, tx, ev)
}
