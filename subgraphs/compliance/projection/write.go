package projection

import (
	"context"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Framework is a compliance framework of the shared catalog (e.g. SOC 2 2017 TSC).
type Framework struct {
	ID      string
	Key     string // e.g. "SOC2", "ISO27001"
	Name    string
	Version string // e.g. "2017", "2022"
}

// Requirement is one requirement of a framework (e.g. CC6.1, A.5.15).
type Requirement struct {
	ID          string
	FrameworkID string
	Code        string
	Title       string
}

// Project is an organization's project.
type Project struct {
	ID      string
	Name    string
	Version int64 // see Control.Version
}

// Control is an organization's control, in one project.
type Control struct {
	ID        string
	ProjectID string
	Code      string
	Title     string
	Status    string
	// RequirementIDs are the requirements the control satisfies. nil leaves the
	// control's mappings as they are (mappings then come from MapControl/UnmapControl
	// events); non-nil, even empty, replaces them.
	RequirementIDs []string
	// Version orders updates of one entity (e.g. the row's revision or updated_at in
	// microseconds): an upsert older than the stored one is ignored, so a redelivered
	// event cannot undo a newer one. Equal versions are applied (idempotent).
	Version int64
}

// Evidence statuses. Only ACCEPTED evidence counts as current (when not expired).
const (
	EvidencePending  = "PENDING"
	EvidenceAccepted = "ACCEPTED"
	EvidenceRejected = "REJECTED"
)

// Evidence is an organization's evidence for one or more controls.
type Evidence struct {
	ID        string
	Title     string
	Status    string     // EvidencePending, EvidenceAccepted, EvidenceRejected
	ExpiresAt *time.Time // nil: never expires
	// ControlIDs are the controls the evidence supports: nil leaves the links as they
	// are, non-nil (even empty) replaces them.
	ControlIDs []string
	Version    int64 // see Control.Version
}

// Mapping says a control satisfies a requirement.
type Mapping struct {
	ControlID     string
	RequirementID string
}

// Snapshot is an organization's rows as PostgreSQL holds them, for Rebuild: the
// frameworks and requirements its controls map to (or the whole catalog) and all its
// projects, controls (with RequirementIDs) and evidence (with ControlIDs).
type Snapshot struct {
	Frameworks   []Framework
	Requirements []Requirement
	Projects     []Project
	Controls     []Control
	Evidence     []Evidence
}

// The statements below take a list of rows ($rows) so that an event (one row) and
// Rebuild (every row) run the very same Cypher.

const upsertFrameworks = `
UNWIND $rows AS row
MERGE (f:Framework {id: row.id})
SET f.key = row.key, f.name = row.name, f.version = row.version`

const upsertRequirements = `
UNWIND $rows AS row
MERGE (r:Requirement {id: row.id})
SET r.frameworkId = row.frameworkId, r.code = row.code, r.title = row.title
WITH r, row
CALL (r, row) {
  OPTIONAL MATCH (old:Framework)-[h:HAS]->(r) WHERE old.id <> row.frameworkId
  DELETE h
}
MERGE (f:Framework {id: row.frameworkId})
MERGE (f)-[:HAS]->(r)`

const upsertProjects = `
UNWIND $rows AS row
MERGE (p:Project {orgId: $org, id: row.id})
WITH p, row WHERE coalesce(p.version, 0) <= row.version
SET p.name = row.name, p.version = row.version`

const upsertControls = `
UNWIND $rows AS row
MERGE (c:Control {orgId: $org, id: row.id})
WITH c, row WHERE coalesce(c.version, 0) <= row.version
SET c.projectId = row.projectId, c.code = row.code, c.title = row.title, c.status = row.status, c.version = row.version
WITH c, row
CALL (c, row) {
  OPTIONAL MATCH (old:Project {orgId: $org})-[h:HAS_CONTROL]->(c) WHERE old.id <> row.projectId
  DELETE h
}
MERGE (p:Project {orgId: $org, id: row.projectId})
MERGE (p)-[:HAS_CONTROL]->(c)
WITH c, row WHERE row.requirementIds IS NOT NULL
CALL (c, row) {
  OPTIONAL MATCH (c)-[s:SATISFIES]->(r:Requirement) WHERE NOT r.id IN row.requirementIds
  DELETE s
}
CALL (c, row) {
  UNWIND row.requirementIds AS rid
  MERGE (r:Requirement {id: rid})
  MERGE (c)-[:SATISFIES]->(r)
}`

const upsertEvidence = `
UNWIND $rows AS row
MERGE (e:Evidence {orgId: $org, id: row.id})
WITH e, row WHERE coalesce(e.version, 0) <= row.version
SET e.title = row.title, e.status = row.status, e.expiresAt = row.expiresAt, e.version = row.version
WITH e, row WHERE row.controlIds IS NOT NULL
CALL (e, row) {
  OPTIONAL MATCH (c:Control {orgId: $org})-[s:SUPPORTED_BY]->(e) WHERE NOT c.id IN row.controlIds
  DELETE s
}
CALL (e, row) {
  UNWIND row.controlIds AS cid
  MERGE (c:Control {orgId: $org, id: cid})
  MERGE (c)-[:SUPPORTED_BY]->(e)
}`

// UpsertFramework applies a framework created/updated event.
func (p *Projector) UpsertFramework(ctx context.Context, f Framework) error {
	rows, err := frameworkRows([]Framework{f})
	if err != nil {
		return err
	}
	return p.write(ctx, func(tx neo4j.ManagedTransaction) error {
		return run(ctx, tx, upsertFrameworks, map[string]any{"rows": rows})
	})
}

// UpsertRequirement applies a requirement created/updated event.
func (p *Projector) UpsertRequirement(ctx context.Context, r Requirement) error {
	rows, err := requirementRows([]Requirement{r})
	if err != nil {
		return err
	}
	return p.write(ctx, func(tx neo4j.ManagedTransaction) error {
		return run(ctx, tx, upsertRequirements, map[string]any{"rows": rows})
	})
}

// UpsertProject applies a project created/updated event of organization org.
func (p *Projector) UpsertProject(ctx context.Context, org string, pr Project) error {
	return p.upsert(ctx, org, upsertProjects, func() ([]map[string]any, error) { return projectRows([]Project{pr}) })
}

// UpsertControl applies a control created/updated event of organization org.
func (p *Projector) UpsertControl(ctx context.Context, org string, c Control) error {
	return p.upsert(ctx, org, upsertControls, func() ([]map[string]any, error) { return controlRows([]Control{c}) })
}

// UpsertEvidence applies an evidence created/updated event (status, expiry, links) of
// organization org.
func (p *Projector) UpsertEvidence(ctx context.Context, org string, e Evidence) error {
	return p.upsert(ctx, org, upsertEvidence, func() ([]map[string]any, error) { return evidenceRows([]Evidence{e}) })
}

func (p *Projector) upsert(ctx context.Context, org, cypher string, rows func() ([]map[string]any, error)) error {
	if err := checkID("organization id", org); err != nil {
		return err
	}
	r, err := rows()
	if err != nil {
		return err
	}
	return p.write(ctx, func(tx neo4j.ManagedTransaction) error {
		return run(ctx, tx, cypher, map[string]any{"org": org, "rows": r})
	})
}

// MapControl applies a "control satisfies requirement" event.
func (p *Projector) MapControl(ctx context.Context, org string, m Mapping) error {
	if err := checkIDs(org, m.ControlID, m.RequirementID); err != nil {
		return err
	}
	return p.write(ctx, func(tx neo4j.ManagedTransaction) error {
		return run(ctx, tx, `
MERGE (c:Control {orgId: $org, id: $control})
MERGE (r:Requirement {id: $requirement})
MERGE (c)-[:SATISFIES]->(r)`, map[string]any{"org": org, "control": m.ControlID, "requirement": m.RequirementID})
	})
}

// UnmapControl applies a "control no longer satisfies requirement" event.
func (p *Projector) UnmapControl(ctx context.Context, org string, m Mapping) error {
	if err := checkIDs(org, m.ControlID, m.RequirementID); err != nil {
		return err
	}
	return p.write(ctx, func(tx neo4j.ManagedTransaction) error {
		return run(ctx, tx, `
MATCH (:Control {orgId: $org, id: $control})-[s:SATISFIES]->(:Requirement {id: $requirement})
DELETE s`, map[string]any{"org": org, "control": m.ControlID, "requirement": m.RequirementID})
	})
}

// DeleteEvidence applies an evidence deleted event.
func (p *Projector) DeleteEvidence(ctx context.Context, org, id string) error {
	if err := checkIDs(org, id); err != nil {
		return err
	}
	return p.write(ctx, func(tx neo4j.ManagedTransaction) error {
		return run(ctx, tx, `MATCH (e:Evidence {orgId: $org, id: $id}) DETACH DELETE e`, map[string]any{"org": org, "id": id})
	})
}

// DeleteControl applies a control deleted event. Like the ON DELETE CASCADE in
// PostgreSQL, evidence that supported the control and supports no other control goes
// with it.
func (p *Projector) DeleteControl(ctx context.Context, org, id string) error {
	if err := checkIDs(org, id); err != nil {
		return err
	}
	return p.write(ctx, func(tx neo4j.ManagedTransaction) error {
		return deleteControls(ctx, tx, org, `MATCH (c:Control {orgId: $org, id: $id})`, map[string]any{"id": id})
	})
}

// DeleteProject applies a project deleted event: the project, its controls and the
// evidence left supporting no control.
func (p *Projector) DeleteProject(ctx context.Context, org, id string) error {
	if err := checkIDs(org, id); err != nil {
		return err
	}
	return p.write(ctx, func(tx neo4j.ManagedTransaction) error {
		params := map[string]any{"id": id}
		if err := deleteControls(ctx, tx, org, `MATCH (c:Control {orgId: $org, projectId: $id})`, params); err != nil {
			return err
		}
		return run(ctx, tx, `MATCH (p:Project {orgId: $org, id: $id}) DETACH DELETE p`, map[string]any{"org": org, "id": id})
	})
}

// deleteControls deletes the controls matched by match (binding c), then the evidence
// they supported that no longer supports any control.
func deleteControls(ctx context.Context, tx neo4j.ManagedTransaction, org, match string, params map[string]any) error {
	params["org"] = org
	res, err := tx.Run(ctx, match+`
OPTIONAL MATCH (c)-[:SUPPORTED_BY]->(e:Evidence {orgId: $org})
WITH collect(DISTINCT e.id) AS evidence, collect(DISTINCT c) AS controls
FOREACH (c IN controls | DETACH DELETE c)
RETURN evidence`, params)
	if err != nil {
		return err
	}
	rec, err := res.Single(ctx)
	if err != nil {
		return err
	}
	evidence, _ := rec.Get("evidence")
	return run(ctx, tx, `
UNWIND $evidence AS eid
MATCH (e:Evidence {orgId: $org, id: eid})
WHERE NOT EXISTS { (:Control)-[:SUPPORTED_BY]->(e) }
DETACH DELETE e`, map[string]any{"org": org, "evidence": evidence})
}

// Rebuild replaces organization org's part of the graph (its projects, controls and
// evidence) with snap, in one transaction, and upserts the snapshot's frameworks and
// requirements (the catalog is shared, so nothing else of it is removed).
func (p *Projector) Rebuild(ctx context.Context, org string, snap Snapshot) error {
	if err := checkID("organization id", org); err != nil {
		return err
	}
	fw, err := frameworkRows(snap.Frameworks)
	if err != nil {
		return err
	}
	reqs, err := requirementRows(snap.Requirements)
	if err != nil {
		return err
	}
	projects, err := projectRows(snap.Projects)
	if err != nil {
		return err
	}
	controls, err := controlRows(snap.Controls)
	if err != nil {
		return err
	}
	evidence, err := evidenceRows(snap.Evidence)
	if err != nil {
		return err
	}
	return p.write(ctx, func(tx neo4j.ManagedTransaction) error {
		for _, label := range []string{"Evidence", "Control", "Project"} {
			if err := run(ctx, tx, "MATCH (n:"+label+" {orgId: $org}) DETACH DELETE n", map[string]any{"org": org}); err != nil {
				return fmt.Errorf("clear %s: %w", label, err)
			}
		}
		for _, step := range []struct {
			cypher string
			rows   []map[string]any
		}{
			{upsertFrameworks, fw},
			{upsertRequirements, reqs},
			{upsertProjects, projects},
			{upsertControls, controls},
			{upsertEvidence, evidence},
		} {
			if len(step.rows) == 0 {
				continue
			}
			if err := run(ctx, tx, step.cypher, map[string]any{"org": org, "rows": step.rows}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rows: validated inputs as Cypher parameter maps.

func frameworkRows(in []Framework) ([]map[string]any, error) {
	if len(in) > MaxBatch {
		return nil, fmt.Errorf("%w: %d frameworks (at most %d)", ErrInvalid, len(in), MaxBatch)
	}
	rows := make([]map[string]any, 0, len(in))
	for _, f := range in {
		if err := checkID("framework id", f.ID); err != nil {
			return nil, err
		}
		if err := checkText(f.Key, f.Name, f.Version); err != nil {
			return nil, err
		}
		rows = append(rows, map[string]any{"id": f.ID, "key": f.Key, "name": f.Name, "version": f.Version})
	}
	return rows, nil
}

func requirementRows(in []Requirement) ([]map[string]any, error) {
	if len(in) > MaxBatch {
		return nil, fmt.Errorf("%w: %d requirements (at most %d)", ErrInvalid, len(in), MaxBatch)
	}
	rows := make([]map[string]any, 0, len(in))
	for _, r := range in {
		if err := checkIDs(r.ID, r.FrameworkID); err != nil {
			return nil, err
		}
		if err := checkText(r.Code, r.Title); err != nil {
			return nil, err
		}
		rows = append(rows, map[string]any{"id": r.ID, "frameworkId": r.FrameworkID, "code": r.Code, "title": r.Title})
	}
	return rows, nil
}

func projectRows(in []Project) ([]map[string]any, error) {
	if len(in) > MaxBatch {
		return nil, fmt.Errorf("%w: %d projects (at most %d)", ErrInvalid, len(in), MaxBatch)
	}
	rows := make([]map[string]any, 0, len(in))
	for _, pr := range in {
		if err := checkID("project id", pr.ID); err != nil {
			return nil, err
		}
		if err := checkText(pr.Name); err != nil {
			return nil, err
		}
		rows = append(rows, map[string]any{"id": pr.ID, "name": pr.Name, "version": pr.Version})
	}
	return rows, nil
}

func controlRows(in []Control) ([]map[string]any, error) {
	if len(in) > MaxBatch {
		return nil, fmt.Errorf("%w: %d controls (at most %d)", ErrInvalid, len(in), MaxBatch)
	}
	rows := make([]map[string]any, 0, len(in))
	for _, c := range in {
		if err := checkIDs(c.ID, c.ProjectID); err != nil {
			return nil, err
		}
		if err := checkText(c.Code, c.Title, c.Status); err != nil {
			return nil, err
		}
		reqs, err := idList("requirement ids", c.RequirementIDs)
		if err != nil {
			return nil, err
		}
		rows = append(rows, map[string]any{
			"id": c.ID, "projectId": c.ProjectID, "code": c.Code, "title": c.Title, "status": c.Status,
			"requirementIds": reqs, "version": c.Version,
		})
	}
	return rows, nil
}

func evidenceRows(in []Evidence) ([]map[string]any, error) {
	if len(in) > MaxBatch {
		return nil, fmt.Errorf("%w: %d evidence (at most %d)", ErrInvalid, len(in), MaxBatch)
	}
	rows := make([]map[string]any, 0, len(in))
	for _, e := range in {
		if err := checkID("evidence id", e.ID); err != nil {
			return nil, err
		}
		if err := checkText(e.Title); err != nil {
			return nil, err
		}
		switch e.Status {
		case EvidencePending, EvidenceAccepted, EvidenceRejected:
		default:
			return nil, fmt.Errorf("%w: evidence status %q", ErrInvalid, e.Status)
		}
		controls, err := idList("control ids", e.ControlIDs)
		if err != nil {
			return nil, err
		}
		var expires any
		if e.ExpiresAt != nil {
			// UTC, truncated to the microsecond PostgreSQL keeps, so both paths agree.
			expires = e.ExpiresAt.UTC().Truncate(time.Microsecond)
		}
		rows = append(rows, map[string]any{
			"id": e.ID, "title": e.Title, "status": e.Status, "expiresAt": expires,
			"controlIds": controls, "version": e.Version,
		})
	}
	return rows, nil
}

// idList validates ids; nil stays nil (a Cypher null: "leave the links alone").
func idList(what string, ids []string) (any, error) {
	if ids == nil {
		return nil, nil
	}
	if len(ids) > MaxLinks {
		return nil, fmt.Errorf("%w: %d %s (at most %d)", ErrInvalid, len(ids), what, MaxLinks)
	}
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		if err := checkID(what, id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func checkID(what, id string) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("%w: %s must be 1 to %d bytes", ErrInvalid, what, MaxIDLen)
	}
	return nil
}

func checkIDs(ids ...string) error {
	for _, id := range ids {
		if err := checkID("id", id); err != nil {
			return err
		}
	}
	return nil
}

func checkText(texts ...string) error {
	for _, s := range texts {
		if len(s) > MaxTextLen {
			return fmt.Errorf("%w: text of %d bytes (at most %d)", ErrInvalid, len(s), MaxTextLen)
		}
	}
	return nil
}
