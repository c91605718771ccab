package sso

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckTenantIssuer(t *testing.T) {
	const tmpl = "https://login.microsoftonline.com/{tenantid}/v2.0"
	const tid = "9b1c3a52-2f7e-4c59-9a41-0c3f1a7e8d11"
	ok := "https://login.microsoftonline.com/" + tid + "/v2.0"
	require.NoError(t, checkTenantIssuer(tmpl, nil, ok, tid))
	require.NoError(t, checkTenantIssuer(tmpl, []string{tid}, ok, tid))
	for name, c := range map[string]struct {
		tenants   []string
		iss, tid  string
		errSubstr string
	}{
		"no tid":                  {nil, ok, "", "no valid tenant id"},
		"tid of another tenant":   {nil, ok, "0000aaaa-0000-0000-0000-000000000000", "is not its tenant's"},
		"issuer of another cloud": {nil, "https://evil.example/" + tid + "/v2.0", tid, "is not its tenant's"},
		"tenant not allowed":      {[]string{"another"}, ok, tid, "may not sign in"},
		"tid with a path":         {nil, ok, tid + "/x", "no valid tenant id"},
	} {
		err := checkTenantIssuer(tmpl, c.tenants, c.iss, c.tid)
		require.ErrorContains(t, err, c.errSubstr, name)
	}
}

func TestProvidersFromEnv(t *testing.T) {
	env := map[string]string{
		EnvGoogleClientID: "g-id", EnvGoogleClientSecret: "g-secret",
		EnvMicrosoftClientID: "m-id", EnvMicrosoftClientSecret: "m-secret", EnvMicrosoftTenants: "a, b",
	}
	ps := ProvidersFromEnv(func(k string) string { return env[k] })
	require.Equal(t, []OIDCProvider{
		{Name: "google", Issuer: "https://accounts.google.com", ClientID: "g-id", ClientSecret: "g-secret"},
		{Name: "microsoft", Issuer: "https://login.microsoftonline.com/organizations/v2.0", ClientID: "m-id", ClientSecret: "m-secret", Tenants: []string{"a", "b"}},
	}, ps)
	require.Empty(t, ProvidersFromEnv(func(string) string { return "" }))
}
