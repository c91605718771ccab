package kit

import "github.com/google/uuid"

// Order returns, for each key, the item whose key is that key, or nil when
// there is none. Duplicate keys get the same item. It puts rows fetched by a
// batch of keys back into key order: the shape entity resolvers and loaders return.
func Order[K comparable, V any](keys []K, items []*V, key func(*V) K) []*V {
	byKey := make(map[K]*V, len(items))
	for _, it := range items {
		byKey[key(it)] = it
	}
	out := make([]*V, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

// Group returns, for each key, the items whose group key is that key (never
// nil: an empty slice when there are none), keeping the items' order.
func Group[K comparable, V any](keys []K, items []*V, key func(*V) K) [][]*V {
	byKey := make(map[K][]*V, len(keys))
	for _, it := range items {
		k := key(it)
		byKey[k] = append(byKey[k], it)
	}
	out := make([][]*V, len(keys))
	for i, k := range keys {
		if g := byKey[k]; g != nil {
			out[i] = g
		} else {
			out[i] = []*V{}
		}
	}
	return out
}

// UUIDs returns the distinct keys that are well-formed UUIDs (in canonical
// form), so a query never fails on a malformed id: such ids simply match nothing.
func UUIDs(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if IsUUID(k) {
			out = append(out, k)
		}
	}
	return out
}

// IsUUID reports whether s is a UUID in canonical (lower-case, hyphenated) form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}
