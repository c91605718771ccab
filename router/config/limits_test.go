package config

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/router/limits"
)

func TestLimits(t *testing.T) {
	require.Equal(t, limits.Defaults(), Default("").Limits.Resolve())

	c, err := Parse([]byte("limits:\n  max_depth: 0\n  max_cost: 1000\n  default_list_size: 20\n  planning_budget: 5000\n"), env(nil))
	require.NoError(t, err)
	l := c.Limits.Resolve()
	require.Zero(t, l.MaxDepth) // off
	require.Equal(t, float64(1000), l.MaxCost)
	require.Equal(t, 20, l.DefaultListSize)
	require.Equal(t, limits.Defaults().MaxAliases, l.MaxAliases)
	require.Equal(t, 5000, *c.Limits.PlanningBudget)

	_, err = Parse([]byte("limits:\n  max_depth: -1\n  max_cost: -2\n"), env(nil))
	require.ErrorContains(t, err, "limits.max_depth: must not be negative")
	require.ErrorContains(t, err, "limits.max_cost: must not be negative")
}
