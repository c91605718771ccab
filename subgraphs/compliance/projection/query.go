package projection

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Scope is what a query looks at: an organization, optionally one of its projects.
type Scope struct {
	OrgID     string
	ProjectID string // "" = every project of the organization
}

func (s Scope) params(now time.Time) (map[string]any, error) {
	if err := checkID("organization id", s.OrgID); err != nil {
		return nil, err
	}
	if len(s.ProjectID) > MaxIDLen {
		return nil, fmt.Errorf("%w: project id longer than %d bytes", ErrInvalid, MaxIDLen)
	}
	return map[string]any{"org": s.OrgID, "project": s.ProjectID, "now": now.UTC()}, nil
}

// Page asks for the First items (default DefaultPageLen, at most MaxPageLen) after the
// cursor After ("" = from the start). Items are ordered by id; a page's Next cursor is
// the last item's id, "" when there is nothing after it.
type Page struct {
	First int
	After string
}

func (pg Page) apply(params map[string]any) (int, error) {
	n := pg.First
	switch {
	case n == 0:
		n = DefaultPageLen
	case n < 0 || n > MaxPageLen:
		return 0, fmt.Errorf("%w: page size %d (1 to %d)", ErrInvalid, n, MaxPageLen)
	}
	if len(pg.After) > MaxIDLen {
		return 0, fmt.Errorf("%w: cursor longer than %d bytes", ErrInvalid, MaxIDLen)
	}
	params["after"] = pg.After
	params["limit"] = n + 1 // one more tells whether there is a next page
	return n, nil
}

// next trims the extra record and returns the cursor of the next page.
func next(recs []*neo4j.Record, n int, id func(*neo4j.Record) string) ([]*neo4j.Record, string) {
	if len(recs) <= n {
		return recs, ""
	}
	recs = recs[:n]
	return recs, id(recs[n-1])
}

// currentEvidence is the Cypher predicate "e counts as current evidence at $now".
const currentEvidence = `(e.status = 'ACCEPTED' AND (e.expiresAt IS NULL OR e.expiresAt > $now))`

// Why a control lacks current evidence.
const (
	GapNoEvidence  = "NO_EVIDENCE"  // no evidence at all
	GapExpired     = "EXPIRED"      // every piece of evidence has expired
	GapNotAccepted = "NOT_ACCEPTED" // some evidence has not expired but none is accepted
)

// ControlGap is a control without current evidence.
type ControlGap struct {
	ControlID string
	ProjectID string
	Code      string
	Title     string
	Evidence  int // pieces of evidence linked
	Expired   int // of which expired
	Reason    string
}

// ControlsWithoutCurrentEvidence lists the scope's controls that have no current
// evidence: none at all, all expired, or none accepted.
func (p *Projector) ControlsWithoutCurrentEvidence(ctx context.Context, scope Scope, page Page) ([]ControlGap, string, error) {
	params, err := scope.params(p.now())
	if err != nil {
		return nil, "", err
	}
	n, err := page.apply(params)
	if err != nil {
		return nil, "", err
	}
	recs, err := p.read(ctx, `
MATCH (c:Control {orgId: $org})
WHERE ($project = '' OR c.projectId = $project) AND c.id > $after
  AND NOT EXISTS { MATCH (c)-[:SUPPORTED_BY]->(e:Evidence {orgId: $org}) WHERE `+currentEvidence+` }
OPTIONAL MATCH (c)-[:SUPPORTED_BY]->(e:Evidence {orgId: $org})
WITH c, count(e) AS total, count(CASE WHEN e.expiresAt <= $now THEN 1 END) AS expired
RETURN c.id AS id, c.projectId AS project, c.code AS code, c.title AS title, total, expired
ORDER BY c.id
LIMIT $limit`, params)
	if err != nil {
		return nil, "", err
	}
	recs, cursor := next(recs, n, recordID)
	out := make([]ControlGap, 0, len(recs))
	for _, r := range recs {
		g := ControlGap{
			ControlID: str(r, "id"), ProjectID: str(r, "project"), Code: str(r, "code"), Title: str(r, "title"),
			Evidence: integer(r, "total"), Expired: integer(r, "expired"),
		}
		switch {
		case g.Evidence == 0:
			g.Reason = GapNoEvidence
		case g.Expired == g.Evidence:
			g.Reason = GapExpired
		default:
			g.Reason = GapNotAccepted
		}
		out = append(out, g)
	}
	return out, cursor, nil
}

// AffectedRequirement is a requirement reached from an evidence through the controls it
// supports.
type AffectedRequirement struct {
	FrameworkID   string
	FrameworkKey  string
	RequirementID string
	Code          string
	Title         string
	ControlIDs    []string // the scope's controls through which the evidence reaches it
	// LosesCoverage: the evidence is current now and, once it expires, no control of the
	// scope satisfying the requirement has current evidence.
	LosesCoverage bool
}

// FrameworkImpact summarises an evidence's expiry for one framework.
type FrameworkImpact struct {
	FrameworkID  string
	Key          string
	Name         string
	Requirements int // requirements the evidence reaches
	LoseCoverage int // of which would lose coverage
}

// ExpiryImpact is what would be affected if an evidence expired.
type ExpiryImpact struct {
	Frameworks   []FrameworkImpact     // every framework reached (ordered by id)
	Requirements []AffectedRequirement // one page, ordered by requirement id
	Next         string                // cursor of the next page of requirements
}

// impactMatch binds f, r, controls (ids) and losesCoverage for the evidence $evidence.
const impactMatch = `
MATCH (ev:Evidence {orgId: $org, id: $evidence})<-[:SUPPORTED_BY]-(c:Control {orgId: $org})-[:SATISFIES]->(r:Requirement)<-[:HAS]-(f:Framework)
WHERE ($project = '' OR c.projectId = $project)
WITH ev, f, r, collect(DISTINCT c.id) AS controls
WITH f, r, controls,
  (ev.status = 'ACCEPTED' AND (ev.expiresAt IS NULL OR ev.expiresAt > $now)) AND NOT EXISTS {
    MATCH (r)<-[:SATISFIES]-(c2:Control {orgId: $org})-[:SUPPORTED_BY]->(e:Evidence {orgId: $org})
    WHERE ($project = '' OR c2.projectId = $project) AND e.id <> $evidence AND ` + currentEvidence + `
  } AS losesCoverage`

// ExpiryImpact tells which frameworks and requirements an evidence reaches (through the
// scope's controls it supports) and which of them would be left without current
// evidence if it expired.
func (p *Projector) ExpiryImpact(ctx context.Context, scope Scope, evidenceID string, page Page) (ExpiryImpact, error) {
	params, err := scope.params(p.now())
	if err != nil {
		return ExpiryImpact{}, err
	}
	if err := checkID("evidence id", evidenceID); err != nil {
		return ExpiryImpact{}, err
	}
	params["evidence"] = evidenceID
	n, err := page.apply(params)
	if err != nil {
		return ExpiryImpact{}, err
	}
	var out ExpiryImpact
	fws, err := p.read(ctx, impactMatch+`
RETURN f.id AS id, f.key AS key, f.name AS name, count(r) AS total, count(CASE WHEN losesCoverage THEN 1 END) AS losing
ORDER BY f.id
LIMIT $maxFrameworks`, withParam(params, "maxFrameworks", MaxPageLen))
	if err != nil {
		return ExpiryImpact{}, err
	}
	for _, r := range fws {
		out.Frameworks = append(out.Frameworks, FrameworkImpact{
			FrameworkID: str(r, "id"), Key: str(r, "key"), Name: str(r, "name"),
			Requirements: integer(r, "total"), LoseCoverage: integer(r, "losing"),
		})
	}
	reqs, err := p.read(ctx, impactMatch+`
WITH f, r, controls, losesCoverage WHERE r.id > $after
RETURN f.id AS framework, f.key AS key, r.id AS id, r.code AS code, r.title AS title, controls, losesCoverage
ORDER BY r.id
LIMIT $limit`, params)
	if err != nil {
		return ExpiryImpact{}, err
	}
	reqs, out.Next = next(reqs, n, recordID)
	for _, r := range reqs {
		lc, _ := r.Get("losesCoverage")
		out.Requirements = append(out.Requirements, AffectedRequirement{
			FrameworkID: str(r, "framework"), FrameworkKey: str(r, "key"),
			RequirementID: str(r, "id"), Code: str(r, "code"), Title: str(r, "title"),
			ControlIDs: sorted(strs(r, "controls")), LosesCoverage: lc == true,
		})
	}
	return out, nil
}

// SharedControl is a control that satisfies requirements of two frameworks.
type SharedControl struct {
	ControlID string
	ProjectID string
	Code      string
	Title     string
	CodesA    []string // requirement codes of framework A it satisfies (sorted)
	CodesB    []string // and of framework B
}

// ControlsSatisfyingBoth lists the scope's controls that satisfy at least one
// requirement of framework frameworkA and one of frameworkB (framework ids).
func (p *Projector) ControlsSatisfyingBoth(ctx context.Context, scope Scope, frameworkA, frameworkB string, page Page) ([]SharedControl, string, error) {
	params, err := scope.params(p.now())
	if err != nil {
		return nil, "", err
	}
	if err := checkIDs(frameworkA, frameworkB); err != nil {
		return nil, "", err
	}
	params["a"], params["b"] = frameworkA, frameworkB
	n, err := page.apply(params)
	if err != nil {
		return nil, "", err
	}
	recs, err := p.read(ctx, `
MATCH (c:Control {orgId: $org})
WHERE ($project = '' OR c.projectId = $project) AND c.id > $after
MATCH (c)-[:SATISFIES]->(ra:Requirement)<-[:HAS]-(:Framework {id: $a})
WITH c, collect(DISTINCT ra.code) AS codesA
MATCH (c)-[:SATISFIES]->(rb:Requirement)<-[:HAS]-(:Framework {id: $b})
WITH c, codesA, collect(DISTINCT rb.code) AS codesB
RETURN c.id AS id, c.projectId AS project, c.code AS code, c.title AS title,
  codesA, codesB
ORDER BY c.id
LIMIT $limit`, params)
	if err != nil {
		return nil, "", err
	}
	recs, cursor := next(recs, n, recordID)
	out := make([]SharedControl, 0, len(recs))
	for _, r := range recs {
		out = append(out, SharedControl{
			ControlID: str(r, "id"), ProjectID: str(r, "project"), Code: str(r, "code"), Title: str(r, "title"),
			CodesA: sorted(strs(r, "codesA")), CodesB: sorted(strs(r, "codesB")),
		})
	}
	return out, cursor, nil
}

// Coverage is one framework's coverage in a scope.
type Coverage struct {
	FrameworkID  string
	Key          string
	Name         string
	Requirements int // all requirements of the framework
	Covered      int // requirements with at least one control of the scope with current evidence
}

// Ratio is Covered / Requirements (0 for a framework without requirements).
func (c Coverage) Ratio() float64 {
	if c.Requirements == 0 {
		return 0
	}
	return float64(c.Covered) / float64(c.Requirements)
}

// Coverage reports, for every framework that one of the scope's controls maps to, the
// share of its requirements covered by current evidence.
func (p *Projector) Coverage(ctx context.Context, scope Scope, page Page) ([]Coverage, string, error) {
	params, err := scope.params(p.now())
	if err != nil {
		return nil, "", err
	}
	n, err := page.apply(params)
	if err != nil {
		return nil, "", err
	}
	recs, err := p.read(ctx, `
MATCH (f:Framework)-[:HAS]->(:Requirement)<-[:SATISFIES]-(c:Control {orgId: $org})
WHERE ($project = '' OR c.projectId = $project) AND f.id > $after
WITH DISTINCT f
ORDER BY f.id
LIMIT $limit
MATCH (f)-[:HAS]->(r:Requirement)
WITH f, r, EXISTS {
  MATCH (r)<-[:SATISFIES]-(c:Control {orgId: $org})-[:SUPPORTED_BY]->(e:Evidence {orgId: $org})
  WHERE ($project = '' OR c.projectId = $project) AND `+currentEvidence+`
} AS covered
RETURN f.id AS id, f.key AS key, f.name AS name, count(r) AS total, count(CASE WHEN covered THEN 1 END) AS coveredCount
ORDER BY f.id`, params)
	if err != nil {
		return nil, "", err
	}
	recs, cursor := next(recs, n, recordID)
	out := make([]Coverage, 0, len(recs))
	for _, r := range recs {
		out = append(out, Coverage{
			FrameworkID: str(r, "id"), Key: str(r, "key"), Name: str(r, "name"),
			Requirements: integer(r, "total"), Covered: integer(r, "coveredCount"),
		})
	}
	return out, cursor, nil
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

func withParam(params map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(params)+1)
	for key, val := range params {
		out[key] = val
	}
	out[k] = v
	return out
}

func recordID(r *neo4j.Record) string { return str(r, "id") }

func str(r *neo4j.Record, key string) string {
	v, _ := r.Get(key)
	s, _ := v.(string)
	return s
}

func integer(r *neo4j.Record, key string) int {
	v, _ := r.Get(key)
	n, _ := v.(int64)
	return int(n)
}

func strs(r *neo4j.Record, key string) []string {
	v, _ := r.Get(key)
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
