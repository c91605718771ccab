package kit

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type row struct{ id, group string }

func TestOrderAndGroup(t *testing.T) {
	rows := []*row{{"b", "x"}, {"a", "y"}, {"c", "x"}}
	got := Order([]string{"a", "zz", "b", "a"}, rows, func(r *row) string { return r.id })
	require.Equal(t, []*row{rows[1], nil, rows[0], rows[1]}, got)

	groups := Group([]string{"x", "none", "y"}, rows, func(r *row) string { return r.group })
	require.Equal(t, [][]*row{{rows[0], rows[2]}, {}, {rows[1]}}, groups)
	require.NotNil(t, groups[1])
}

func TestUUIDs(t *testing.T) {
	const u = "00000000-0000-4000-8000-000000000001"
	require.Equal(t, []string{u}, UUIDs([]string{u, "nope", u, "00000000-0000-4000-8000-00000000000G", "{" + u + "}"}))
	require.True(t, IsUUID(u))
	require.False(t, IsUUID("00000000-0000-4000-8000-00000000000A"))
}
