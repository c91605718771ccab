// Package graphfeed keeps compliance's Neo4j graph (package projection) in
// step with PostgreSQL: Handler applies compliance's events (the durable
// consumer Consumer runs it in the compliance process), Rebuild replaces an
// organization's graph from its PostgreSQL rows (`studio graph rebuild`), and
// SyncCatalog upserts the framework catalog, which is reference data shipped
// as a migration and has no events.
package graphfeed

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
	"github.com/studio-platform/studio/subgraphs/compliance/store"
)

// Consumer is the durable consumer's name.
const Consumer = "compliance-graph"

// Subjects are what the consumer reads.
var Subjects = []string{"studio.compliance.>"}

// Handler applies one compliance event to the graph. Every upsert is
// idempotent and ignores a payload older than the node's version, so
// redeliveries and replays change nothing. Unknown subjects are acked.
func Handler(p *projection.Projector) events.Handler {
	return func(ctx context.Context, ev events.Event) error {
		org := ev.OrganizationID.String()
		switch ev.Subject {
		case store.SubjectProjectCreated, store.SubjectProjectFrameworkAdopted:
			var pe store.ProjectEvent
			if err := decode(ev, &pe); err != nil {
				return err
			}
			return p.UpsertProject(ctx, org, projection.Project{ID: pe.ID, Name: pe.Name, Version: pe.Version})
		case store.SubjectControlAdded, store.SubjectControlUpdated:
			var ce store.ControlEvent
			if err := decode(ev, &ce); err != nil {
				return err
			}
			return p.UpsertControl(ctx, org, control(ce.ID, ce.ProjectID, ce.Code, ce.Title, ce.Status, ce.RequirementIDs, ce.Version))
		case store.SubjectEvidenceSubmitted, store.SubjectEvidenceReviewed:
			var ee store.EvidenceEvent
			if err := decode(ev, &ee); err != nil {
				return err
			}
			return p.UpsertEvidence(ctx, org, evidence(ee.ID, ee.ControlID, ee.Title, ee.Status, ee.ExpiresAt, ee.Version))
		}
		return nil
	}
}

func decode(ev events.Event, v any) error {
	if err := json.Unmarshal(ev.Payload, v); err != nil {
		return events.Permanent(fmt.Errorf("graphfeed: %s %s: %w", ev.Subject, ev.ID, err))
	}
	return nil
}

func control(id, projectID, code, title, status string, reqs []string, version int64) projection.Control {
	if reqs == nil {
		reqs = []string{}
	}
	return projection.Control{ID: id, ProjectID: projectID, Code: code, Title: title, Status: status, RequirementIDs: reqs, Version: version}
}

func evidence(id, controlID, title, status string, expires *time.Time, version int64) projection.Evidence {
	return projection.Evidence{ID: id, Title: title, Status: status, ExpiresAt: expires, ControlIDs: []string{controlID}, Version: version}
}

// SyncCatalog upserts every framework and requirement of the catalog.
func SyncCatalog(ctx context.Context, st *store.Store, p *projection.Projector) error {
	snap, err := catalog(ctx, st)
	if err != nil {
		return err
	}
	return p.Rebuild(ctx, syncOrg, snap)
}

// syncOrg is an organization id no organization has: Rebuild of an empty
// organization with the catalog only upserts the catalog.
const syncOrg = "00000000-0000-0000-0000-000000000000"

func catalog(ctx context.Context, st *store.Store) (projection.Snapshot, error) {
	var snap projection.Snapshot
	rows, err := st.Pool().Query(ctx, `SELECT id::text, key, name, version FROM frameworks ORDER BY key`)
	if err != nil {
		return snap, fmt.Errorf("graphfeed: catalog: %w", err)
	}
	snap.Frameworks, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (projection.Framework, error) {
		var f projection.Framework
		return f, r.Scan(&f.ID, &f.Key, &f.Name, &f.Version)
	})
	if err != nil {
		return snap, fmt.Errorf("graphfeed: catalog: %w", err)
	}
	rows, err = st.Pool().Query(ctx, `SELECT id::text, framework_id::text, code, title FROM requirements ORDER BY framework_id, position`)
	if err != nil {
		return snap, fmt.Errorf("graphfeed: catalog: %w", err)
	}
	snap.Requirements, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (projection.Requirement, error) {
		var q projection.Requirement
		return q, r.Scan(&q.ID, &q.FrameworkID, &q.Code, &q.Title)
	})
	if err != nil {
		return snap, fmt.Errorf("graphfeed: catalog: %w", err)
	}
	return snap, nil
}

// Snapshot reads organization orgID's rows (and the catalog) as the graph
// holds them: the same fields the events carry.
func Snapshot(ctx context.Context, st *store.Store, orgID string) (projection.Snapshot, error) {
	snap, err := catalog(ctx, st)
	if err != nil {
		return snap, err
	}
	err = pgx.BeginTxFunc(ctx, st.Pool(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text, name, version FROM projects WHERE org_id = $1`, orgID)
		if err != nil {
			return err
		}
		if snap.Projects, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (projection.Project, error) {
			var p projection.Project
			return p, r.Scan(&p.ID, &p.Name, &p.Version)
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT c.id::text, c.project_id::text, c.code, c.title, c.status, c.version,
			coalesce(array_agg(cr.requirement_id::text ORDER BY cr.requirement_id::text) FILTER (WHERE cr.requirement_id IS NOT NULL), '{}')
			FROM controls c LEFT JOIN control_requirements cr ON cr.control_id = c.id AND cr.org_id = $1
			WHERE c.org_id = $1 GROUP BY c.id`, orgID)
		if err != nil {
			return err
		}
		if snap.Controls, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (projection.Control, error) {
			var id, pid, code, title, status string
			var version int64
			var reqs []string
			err := r.Scan(&id, &pid, &code, &title, &status, &version, &reqs)
			return control(id, pid, code, title, status, reqs, version), err
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT id::text, control_id::text, title, status, expires_at, version FROM evidence WHERE org_id = $1`, orgID)
		if err != nil {
			return err
		}
		snap.Evidence, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (projection.Evidence, error) {
			var id, cid, title, status string
			var expires *time.Time
			var version int64
			err := r.Scan(&id, &cid, &title, &status, &expires, &version)
			return evidence(id, cid, title, status, expires, version), err
		})
		return err
	})
	if err != nil {
		return snap, fmt.Errorf("graphfeed: snapshot of %s: %w", orgID, err)
	}
	return snap, nil
}

// Rebuild replaces organization orgID's graph with its PostgreSQL rows.
func Rebuild(ctx context.Context, st *store.Store, p *projection.Projector, orgID string) error {
	snap, err := Snapshot(ctx, st, orgID)
	if err != nil {
		return err
	}
	return p.Rebuild(ctx, orgID, snap)
}

// Organizations lists the organizations that have compliance rows.
func Organizations(ctx context.Context, st *store.Store) ([]string, error) {
	rows, err := st.Pool().Query(ctx, `SELECT DISTINCT org_id::text FROM projects ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("graphfeed: organizations: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
