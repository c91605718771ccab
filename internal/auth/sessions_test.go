package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func sessions(t testing.TB) *auth.Sessions {
	t.Helper()
	s, err := auth.OpenSessions(testenv.Stack(t).RedisURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func signed(t testing.TB, sg *auth.Signer, sub, sid string) string {
	t.Helper()
	tok, err := sg.Sign(auth.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: sub, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}, SessionID: sid, OrgID: "org-1"})
	require.NoError(t, err)
	return tok
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s := sessions(t)
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	sg := auth.NewSigner("k1", key, "")
	v := auth.CheckSessions(sg, s)

	user, other := uuid.NewString(), uuid.NewString()
	a, b, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
	for sid, uid := range map[string]string{a: user, b: user, c: other} {
		require.NoError(t, s.Start(ctx, sid, uid, time.Hour))
	}
	for _, sid := range []string{a, b, c} {
		_, err := v.Verify(ctx, signed(t, sg, user, sid))
		require.NoError(t, err)
	}

	_, err = v.Verify(ctx, signed(t, sg, user, ""))
	require.ErrorIs(t, err, auth.ErrInvalidToken, "a token without sid")
	_, err = v.Verify(ctx, signed(t, sg, user, uuid.NewString()))
	require.ErrorIs(t, err, auth.ErrSessionEnded, "an unknown session")

	// Logout ends one session.
	require.NoError(t, s.End(ctx, a, user))
	_, err = v.Verify(ctx, signed(t, sg, user, a))
	require.ErrorIs(t, err, auth.ErrSessionEnded)
	require.ErrorIs(t, err, auth.ErrInvalidToken)
	require.ErrorIs(t, s.Extend(ctx, a, user, time.Hour), auth.ErrSessionEnded, "an ended session is not revived")
	require.NoError(t, s.Extend(ctx, b, user, time.Hour))

	// Sign out everywhere ends all of the user's, and only theirs.
	n, err := s.EndAll(ctx, user)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = v.Verify(ctx, signed(t, sg, user, b))
	require.ErrorIs(t, err, auth.ErrSessionEnded)
	_, err = v.Verify(ctx, signed(t, sg, other, c))
	require.NoError(t, err)
}

func TestSessionsUnavailableFailsClosed(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	addr := dead.Listener.Addr().String()
	dead.Close() // nothing listens there any more
	s, err := auth.OpenSessions("redis://"+addr+"/0", auth.WithSessionTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer s.Close()
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	sg := auth.NewSigner("k1", key, "")

	_, err = auth.CheckSessions(sg, s).Verify(context.Background(), signed(t, sg, "u", uuid.NewString()))
	require.ErrorIs(t, err, auth.ErrSessionsUnavailable)
	require.True(t, auth.IsUnavailable(err))

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Header.Set("Authorization", "Bearer "+signed(t, sg, "u", uuid.NewString()))
	auth.Middleware(auth.CheckSessions(sg, s))(http.NotFoundHandler()).ServeHTTP(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), `"SERVICE_UNAVAILABLE"`)
}

// BenchmarkSessionAlive is the per-request cost of the session check: one
// EXISTS on the stack's Redis (run with the stack, see the README).
func BenchmarkSessionAlive(b *testing.B) {
	ctx := context.Background()
	s := sessions(b)
	sid := uuid.NewString()
	require.NoError(b, s.Start(ctx, sid, uuid.NewString(), time.Minute))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ok, err := s.Alive(ctx, sid)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}
