package store

import (
	"context"
	"crypto/md5"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/studio-platform/studio/subgraphs/compliance/graph/model"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Framework keys of the catalog (migrations/0003_catalog.sql).
const (
	FrameworkSOC2     = "SOC2"
	FrameworkISO27001 = "ISO27001"
)

// FrameworkID is the id of the catalog's framework key: the UUID of
// md5('framework:<key>'), as the catalog migration computes it.
func FrameworkID(key string) string { return md5UUID("framework:" + key) }

// RequirementID is the id of requirement code of framework key: the UUID of
// md5('requirement:<key>:<code>').
func RequirementID(key, code string) string { return md5UUID("requirement:" + key + ":" + code) }

func md5UUID(s string) string {
	sum := md5.Sum([]byte(s))
	return uuid.UUID(sum).String()
}

// The catalog is shared by every organization: its reads take the caller's
// organization like every loader's batch function, and ignore it.
const (
	frameworkCols   = "f.id::text, f.key, f.name, f.version, f.description"
	requirementCols = "r.id::text, r.framework_id::text, r.code, r.title"
)

func frameworkFields(f *model.Framework) []any {
	return []any{&f.ID, &f.Key, &f.Name, &f.Version, &f.Description}
}

func requirementFields(r *model.Requirement) []any {
	return []any{&r.ID, &r.FrameworkID, &r.Code, &r.Title}
}

// FrameworksByIDs returns catalog frameworks in key order, nil where there is none. One query.
func (s *Store) FrameworksByIDs(ctx context.Context, _ string, ids []string) ([]*model.Framework, error) {
	rows, err := s.Pool().Query(ctx, "SELECT "+frameworkCols+" FROM frameworks f WHERE f.id = ANY($1::uuid[])", kit.UUIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("query frameworks: %w", err)
	}
	fs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*model.Framework, error) {
		f := new(model.Framework)
		return f, row.Scan(frameworkFields(f)...)
	})
	if err != nil {
		return nil, fmt.Errorf("query frameworks: %w", err)
	}
	return kit.Order(ids, fs, func(f *model.Framework) string { return f.ID }), nil
}

// RequirementsByIDs returns catalog requirements in key order, nil where there is none. One query.
func (s *Store) RequirementsByIDs(ctx context.Context, _ string, ids []string) ([]*model.Requirement, error) {
	rows, err := s.Pool().Query(ctx, "SELECT "+requirementCols+" FROM requirements r WHERE r.id = ANY($1::uuid[])", kit.UUIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("query requirements: %w", err)
	}
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*model.Requirement, error) {
		r := new(model.Requirement)
		return r, row.Scan(requirementFields(r)...)
	})
	if err != nil {
		return nil, fmt.Errorf("query requirements: %w", err)
	}
	return kit.Order(ids, rs, func(r *model.Requirement) string { return r.ID }), nil
}

// catalogKey is the one parent of the whole catalog's page (any uuid will do).
const catalogKey = "00000000-0000-0000-0000-000000000000"

var (
	// The catalog: one parent, no organization.
	allFrameworks = kit.PageQuery{Select: frameworkCols, From: "frameworks f CROSS JOIN (SELECT '" + catalogKey + "'::uuid AS catalog) c",
		Key: "c.catalog", Where: "TRUE", Order: "f.key, f.id"}
	requirementsOfFramework = kit.PageQuery{Select: requirementCols, From: "requirements r", Key: "r.framework_id",
		Where: "TRUE", Order: "r.position, r.id"}
	// An organization's: scoped by $2.
	frameworksOfProject = kit.PageQuery{Select: frameworkCols, From: "project_frameworks pf JOIN frameworks f ON f.id = pf.framework_id",
		Key: "pf.project_id", Where: "pf.org_id = $2::uuid", Order: "f.key, f.id"}
	requirementsOfControl = kit.PageQuery{Select: requirementCols,
		From: "control_requirements cr JOIN requirements r ON r.id = cr.requirement_id JOIN frameworks f ON f.id = r.framework_id",
		Key:  "cr.control_id", Where: "cr.org_id = $2::uuid", Order: "f.key, r.position, r.id"}
)

// Frameworks returns page p of the catalog, by key. One query.
func (s *Store) Frameworks(ctx context.Context, p kit.Page) (*model.FrameworkConnection, error) {
	cs, err := kit.Pages(ctx, s.Pool(), allFrameworks, []kit.PageKey{{ID: catalogKey, Page: p}}, frameworkFields)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// RequirementsByFrameworkIDs returns, per key, a page of its framework's
// requirements in the framework's order. One query.
func (s *Store) RequirementsByFrameworkIDs(ctx context.Context, _ string, keys []kit.PageKey) ([]*model.RequirementConnection, error) {
	return kit.Pages(ctx, s.Pool(), requirementsOfFramework, keys, requirementFields)
}

// FrameworksByProjectIDs returns, per key, a page of the frameworks in its
// project's scope, by key. One query.
func (s *Store) FrameworksByProjectIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.FrameworkConnection, error) {
	return kit.Pages(ctx, s.Pool(), frameworksOfProject, keys, frameworkFields, orgID)
}

// RequirementsByControlIDs returns, per key, a page of the requirements its
// control maps to, by framework key and the framework's order. One query.
func (s *Store) RequirementsByControlIDs(ctx context.Context, orgID string, keys []kit.PageKey) ([]*model.RequirementConnection, error) {
	return kit.Pages(ctx, s.Pool(), requirementsOfControl, keys, requirementFields, orgID)
}

// scoreSQL computes every score of a batch of projects ($1) of organization
// $2 in one statement: for each framework in a project's scope, its number of
// requirements and how many of them are covered — some IMPLEMENTED control of
// the project maps to the requirement and has evidence that is ACCEPTED and
// not expired. The formula is documented on ComplianceScore in the schema.
const scoreSQL = `
SELECT pf.project_id::text, ` + frameworkCols + `,
  (SELECT count(*) FROM requirements r WHERE r.framework_id = f.id) AS total,
  (SELECT count(*) FROM requirements r WHERE r.framework_id = f.id AND EXISTS (
     SELECT 1 FROM control_requirements cr JOIN controls c ON c.id = cr.control_id
     WHERE cr.requirement_id = r.id AND cr.org_id = $2::uuid
       AND c.project_id = pf.project_id AND c.org_id = $2::uuid AND c.status = 'IMPLEMENTED'
       AND EXISTS (SELECT 1 FROM evidence e WHERE e.control_id = c.id AND e.org_id = $2::uuid
                   AND e.status = 'ACCEPTED' AND (e.expires_at IS NULL OR e.expires_at > now())))) AS covered
FROM project_frameworks pf JOIN frameworks f ON f.id = pf.framework_id
WHERE pf.project_id = ANY($1::uuid[]) AND pf.org_id = $2::uuid
ORDER BY pf.project_id, f.key`

// ScoresByProjectIDs returns, per project id, its scores by framework key
// (empty for a project with no framework in scope, or of another
// organization). One query.
func (s *Store) ScoresByProjectIDs(ctx context.Context, orgID string, ids []string) ([][]*model.ComplianceScore, error) {
	rows, err := s.Pool().Query(ctx, scoreSQL, kit.UUIDs(ids), orgID)
	if err != nil {
		return nil, fmt.Errorf("query scores: %w", err)
	}
	scores, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*model.ComplianceScore, error) {
		sc := &model.ComplianceScore{Framework: new(model.Framework)}
		return sc, row.Scan(append(append([]any{&sc.ProjectID}, frameworkFields(sc.Framework)...), &sc.Requirements, &sc.Covered)...)
	})
	if err != nil {
		return nil, fmt.Errorf("query scores: %w", err)
	}
	return kit.Group(ids, scores, func(sc *model.ComplianceScore) string { return sc.ProjectID }), nil
}
