package sso

import "strings"

// Environment variables read by ProvidersFromEnv. A provider is on when its
// client id is set.
const (
	// EnvPublicURL is identity's public URL (Config.PublicURL).
	EnvPublicURL             = "IDENTITY_PUBLIC_URL"
	EnvGoogleClientID        = "OIDC_GOOGLE_CLIENT_ID"
	EnvGoogleClientSecret    = "OIDC_GOOGLE_CLIENT_SECRET"
	EnvMicrosoftClientID     = "OIDC_MICROSOFT_CLIENT_ID"
	EnvMicrosoftClientSecret = "OIDC_MICROSOFT_CLIENT_SECRET"
	// EnvMicrosoftTenant is a tenant id or domain, "organizations" (the
	// default: any work or school account) or "common".
	EnvMicrosoftTenant = "OIDC_MICROSOFT_TENANT"
	// EnvMicrosoftTenants lists (comma-separated) the tenant ids allowed
	// with a multi-tenant EnvMicrosoftTenant; empty: any.
	EnvMicrosoftTenants = "OIDC_MICROSOFT_TENANTS"
)

// ProvidersFromEnv returns the providers configured in the environment
// (getenv is os.Getenv in production).
func ProvidersFromEnv(getenv func(string) string) []OIDCProvider {
	var out []OIDCProvider
	if id := getenv(EnvGoogleClientID); id != "" {
		out = append(out, Google(id, getenv(EnvGoogleClientSecret)))
	}
	if id := getenv(EnvMicrosoftClientID); id != "" {
		tenant := getenv(EnvMicrosoftTenant)
		if tenant == "" {
			tenant = "organizations"
		}
		p := Microsoft(tenant, id, getenv(EnvMicrosoftClientSecret))
		for _, t := range strings.Split(getenv(EnvMicrosoftTenants), ",") {
			if t = strings.TrimSpace(t); t != "" {
				p.Tenants = append(p.Tenants, t)
			}
		}
		out = append(out, p)
	}
	return out
}
