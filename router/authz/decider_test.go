package authz

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
)

// policyService stands in for the policy subgraph: it answers authorizeMany with
// the given body builder and records what it was asked.
type policyService struct {
	calls  atomic.Int32
	asked  []string
	header http.Header
	answer func(policies []string) any
}

func (p *policyService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.calls.Add(1)
	var body struct {
		Query     string `json:"query"`
		Variables struct {
			Policies []string `json:"policies"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Query != PolicyQuery {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	p.asked, p.header = body.Variables.Policies, r.Header.Clone()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p.answer(body.Variables.Policies))
}

func decisions(pairs ...any) any {
	var list []any
	for i := 0; i+1 < len(pairs); i += 2 {
		list = append(list, map[string]any{"policy": pairs[i], "allowed": pairs[i+1]})
	}
	return map[string]any{"data": map[string]any{"authorizeMany": list}}
}

func TestHTTPDecider(t *testing.T) {
	svc := &policyService{}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	d := NewHTTPDecider(srv.URL)
	user := &auth.Claims{Email: "a@x.test"}
	ctx := WithAuthorization(context.Background(), "Bearer tok")

	t.Run("one call, token forwarded, unknown answers ignored", func(t *testing.T) {
		svc.calls.Store(0)
		svc.answer = func([]string) any { return decisions("a", true, "b", false, "zzz", true) }
		got, err := d.Decide(ctx, user, []string{"a", "b", "c"})
		require.NoError(t, err)
		require.Equal(t, map[string]bool{"a": true, "b": false}, got)
		require.EqualValues(t, 1, svc.calls.Load())
		require.Equal(t, []string{"a", "b", "c"}, svc.asked)
		require.Equal(t, "Bearer tok", svc.header.Get("Authorization"))
	})
	t.Run("a policy answered twice is denied if either answer denies", func(t *testing.T) {
		svc.answer = func([]string) any { return decisions("a", false, "a", true) }
		got, err := d.Decide(ctx, user, []string{"a"})
		require.NoError(t, err)
		require.False(t, got["a"])
	})
	t.Run("anonymous: no call, nothing allowed", func(t *testing.T) {
		svc.calls.Store(0)
		got, err := d.Decide(ctx, nil, []string{"a"})
		require.NoError(t, err)
		require.Empty(t, got)
		require.EqualValues(t, 0, svc.calls.Load())
	})
	t.Run("GraphQL errors fail", func(t *testing.T) {
		svc.answer = func([]string) any { return map[string]any{"errors": []any{map[string]any{"message": "boom"}}} }
		_, err := d.Decide(ctx, user, []string{"a"})
		require.ErrorIs(t, err, ErrPolicyService)
	})
	t.Run("HTTP errors fail", func(t *testing.T) {
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}))
		t.Cleanup(down.Close)
		_, err := NewHTTPDecider(down.URL).Decide(ctx, user, []string{"a"})
		require.ErrorIs(t, err, ErrPolicyService)
	})
	t.Run("limits", func(t *testing.T) {
		_, err := d.Decide(ctx, user, make([]string, maxPolicies+1))
		require.ErrorIs(t, err, ErrPolicyService)
		_, err = d.Decide(ctx, user, []string{string(make([]byte, maxPolicyLen+1))})
		require.ErrorIs(t, err, ErrPolicyService)
	})
}

func TestDenyAll(t *testing.T) {
	got, err := DenyAll{}.Decide(context.Background(), &auth.Claims{}, []string{"a"})
	require.NoError(t, err)
	require.False(t, got["a"])
}
