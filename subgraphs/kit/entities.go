package kit

import (
	"context"
	"fmt"
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
