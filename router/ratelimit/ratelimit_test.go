package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newLimiter(t testing.TB) *Limiter {
	t.Helper()
	o, err := redis.ParseURL(testenv.Stack(t).RedisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(o)
	t.Cleanup(func() { _ = rdb.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return New(rdb, WithPrefix("test:"+hex.EncodeToString(b)+":"), WithTimeout(2*time.Second))
}

func TestGCRABurstThenRefill(t *testing.T) {
	l := newLimiter(t)
	ctx := context.Background()
	lim := Limit{Policy: "p", Key: "k", Rate: Rate{Requests: 3, Per: 3 * time.Second, Burst: 3}}
	for i := range 3 {
		d, err := l.Check(ctx, lim)
		require.NoError(t, err)
		require.True(t, d.Allowed, i)
		require.Equal(t, 2-i, d.States[0].Remaining)
	}
	d, err := l.Check(ctx, lim)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.Equal(t, []string{"p"}, d.Exceeded)
	require.InDelta(t, time.Second, d.RetryAfter, float64(100*time.Millisecond))
	require.InDelta(t, 3*time.Second, d.States[0].Reset, float64(100*time.Millisecond))
	// One emission interval later, one more fits (poll: the clock is Redis's).
	require.Eventually(t, func() bool {
		d, err := l.Check(ctx, lim)
		return err == nil && d.Allowed
	}, 3*time.Second, 50*time.Millisecond)
}

func TestAllOrNothingAndCost(t *testing.T) {
	l := newLimiter(t)
	ctx := context.Background()
	small := Limit{Policy: "small", Key: "a", Rate: Rate{Requests: 1, Per: time.Hour, Burst: 1}}
	big := Limit{Policy: "big", Key: "a", Rate: Rate{Requests: 10, Per: time.Hour, Burst: 10}}
	d, err := l.Check(ctx, small, big)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.Equal(t, 9, d.States[1].Remaining)
	// small refuses: big is not charged.
	d, err = l.Check(ctx, small, big)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.Equal(t, []string{"small"}, d.Exceeded)
	big.Cost = 9
	d, err = l.Check(ctx, big)
	require.NoError(t, err)
	require.True(t, d.Allowed, "big kept 9 units")
	require.Equal(t, 0, d.States[0].Remaining)
	// A cost above the burst never fits.
	huge := Limit{Policy: "fresh", Key: "b", Rate: Rate{Requests: 5, Per: time.Hour, Burst: 5}, Cost: 6}
	d, err = l.Check(ctx, huge)
	require.NoError(t, err)
	require.False(t, d.Allowed)
}

func TestHeaders(t *testing.T) {
	h := http.Header{}
	Headers(h, Decision{Allowed: false, RetryAfter: 1500 * time.Millisecond, States: []State{
		{Policy: "user", Rate: Rate{Requests: 600, Per: time.Minute}, Remaining: 0, Reset: 2 * time.Second},
		{Policy: "ip", Rate: Rate{Requests: 1200, Per: time.Minute}, Remaining: 7, Reset: 300 * time.Millisecond},
	}})
	require.Equal(t, `"user";q=600;w=60, "ip";q=1200;w=60`, h.Get("RateLimit-Policy"))
	require.Equal(t, `"user";r=0;t=2, "ip";r=7;t=1`, h.Get("RateLimit"))
	require.Equal(t, "2", h.Get("Retry-After"))
}

func TestLoginAttempts(t *testing.T) {
	f := LoginField{Operation: ast.Mutation, Field: "login", Argument: "email"}
	count := func(q, op string, vars map[string]json.RawMessage) []string {
		t.Helper()
		a, err := f.LoginAttempts(q, op, vars)
		require.NoError(t, err)
		return a
	}
	require.Empty(t, count(`{ me { id } }`, "", nil))
	require.Empty(t, count(`query { login(email: "a") }`, "", nil), "only mutations")
	one := count(`mutation { login(email: "A@x.io ", password: "p") { t } }`, "", nil)
	require.Len(t, one, 1)
	require.Equal(t, one, count(`mutation($e: String!) { login(email: $e, password: "p") { t } }`, "",
		map[string]json.RawMessage{"e": json.RawMessage(`"a@x.io"`)}), "normalized, from a variable")
	require.Len(t, count(`mutation { a: login(email: "a") { t } b: login(email: "a") { t } ... on Mutation { c: login(email: "b") { t } } ...F ...F }
		fragment F on Mutation { d: login(email: "c") { t } }`, "", nil), 4)
	require.Len(t, count(`mutation A { login(email: "a") { t } } mutation B { x: login(email: "a") { t } y: login(email: "a") { t } }`, "B", nil), 2)
	require.Len(t, count(`mutation A { login(email: "a") { t } } mutation B { x: login(email: "a") { t } }`, "", nil), 2)
	require.Equal(t, []string{""}, count(`mutation { login(password: "p") { t } }`, "", nil))
	_, err := f.LoginAttempts(`mutation { login(`, "", nil)
	require.ErrorIs(t, err, ErrLoginDocument)
}

// BenchmarkCheck is one request's round trip: an IP and a user limit in one
// script call.
func BenchmarkCheck(b *testing.B) {
	l := newLimiter(b)
	ctx := context.Background()
	rate := Rate{Requests: 1 << 30, Per: time.Second, Burst: 1 << 30}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Check(ctx, Limit{Policy: "ip", Key: "198.51.100.1", Rate: rate}, Limit{Policy: "user", Key: "u1", Rate: rate}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
