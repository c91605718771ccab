package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// BearerToken extracts the token from the request's Authorization header.
// It returns ErrNoToken when there is no Authorization header and
// ErrInvalidToken when the header is not a "Bearer <token>" credential.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoToken
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", fmt.Errorf("%w: authorization header is not a bearer token", ErrInvalidToken)
	}
	return token, nil
}

// Middleware verifies the bearer token of every request with v and stores the
// claims in the request context (ClaimsFromContext). Requests without an
// Authorization header pass through anonymously (enforcing authentication is
// the job of @authenticated and friends). A bad or expired token is answered
// with 401, a `WWW-Authenticate: Bearer` challenge and a GraphQL error body
// with code UNAUTHENTICATED; when the keys cannot be fetched or the session
// store cannot be asked the answer is 503 SERVICE_UNAVAILABLE (fail closed).
func Middleware(v Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, err := BearerToken(r)
			if errors.Is(err, ErrNoToken) {
				next.ServeHTTP(w, r)
				return
			}
			var claims *Claims
			if err == nil {
				claims, err = v.Verify(r.Context(), token)
			}
			if err != nil {
				WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), claims)))
		})
	}
}

// WriteError answers a request whose token failed verification: 401 for
// client errors (with an RFC 6750 challenge), 503 when keys or sessions are
// unavailable.
// The body is a GraphQL error response; it never includes internal details.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := http.StatusUnauthorized, "UNAUTHENTICATED", ErrorMessage(err)
	if IsUnavailable(err) {
		status, code = http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE"
	}
	if status == http.StatusUnauthorized {
		if errors.Is(err, ErrNoToken) {
			w.Header().Set("WWW-Authenticate", `Bearer`)
		} else {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, msg))
		}
	}
	ct := "application/json; charset=utf-8"
	if strings.Contains(r.Header.Get("Accept"), "application/graphql-response+json") {
		ct = "application/graphql-response+json; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	type gqlErr struct {
		Message    string            `json:"message"`
		Extensions map[string]string `json:"extensions"`
	}
	_ = json.NewEncoder(w).Encode(struct {
		Errors []gqlErr `json:"errors"`
	}{[]gqlErr{{Message: msg, Extensions: map[string]string{"code": code}}}})
}

// ErrorMessage is what a client is told about a token that failed
// verification (never internal details).
func ErrorMessage(err error) string {
	switch {
	case errors.Is(err, ErrExpiredToken):
		return "token expired"
	case errors.Is(err, ErrNoToken):
		return "authentication required"
	case errors.Is(err, ErrSessionEnded):
		return "session ended"
	case IsUnavailable(err):
		return "cannot verify token now, try again later"
	}
	return "invalid token"
}
