// Package sso signs users in to identity through external identity
// providers: OpenID Connect (Google, Microsoft, any discoverable provider;
// authorization code flow with PKCE S256, state and nonce) and SAML 2.0 (the
// platform as service provider, one identity provider per organization). A
// sign-in ends like login: a new session with its access and refresh tokens
// (Accounts.SignInExternal).
//
// Routes (Handler.Routes):
//
//	GET  /auth/oidc/{provider}/start     302 to the provider
//	GET  /auth/oidc/{provider}/callback  the provider's answer → tokens (JSON)
//	GET  /auth/saml/{org}/metadata       the SP metadata for organization org's IdP
//	GET  /auth/saml/{org}/start          302 to org's IdP with an AuthnRequest
//	POST /auth/saml/{org}/acs            the IdP's response → tokens (JSON)
//
// A started sign-in is kept in Redis for PendingTTL under its state (OIDC
// state, SAML RelayState), bound to the starting browser by an HttpOnly
// cookie, and taken at most once.
package sso

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/studio-platform/studio/subgraphs/identity/graph/model"
	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// External is who a provider says signed in.
type External = store.ExternalIdentity

// Accounts signs in the platform user an external identity belongs to.
type Accounts interface {
	// SignInExternal returns the tokens of a new session for ext's user;
	// store.ErrNoAccount and store.ErrEmailNotVerified when there is none
	// it may sign in as.
	SignInExternal(ctx context.Context, ext External) (*model.AuthPayload, error)
}

// Config configures Handler.
type Config struct {
	// PublicURL is where browsers reach identity (e.g.
	// https://api.example.com/identity): the base of callback URLs.
	PublicURL string
	// OIDC are the OpenID providers users may sign in with.
	OIDC []OIDCProvider
	// HTTPClient talks to the providers (default: 15 s timeout).
	HTTPClient *http.Client
	// SAML are the organizations' SAML identity providers; nil: SAML
	// sign-in off. SAMLKey is the service provider's key pair.
	SAML    SAMLProviders
	SAMLKey SAMLKey
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for _, p := range c.OIDC {
		errs = append(errs, p.validate())
		if p.RedirectURL == "" && c.PublicURL == "" {
			errs = append(errs, fmt.Errorf("sso: OIDC provider %s: RedirectURL or PublicURL is required", p.Name))
		}
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("sso: OIDC provider %s configured twice", p.Name))
		}
		seen[p.Name] = true
	}
	if c.SAML != nil && (c.PublicURL == "" || c.SAMLKey.Key == nil || c.SAMLKey.Certificate == nil) {
		errs = append(errs, errors.New("sso: SAML needs PublicURL and SAMLKey"))
	}
	return errors.Join(errs...)
}

// Handler serves the sign-in routes.
type Handler struct {
	accounts  Accounts
	pending   pendingStore
	oidc      map[string]*oidcClient
	publicURL string
	saml      SAMLProviders
	samlKey   SAMLKey
	client    *http.Client
	log       *slog.Logger
}

// New returns the handler; rdb keeps the pending sign-ins (the caller closes it).
func New(cfg Config, accounts Accounts, rdb redis.UniversalClient, log *slog.Logger) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	h := &Handler{accounts: accounts, pending: pendingStore{rdb: rdb}, oidc: map[string]*oidcClient{},
		publicURL: cfg.PublicURL, saml: cfg.SAML, samlKey: cfg.SAMLKey, client: client, log: log}
	for _, p := range cfg.OIDC {
		if p.RedirectURL == "" {
			p.RedirectURL = strings.TrimSuffix(cfg.PublicURL, "/") + "/auth/oidc/" + p.Name + "/callback"
		}
		h.oidc[p.Name] = &oidcClient{cfg: p, client: client}
	}
	return h, nil
}

// Routes are the handler's routes, for kit.API.Routes.
func (h *Handler) Routes() map[string]http.Handler {
	routes := map[string]http.Handler{
		"GET /auth/oidc/{provider}/start":    http.HandlerFunc(h.oidcStart),
		"GET /auth/oidc/{provider}/callback": http.HandlerFunc(h.oidcCallback),
	}
	if h.saml != nil {
		routes["GET /auth/saml/{org}/metadata"] = http.HandlerFunc(h.samlMetadata)
		routes["GET /auth/saml/{org}/start"] = http.HandlerFunc(h.samlStart)
		routes["POST /auth/saml/{org}/acs"] = http.HandlerFunc(h.samlACS)
	}
	return routes
}

// tokens is the body of a successful sign-in: the fields of AuthPayload.
type tokens struct {
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
	User         struct {
		ID             string `json:"id"`
		Email          string `json:"email"`
		Name           string `json:"name"`
		OrganizationID string `json:"organizationId"`
	} `json:"user"`
}

// signIn signs ext's user in and answers the tokens.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, ext External) {
	p, err := h.accounts.SignInExternal(r.Context(), ext)
	switch {
	case errors.Is(err, store.ErrEmailNotVerified):
		h.fail(w, r, &kit.Error{Code: kit.CodeForbidden, Reason: "EMAIL_NOT_VERIFIED",
			Message: "the identity provider did not verify this email address, so it cannot be matched to an account", Err: err})
		return
	case errors.Is(err, store.ErrNoAccount):
		h.fail(w, r, &kit.Error{Code: kit.CodeForbidden, Reason: "NO_ACCOUNT",
			Message: "no account matches this sign-in: sign up or ask your organization for an invitation first", Err: err})
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	var out tokens
	out.AccessToken, out.RefreshToken, out.ExpiresAt = p.AccessToken, p.RefreshToken, p.ExpiresAt
	out.User.ID, out.User.Email, out.User.Name, out.User.OrganizationID = p.User.ID, p.User.Email, p.User.Name, p.User.OrganizationID
	writeJSON(w, http.StatusOK, out)
}

var (
	errStateInvalid = &kit.Error{Code: kit.CodeUnauthenticated, Reason: "STATE_INVALID",
		Message: "unknown, expired or already used sign-in state: start the sign-in again"}
	errBrowserMismatch = &kit.Error{Code: kit.CodeUnauthenticated, Reason: "BROWSER_MISMATCH",
		Message: "this sign-in was started in another browser: start it again here"}
	errUnknownProvider     = &kit.Error{Code: kit.CodeNotFound, Reason: "UNKNOWN_PROVIDER", Message: "no such identity provider"}
	errUnknownOrganization = &kit.Error{Code: kit.CodeNotFound, Reason: "UNKNOWN_ORGANIZATION", Message: "no such organization"}
	errNoSAMLProvider      = &kit.Error{Code: kit.CodeNotFound, Reason: "NO_SAML_PROVIDER", Message: "this organization has no SAML identity provider"}
	errUnavailable         = &kit.Error{Code: kit.CodeServiceUnavailable, Message: "sign-in is unavailable, try again later"}
)

func providerError(msg string, err error) *kit.Error {
	return &kit.Error{Code: kit.CodeUnauthenticated, Reason: "PROVIDER_REFUSED", Message: msg, Err: err}
}

func idTokenError(err error) *kit.Error {
	return &kit.Error{Code: kit.CodeUnauthenticated, Reason: "ID_TOKEN_INVALID", Message: "the identity provider's ID token is not valid", Err: err}
}

// statuses are the HTTP statuses of the error codes.
var statuses = map[string]int{
	kit.CodeUnauthenticated:    http.StatusUnauthorized,
	kit.CodeForbidden:          http.StatusForbidden,
	kit.CodeNotFound:           http.StatusNotFound,
	kit.CodeBadUserInput:       http.StatusBadRequest,
	kit.CodeServiceUnavailable: http.StatusServiceUnavailable,
}

// fail answers err as a GraphQL-style error body (extensions.code and
// reason); a *kit.Error's message is shown, anything else is an internal
// error. Causes are logged, never sent.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *kit.Error
	if !errors.As(err, &e) {
		e = &kit.Error{Code: kit.CodeInternal, Message: "internal error"}
	}
	status, ok := statuses[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "sso: sign-in refused", "path", r.URL.Path, "code", e.Code, "reason", e.Reason, "error", err)
	ext := map[string]string{"code": e.Code}
	if e.Reason != "" {
		ext["reason"] = e.Reason
	}
	type gqlErr struct {
		Message    string            `json:"message"`
		Extensions map[string]string `json:"extensions"`
	}
	writeJSON(w, status, struct {
		Errors []gqlErr `json:"errors"`
	}{[]gqlErr{{e.Message, ext}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func nonceEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
