package projection

import (
	"context"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// OpenDriver returns a Neo4j driver for rawURL (as Open reads it) for
// callers that share one driver between the projection and their own
// nodes (the ai subgraph's chunk embeddings).
func OpenDriver(rawURL string) (neo4j.DriverWithContext, error) {
	target, auth, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	drv, err := neo4j.NewDriverWithContext(target, auth)
	if err != nil {
		return nil, fmt.Errorf("projection: neo4j driver: %w", err)
	}
	return drv, nil
}

// The graph read as context by other subgraphs (the ai subgraph grounds its
// answers in it). Every query is scoped by organization; nodes that are
// only placeholders (referenced before their event arrived) are left out.

// EvidenceContext is an evidence item as context.
type EvidenceContext struct {
	ID, Title, Status string
	// Current: ACCEPTED and not expired.
	Current bool
}

// ControlContext is a control as context, with its evidence.
type ControlContext struct {
	ID, ProjectID, Code, Title, Status string
	Evidence                           []EvidenceContext
}

// MaxContextControls bounds ProjectControls.
const MaxContextControls = 500

const controlContextReturn = `
OPTIONAL MATCH (c)-[:SUPPORTED_BY]->(e:Evidence {orgId: $org}) WHERE e.title IS NOT NULL
WITH c, e ORDER BY e.id
WITH c, collect(CASE WHEN e IS NULL THEN NULL ELSE {id: e.id, title: e.title, status: e.status,
  current: ` + currentEvidence + `} END) AS evidence
RETURN c.id AS id, c.projectId AS project, c.code AS code, c.title AS title, c.status AS status, evidence
ORDER BY c.code, c.id`

// ProjectControls returns up to limit (at most MaxContextControls) controls
// of scope's project (required), by code, each with its evidence.
func (p *Projector) ProjectControls(ctx context.Context, scope Scope, limit int) ([]ControlContext, error) {
	params, err := scope.params(p.now())
	if err != nil {
		return nil, err
	}
	if scope.ProjectID == "" || limit <= 0 || limit > MaxContextControls {
		return nil, fmt.Errorf("%w: a project and 1 to %d controls", ErrInvalid, MaxContextControls)
	}
	params["limit"] = limit
	recs, err := p.read(ctx, `
MATCH (c:Control {orgId: $org}) WHERE c.projectId = $project AND c.code IS NOT NULL
WITH c ORDER BY c.code, c.id LIMIT $limit`+controlContextReturn, params)
	if err != nil {
		return nil, err
	}
	return controlContexts(recs), nil
}

// Control returns control id of the scope's organization with its evidence
// (nil when absent).
func (p *Projector) Control(ctx context.Context, scope Scope, id string) (*ControlContext, error) {
	params, err := scope.params(p.now())
	if err != nil {
		return nil, err
	}
	if err := checkID("control id", id); err != nil {
		return nil, err
	}
	params["id"] = id
	recs, err := p.read(ctx, `
MATCH (c:Control {orgId: $org, id: $id}) WHERE c.code IS NOT NULL AND ($project = '' OR c.projectId = $project)`+controlContextReturn, params)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return &controlContexts(recs)[0], nil
}

// HasProject reports whether the scope's project exists in its organization.
func (p *Projector) HasProject(ctx context.Context, scope Scope) (bool, error) {
	params, err := scope.params(p.now())
	if err != nil {
		return false, err
	}
	recs, err := p.read(ctx, `MATCH (p:Project {orgId: $org, id: $project}) WHERE p.name IS NOT NULL RETURN p.id AS id`, params)
	return len(recs) > 0, err
}

// RequirementContext is a framework requirement with the scope's controls
// that satisfy it.
type RequirementContext struct {
	ID, Code, Title string
	Controls        []ControlContext
}

// FrameworkContext is a framework with its requirements.
type FrameworkContext struct {
	ID, Key, Name, Version string
	Requirements           []RequirementContext
}

// Framework returns framework id with every requirement (by code) and, for
// each, the controls of the scope's project (required) mapped to it with
// their evidence; nil when the framework is unknown.
func (p *Projector) Framework(ctx context.Context, scope Scope, id string) (*FrameworkContext, error) {
	params, err := scope.params(p.now())
	if err != nil {
		return nil, err
	}
	if err := checkID("framework id", id); err != nil {
		return nil, err
	}
	params["id"] = id
	recs, err := p.read(ctx, `
MATCH (f:Framework {id: $id})
OPTIONAL MATCH (f)-[:HAS]->(r:Requirement)
OPTIONAL MATCH (r)<-[:SATISFIES]-(c:Control {orgId: $org}) WHERE c.projectId = $project AND c.code IS NOT NULL
WITH f, r, c ORDER BY c.code
WITH f, r, collect(CASE WHEN c IS NULL THEN NULL ELSE {id: c.id, code: c.code, title: c.title, status: c.status} END) AS controls
ORDER BY r.code
RETURN f.key AS key, f.name AS name, f.version AS version,
  collect(CASE WHEN r IS NULL THEN NULL ELSE {id: r.id, code: r.code, title: r.title, controls: controls} END) AS requirements`, params)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	r := recs[0]
	f := &FrameworkContext{ID: id, Key: str(r, "key"), Name: str(r, "name"), Version: str(r, "version")}
	for _, req := range maps(r, "requirements") {
		rc := RequirementContext{ID: mstr(req, "id"), Code: mstr(req, "code"), Title: mstr(req, "title")}
		list, _ := req["controls"].([]any)
		for _, x := range list {
			if c, ok := x.(map[string]any); ok {
				rc.Controls = append(rc.Controls, ControlContext{ID: mstr(c, "id"), ProjectID: scope.ProjectID, Code: mstr(c, "code"),
					Title: mstr(c, "title"), Status: mstr(c, "status")})
			}
		}
		f.Requirements = append(f.Requirements, rc)
	}
	return f, nil
}

func controlContexts(recs []*neo4j.Record) []ControlContext {
	out := make([]ControlContext, 0, len(recs))
	for _, r := range recs {
		c := ControlContext{ID: str(r, "id"), ProjectID: str(r, "project"), Code: str(r, "code"), Title: str(r, "title"), Status: str(r, "status")}
		for _, e := range maps(r, "evidence") {
			cur, _ := e["current"].(bool)
			c.Evidence = append(c.Evidence, EvidenceContext{ID: mstr(e, "id"), Title: mstr(e, "title"), Status: mstr(e, "status"), Current: cur})
		}
		out = append(out, c)
	}
	return out
}

func maps(r *neo4j.Record, key string) []map[string]any {
	v, _ := r.Get(key)
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func mstr(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// Evidence returns evidence id of the scope's organization (nil when absent).
func (p *Projector) Evidence(ctx context.Context, scope Scope, id string) (*EvidenceContext, error) {
	params, err := scope.params(p.now())
	if err != nil {
		return nil, err
	}
	if err := checkID("evidence id", id); err != nil {
		return nil, err
	}
	params["id"] = id
	recs, err := p.read(ctx, `MATCH (e:Evidence {orgId: $org, id: $id}) WHERE e.title IS NOT NULL
RETURN e.id AS id, e.title AS title, e.status AS status, `+currentEvidence+` AS current`, params)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	cur, _ := recs[0].Get("current")
	b, _ := cur.(bool)
	return &EvidenceContext{ID: str(recs[0], "id"), Title: str(recs[0], "title"), Status: str(recs[0], "status"), Current: b}, nil
}
