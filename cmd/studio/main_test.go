package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHelpIsNotAnError(t *testing.T) {
	require.Equal(t, 0, run([]string{"--help"}))
	require.Equal(t, 0, run([]string{"router", "--help"}))
	require.Equal(t, 0, run([]string{"compose", "-h"}))
	require.Equal(t, 2, run(nil))
	require.Equal(t, 2, run([]string{"nonsense"}))
	require.Equal(t, 1, run([]string{"router", "--no-such-flag"}))
}
