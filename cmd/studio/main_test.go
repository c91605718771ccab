package main

import (
	"os"
	"path/filepath"
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

func TestRouterConfigErrorsAreReported(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "router.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("profile: nope\nunknown_key: 1\n"), 0o600))
	require.Equal(t, 1, run([]string{"router", "--config", bad}))
	require.Equal(t, 1, run([]string{"router", "--config", bad, "--profile", "dev"}))
}
