package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type errorBody struct {
	Errors []struct {
		Message    string            `json:"message"`
		Extensions map[string]string `json:"extensions"`
	} `json:"errors"`
}

func TestMiddleware(t *testing.T) {
	s := newSigner(t, "k1")
	srv := newJWKSServer(t, s)
	v := NewJWKSVerifier(srv.URL, WithLeeway(0))

	var seen *Claims
	var called bool
	h := Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		seen, _ = ClaimsFromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	do := func(authz string) *httptest.ResponseRecorder {
		called, seen = false, nil
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}

	t.Run("anonymous passes through", func(t *testing.T) {
		rec := do("")
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.True(t, called)
		require.Nil(t, seen)
	})
	t.Run("valid token puts claims in context", func(t *testing.T) {
		tok, err := s.Sign(claims(time.Hour))
		require.NoError(t, err)
		rec := do("Bearer " + tok)
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.NotNil(t, seen)
		require.Equal(t, "user-1", seen.Subject)
	})
	unauthorized := func(t *testing.T, rec *httptest.ResponseRecorder, msg string) {
		t.Helper()
		require.False(t, called, "next handler must not run")
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
		require.Contains(t, rec.Header().Get("Content-Type"), "application/json")
		var body errorBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.Len(t, body.Errors, 1)
		require.Equal(t, msg, body.Errors[0].Message)
		require.Equal(t, "UNAUTHENTICATED", body.Errors[0].Extensions["code"])
	}
	t.Run("expired token", func(t *testing.T) {
		tok, err := s.Sign(claims(-time.Minute))
		require.NoError(t, err)
		unauthorized(t, do("Bearer "+tok), "token expired")
	})
	t.Run("bad token", func(t *testing.T) {
		unauthorized(t, do("Bearer nope"), "invalid token")
	})
	t.Run("not a bearer credential", func(t *testing.T) {
		unauthorized(t, do("Basic dXNlcjpwYXNz"), "invalid token")
		unauthorized(t, do("Bearer "), "invalid token")
	})
}

type failingVerifier struct{ err error }

func (f failingVerifier) Verify(context.Context, string) (*Claims, error) { return nil, f.err }

func TestMiddlewareKeysUnavailable(t *testing.T) {
	h := Middleware(failingVerifier{ErrKeysUnavailable})(http.NotFoundHandler())
	r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	r.Header.Set("Authorization", "Bearer x")
	r.Header.Set("Accept", "application/graphql-response+json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Header().Get("Content-Type"), "application/graphql-response+json")
	var body errorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "SERVICE_UNAVAILABLE", body.Errors[0].Extensions["code"])
}
