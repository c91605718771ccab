package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(kv map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestDefaultsByProfile(t *testing.T) {
	pub := Default("")
	require.Equal(t, ProfilePublic, pub.Profile)
	require.False(t, On(pub.Features.Introspection))
	require.False(t, On(pub.Features.GraphiQL))
	require.False(t, On(pub.Features.QueryPlans))
	require.True(t, On(pub.CSRF.Enabled))
	require.True(t, On(pub.RateLimit.Enabled))
	require.Equal(t, Rate{Requests: 10, Per: 15 * time.Minute, Burst: 5}, pub.RateLimit.Login.PerAccount)
	require.NoError(t, pub.Validate())

	dev := Default(ProfileDev)
	require.True(t, On(dev.Features.Introspection))
	require.True(t, On(dev.Features.GraphiQL))
	require.True(t, On(dev.Features.QueryPlans))
	require.NoError(t, dev.Validate())
}

func TestParseExpandsEnvironment(t *testing.T) {
	doc := `
profile: dev
listen: "127.0.0.1:${PORT}"
redis:
  url: ${REDIS_URL}
  timeout: ${REDIS_TIMEOUT:-150ms}
features:
  graphiql: false
execution:
  max_executions: ${MAX_EXEC}
cors:
  allow_origins: ["https://app.example.com", "${EXTRA_ORIGIN:-http://localhost:3000}"]
rate_limit:
  per_user: {requests: 5, per: 1s}
  login:
    field: Mutation.signIn
    account_argument: username
persisted_queries:
  manifest: ops.json
  mode: safelist
trusted_proxies: [10.0.0.0/8, "::1"]
note: "$$5 is not ${"
`
	_, err := Parse([]byte(doc), env(map[string]string{"PORT": "4001", "REDIS_URL": "redis://127.0.0.1:6379/0", "MAX_EXEC": "7"}))
	require.Error(t, err) // unknown key "note" and an unterminated ${
	require.ErrorContains(t, err, "field note not found")

	doc = doc[:len(doc)-len("note: \"$$5 is not ${\"\n")]
	c, err := Parse([]byte(doc), env(map[string]string{"PORT": "4001", "REDIS_URL": "redis://127.0.0.1:6379/0", "MAX_EXEC": "7"}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:4001", c.Listen)
	require.Equal(t, "redis://127.0.0.1:6379/0", c.Redis.URL)
	require.Equal(t, 150*time.Millisecond, c.Redis.Timeout)
	require.Equal(t, 7, c.Execution.MaxExecutions)
	require.False(t, On(c.Features.GraphiQL))
	require.True(t, On(c.Features.Introspection)) // dev default kept
	require.Equal(t, []string{"https://app.example.com", "http://localhost:3000"}, c.CORS.AllowOrigins)
	require.Equal(t, Rate{Requests: 5, Per: time.Second, Burst: 5}, c.RateLimit.PerUser)
	typ, field := c.RateLimit.Login.TypeAndField()
	require.Equal(t, "Mutation", typ)
	require.Equal(t, "signIn", field)
	require.Equal(t, PersistedSafelist, c.PersistedQueries.Mode)
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	doc := `
profile: staging
listen: nowhere
redis: {url: "http://x", timeout: -1s}
rate_limitt: {}
rate_limit:
  per_ip: {requests: -1, per: 1m}
  login: {field: login}
cors:
  allow_origins: ["*", "https://ok.example.com/path"]
execution:
  max_executions: lots
persisted_queries: {mode: safelist}
jwks_url: ${JWKS_URL}
trusted_proxies: [not-an-ip]
`
	_, err := Parse([]byte(doc), nil)
	require.Error(t, err)
	for _, want := range []string{
		"${JWKS_URL} is not set",
		"field rate_limitt not found",
		"cannot unmarshal !!str `lots` into int",
		`profile: "staging"`,
		`listen: "nowhere"`,
		"redis.url",
		"redis.timeout: must be positive",
		"rate_limit.per_ip.requests: must be positive",
		`rate_limit.login.field: "login" is not Type.field`,
		`"*" cannot be used with allow_credentials`,
		`"https://ok.example.com/path" is not an origin`,
		"persisted_queries.manifest: required",
		`trusted_proxies: "not-an-ip"`,
	} {
		require.ErrorContains(t, err, want)
	}
}

func TestLoadFileAndEmptyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "router.yaml")
	require.NoError(t, os.WriteFile(p, []byte("# nothing\n"), 0o600))
	c, err := Load(p, nil)
	require.NoError(t, err)
	require.Equal(t, ProfilePublic, c.Profile)

	_, err = Load(filepath.Join(dir, "missing.yaml"), nil)
	require.Error(t, err)
}

func TestExpand(t *testing.T) {
	get := env(map[string]string{"A": "1", "EMPTY": ""})
	for in, want := range map[string]string{
		"${A}":         "1",
		"x${A}y${A}":   "x1y1",
		"$$A":          "$A",
		"${B:-def}":    "def",
		"${EMPTY:-d}":  "d",
		"${EMPTY}":     "",
		"$A":           "$A",
		"cost $":       "cost $",
		"${A:-}${B:-}": "1",
	} {
		got, err := expand(in, get)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := expand("${B}", get)
	require.ErrorContains(t, err, "${B} is not set")
	_, err = expand("${1X}", get)
	require.Error(t, err)
}

func TestPolicyURL(t *testing.T) {
	c, err := Parse([]byte("policy_url: http://policy:4000/graphql\n"), nil)
	require.NoError(t, err)
	require.Equal(t, "http://policy:4000/graphql", c.PolicyURL)
	_, err = Parse([]byte("policy_url: ftp://policy\n"), nil)
	require.ErrorContains(t, err, "policy_url")
}

// The README's example is a valid file.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	s := string(readme)
	i := strings.Index(s, "## Running in public")
	require.GreaterOrEqual(t, i, 0)
	s = s[i:]
	start := strings.Index(s, "```yaml\n") + len("```yaml\n")
	end := strings.Index(s[start:], "```")
	c, err := Parse([]byte(s[start:start+end]), env(map[string]string{"JWKS_URL": "http://identity:4001/.well-known/jwks.json", "REDIS_URL": "redis://redis:6379/0"}))
	require.NoError(t, err)
	require.Equal(t, PersistedSafelist, c.PersistedQueries.Mode)
	require.Equal(t, "0.0.0.0:4000", c.Listen)
}
