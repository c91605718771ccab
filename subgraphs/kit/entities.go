package kit

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// FindMany is the body of every batched entity resolver (gqlgen's
// FindMany<Type>By<Keys>): the caller's claims (UNAUTHENTICATED without a
// token), the representations' ids, then ONE store call scoped by the caller's
// organization. load returns one item per id in id order, nil where the id is
// unknown, malformed or another organization's (see Order and UUIDs).
//
//	return kit.FindMany(ctx, reps, func(r *model.UserByIDsInput) string { return r.ID }, r.Store.UsersByIDs)
func FindMany[R, T any](ctx context.Context, reps []*R, id func(*R) string,
	load func(ctx context.Context, orgID string, ids []string) ([]*T, error)) ([]*T, error) {
	c, err := Claims(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(reps))
	for i, r := range reps {
		ids[i] = id(r)
	}
	out, err := load(ctx, c.OrgID, ids)
	if err != nil {
		return nil, err
	}
	if len(out) != len(ids) {
		return nil, fmt.Errorf("kit: entity load returned %d items for %d representations", len(out), len(ids))
	}
	return out, nil
}

// One is the body of a root field that fetches one row by id: the row of
// the caller's organization (UNAUTHENTICATED without a token), nil when it
// is absent, malformed or another organization's. load is a store's
// XByIDs (one id here).
func One[T any](ctx context.Context, id string, load func(ctx context.Context, orgID string, ids []string) ([]*T, error)) (*T, error) {
	c, err := Claims(ctx)
	if err != nil {
		return nil, err
	}
	id = strings.ToLower(id)
	if !IsUUID(id) {
		return nil, nil
	}
	rows, err := load(ctx, c.OrgID, []string{id})
	if err != nil {
		return nil, err
	}
	return rows[0], nil
}

// Stubs answers representations of other subgraphs' entities that this
// subgraph knows by id only (and extends with fields of its own).
func Stubs[R, T any](reps []*R, stub func(*R) *T) []*T {
	out := make([]*T, len(reps))
	for i, r := range reps {
		out[i] = stub(r)
	}
	return out
}

// ByIDs returns the rows of table with the given ids in orgID, in key order,
// nil where there is none, with ONE query: cols are scanned by fields, id
// gives a row's id (the body of a store's XByIDs).
func ByIDs[T any](ctx context.Context, db Querier, cols, table string, fields func(*T) []any, id func(*T) string, orgID string, ids []string) ([]*T, error) {
	rows, err := db.Query(ctx, "SELECT "+cols+" FROM "+table+" WHERE id = ANY($1::uuid[]) AND org_id = $2::uuid", UUIDs(ids), orgID)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", table, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*T, error) {
		t := new(T)
		return t, row.Scan(fields(t)...)
	})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", table, err)
	}
	return Order(ids, items, id), nil
}
