package sso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Well-known issuers.
const (
	GoogleIssuer = "https://accounts.google.com"
	// MicrosoftAuthority is the base of Microsoft Entra ID's issuers:
	// <authority>/<tenant>/v2.0.
	MicrosoftAuthority = "https://login.microsoftonline.com"
	// tenantPlaceholder stands for the tenant id in the issuer that the
	// discovery document of a multi-tenant Microsoft endpoint (common,
	// organizations, consumers) advertises.
	tenantPlaceholder = "{tenantid}"
)

// OIDCProvider configures sign-in with one OpenID provider.
type OIDCProvider struct {
	// Name is the provider's path segment (/auth/oidc/<name>/...): lower-case
	// letters, digits and dashes.
	Name string
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer/.well-known/openid-configuration.
	Issuer string
	// ClientID and ClientSecret are the client registered with the provider.
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback registered with the provider (default
	// Config.PublicURL/auth/oidc/<name>/callback).
	RedirectURL string
	// Tenants, for a multi-tenant Microsoft issuer (…/organizations/v2.0,
	// …/common/v2.0), are the tenant ids (tid) whose users may sign in;
	// empty: any tenant. A tenant-specific issuer needs none.
	Tenants []string
}

// Google is sign-in with Google.
func Google(clientID, clientSecret string) OIDCProvider {
	return OIDCProvider{Name: "google", Issuer: GoogleIssuer, ClientID: clientID, ClientSecret: clientSecret}
}

// Microsoft is sign-in with Microsoft Entra ID for tenant: a tenant id or
// domain (that tenant's users only), "organizations" (any work or school
// account) or "common" (those and personal accounts).
func Microsoft(tenant, clientID, clientSecret string) OIDCProvider {
	return OIDCProvider{Name: "microsoft", Issuer: MicrosoftAuthority + "/" + tenant + "/v2.0", ClientID: clientID, ClientSecret: clientSecret}
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func (p OIDCProvider) validate() error {
	var errs []error
	if !providerName.MatchString(p.Name) {
		errs = append(errs, fmt.Errorf("sso: OIDC provider name %q: lower-case letters, digits and dashes, at most 32", p.Name))
	}
	if _, err := url.ParseRequestURI(p.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("sso: OIDC provider %s: Issuer: %w", p.Name, err))
	}
	if p.ClientID == "" {
		errs = append(errs, fmt.Errorf("sso: OIDC provider %s: ClientID is required", p.Name))
	}
	if p.ClientSecret == "" {
		errs = append(errs, fmt.Errorf("sso: OIDC provider %s: ClientSecret is required", p.Name))
	}
	return errors.Join(errs...)
}

// oidcClient is one configured provider. Discovery happens on first use (and
// again after a failure), so identity starts while a provider is unreachable.
type oidcClient struct {
	cfg    OIDCProvider
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	// tenantIssuer is the discovery document's issuer with the placeholder
	// {tenantid} (multi-tenant Microsoft), empty for a single issuer.
	tenantIssuer string
}

// discover returns the provider's endpoints and ID-token verifier.
func (c *oidcClient) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, c.verifier, nil
	}
	ctx = oidc.ClientContext(ctx, c.client)
	p, err := oidc.NewProvider(ctx, c.cfg.Issuer)
	var mismatch *oidc.IssuerMismatchError
	vc := &oidc.Config{ClientID: c.cfg.ClientID}
	if errors.As(err, &mismatch) && strings.Contains(mismatch.Discovered, tenantPlaceholder) {
		// Microsoft's common/organizations endpoints advertise
		// https://login.microsoftonline.com/{tenantid}/v2.0: each token's
		// issuer names its tenant, checked in checkIssuer instead.
		p, err = oidc.NewProvider(oidc.InsecureIssuerURLContext(ctx, mismatch.Discovered), c.cfg.Issuer)
		vc.SkipIssuerCheck = true
		c.tenantIssuer = mismatch.Discovered
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: discovery of %s: %w", errUnavailable, c.cfg.Name, err)
	}
	// The verifier's key set fetches with the provider's HTTP client, outside any request.
	c.provider, c.verifier = p, p.VerifierContext(oidc.ClientContext(context.Background(), c.client), vc)
	return c.provider, c.verifier, nil
}

func (c *oidcClient) oauth2(p *oidc.Provider, redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		Endpoint:     p.Endpoint(),
		RedirectURL:  redirect,
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}
}

// idClaims are the ID token claims sign-in reads.
type idClaims struct {
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified"`
	Name          string `json:"name"`
	// TenantID (Microsoft) is the tenant the user signed in with.
	TenantID string `json:"tid"`
	// EmailDomainOwnerVerified (Microsoft's optional xms_edov) is true when
	// the email's domain is verified by the tenant that owns it. Microsoft
	// sends no email_verified; its email claim is otherwise unverified.
	EmailDomainOwnerVerified *bool `json:"xms_edov"`
}

func (c idClaims) emailVerified() bool {
	return (c.EmailVerified != nil && *c.EmailVerified) || (c.EmailDomainOwnerVerified != nil && *c.EmailDomainOwnerVerified)
}

// checkIssuer checks the issuer of a token from a multi-tenant issuer: it must
// be the advertised issuer with the token's own tenant id, and that tenant
// must be allowed.
func (c *oidcClient) checkIssuer(iss string, cl idClaims) error {
	if c.tenantIssuer == "" {
		return nil // go-oidc checked it
	}
	return checkTenantIssuer(c.tenantIssuer, c.cfg.Tenants, iss, cl.TenantID)
}

func checkTenantIssuer(template string, tenants []string, iss, tid string) error {
	if tid == "" || strings.ContainsAny(tid, "/?#{}") {
		return fmt.Errorf("id token has no valid tenant id (tid)")
	}
	if want := strings.Replace(template, tenantPlaceholder, tid, 1); iss != want {
		return fmt.Errorf("id token issuer %q is not its tenant's %q", iss, want)
	}
	if len(tenants) > 0 && !slices.Contains(tenants, tid) {
		return fmt.Errorf("tenant %s may not sign in", tid)
	}
	return nil
}

// oidcStart redirects the browser to the provider's authorization endpoint
// with a new state, nonce and S256 PKCE challenge; the verifier stays here.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request) {
	c, ok := h.oidc[r.PathValue("provider")]
	if !ok {
		h.fail(w, r, errUnknownProvider)
		return
	}
	p, _, err := c.discover(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	verifier, nonce := oauth2.GenerateVerifier(), randomString(24)
	state, err := h.pending.put(r.Context(), pending{Kind: "oidc", Target: c.cfg.Name, Browser: bindBrowser(w, r, isHTTPS(c.cfg.RedirectURL)), Verifier: verifier, Nonce: nonce})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u := c.oauth2(p, c.cfg.RedirectURL).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

// oidcCallback takes the provider's answer: the state must be pending, for
// this provider and this browser; the code is exchanged with the PKCE
// verifier; the ID token's signature, issuer, audience, expiry and nonce are
// checked; then the user is signed in as by login.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	c, ok := h.oidc[r.PathValue("provider")]
	if !ok {
		h.fail(w, r, errUnknownProvider)
		return
	}
	q := r.URL.Query()
	pend, err := h.pending.take(r.Context(), q.Get("state"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if pend.Kind != "oidc" || pend.Target != c.cfg.Name {
		h.fail(w, r, errStateInvalid)
		return
	}
	if !sameBrowser(r, pend) {
		h.fail(w, r, errBrowserMismatch)
		return
	}
	if e := q.Get("error"); e != "" {
		h.fail(w, r, providerError("the identity provider refused the sign-in", fmt.Errorf("%.100s: %.200s", e, q.Get("error_description"))))
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		h.fail(w, r, providerError("the identity provider sent no authorization code", nil))
		return
	}
	p, verifier, err := c.discover(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), c.client), 15*time.Second)
	defer cancel()
	tok, err := c.oauth2(p, c.cfg.RedirectURL).Exchange(ctx, code, oauth2.VerifierOption(pend.Verifier))
	if err != nil {
		h.fail(w, r, providerError("the identity provider refused the authorization code", err))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		h.fail(w, r, providerError("the identity provider sent no ID token", nil))
		return
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		h.fail(w, r, idTokenError(err))
		return
	}
	var cl idClaims
	if err := idt.Claims(&cl); err != nil {
		h.fail(w, r, idTokenError(err))
		return
	}
	if err := c.checkIssuer(idt.Issuer, cl); err != nil {
		h.fail(w, r, idTokenError(err))
		return
	}
	if !nonceEqual(idt.Nonce, pend.Nonce) {
		h.fail(w, r, idTokenError(errors.New("nonce mismatch")))
		return
	}
	h.signIn(w, r, External{Issuer: idt.Issuer, Subject: idt.Subject, Email: cl.Email, EmailVerified: cl.emailVerified(), Name: cl.Name})
}
