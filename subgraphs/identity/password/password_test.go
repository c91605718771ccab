package password

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHashAndCheck(t *testing.T) {
	h, err := Hash("studio-demo")
	require.NoError(t, err)
	require.NoError(t, Check("studio-demo", h))
	require.ErrorIs(t, Check("wrong", h), ErrMismatch)
	h2, err := Hash("studio-demo")
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "salted")
	require.ErrorIs(t, Check("x", "$bcrypt$nope"), ErrMalformed)
}
