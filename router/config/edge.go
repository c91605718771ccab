package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Edge holds the sections of the router's public edge. Its zero value turns
// every one of them off (what router.Config{} gets); Load and Default fill
// in the safe defaults.
type Edge struct {
	Redis RedisConfig `yaml:"redis"`
	// TrustedProxies are the CIDRs (or single addresses) of the proxies whose
	// X-Forwarded-For is believed; default none: the client IP is the peer's.
	TrustedProxies []string `yaml:"trusted_proxies"`

	RateLimit        RateLimit        `yaml:"rate_limit"`
	CSRF             CSRF             `yaml:"csrf"`
	CORS             CORS             `yaml:"cors"`
	SecurityHeaders  SecurityHeaders  `yaml:"security_headers"`
	APQ              APQ              `yaml:"apq"`
	PersistedQueries PersistedQueries `yaml:"persisted_queries"`
}

// RedisConfig is the Redis every router replica shares (rate limits, APQ).
type RedisConfig struct {
	// URL is redis://, rediss:// or unix:// (default $REDIS_URL at the
	// command line). Without it, rate limits and APQ are off.
	URL string `yaml:"url"`
	// Timeout bounds each Redis call on the request path (default 200ms).
	Timeout time.Duration `yaml:"timeout"`
	// KeyPrefix starts every key the router writes (default "studio:"), so
	// that deployments can share one Redis.
	KeyPrefix string `yaml:"key_prefix"`
}

// Rate is a GCRA rate: Requests per Per, with bursts of up to Burst at once.
type Rate struct {
	Requests int           `yaml:"requests"`
	Per      time.Duration `yaml:"per"`
	// Burst is how many may come at once (default Requests).
	Burst int `yaml:"burst"`
}

// setDefaults fills an unset rate; burst 0 means as many as requests.
func (r *Rate) setDefaults(requests int, per time.Duration, burst int) {
	if r.Requests == 0 && r.Per == 0 {
		r.Requests, r.Per = requests, per
		if r.Burst == 0 {
			r.Burst = burst
		}
	}
	if r.Burst == 0 {
		r.Burst = r.Requests
	}
}

func (r Rate) validate(errs *[]error, name string) {
	positive(errs, name+".requests", r.Requests)
	positive(errs, name+".per", r.Per)
	positive(errs, name+".burst", r.Burst)
}

// RateLimit limits requests per user and per client IP, and login attempts.
type RateLimit struct {
	// Enabled (default true; needs redis.url).
	Enabled *bool `yaml:"enabled"`
	// PerUser limits requests per JWT subject (default 600 per minute).
	PerUser Rate `yaml:"per_user"`
	// PerIP limits requests per client IP, IPv6 per /64 (default 1200 per minute).
	PerIP Rate  `yaml:"per_ip"`
	Login Login `yaml:"login"`
}

// Login limits login attempts: every occurrence (alias) of the login field in
// a request is one attempt, counted before anything executes.
type Login struct {
	// Field is the login mutation as Type.field (default Mutation.login).
	Field string `yaml:"field"`
	// AccountArgument names the argument that identifies the account (default email).
	AccountArgument string `yaml:"account_argument"`
	// PerAccount limits attempts per account (default 10 per 15 minutes, burst 5).
	PerAccount Rate `yaml:"per_account"`
	// PerIP limits attempts per client IP (default 30 per 15 minutes, burst 10).
	PerIP Rate `yaml:"per_ip"`
	// FailOpen lets logins through when Redis is down (default false: they
	// are refused with 503 while general limits fail open).
	FailOpen bool `yaml:"fail_open"`
}

// TypeAndField splits Field.
func (l Login) TypeAndField() (typ, field string) {
	typ, field, _ = strings.Cut(l.Field, ".")
	return typ, field
}

// CSRF refuses requests a browser could send cross-site without a CORS
// preflight (Apollo Router's CSRF prevention).
type CSRF struct {
	// Enabled (default true).
	Enabled *bool `yaml:"enabled"`
	// RequiredHeaders: any one of them marks a request as preflighted (default
	// x-apollo-operation-name, apollo-require-preflight).
	RequiredHeaders []string `yaml:"required_headers"`
}

// CORS answers browsers from the listed origins, with credentials.
type CORS struct {
	// AllowOrigins are exact origins (scheme://host[:port]); empty allows none.
	AllowOrigins []string `yaml:"allow_origins"`
	// AllowCredentials lets cookies and Authorization ride along (default true).
	AllowCredentials *bool `yaml:"allow_credentials"`
	// AllowHeaders are the request headers browsers may send (default:
	// content-type, authorization, the CSRF headers, x-request-id, traceparent,
	// tracestate, x-studio-query-plan).
	AllowHeaders []string `yaml:"allow_headers"`
	// MaxAge is how long a browser may cache a preflight (default 10m).
	MaxAge time.Duration `yaml:"max_age"`
}

// SecurityHeaders are set on every response of the router.
type SecurityHeaders struct {
	// Enabled (default true): X-Content-Type-Options, Referrer-Policy,
	// X-Frame-Options, a Content-Security-Policy.
	Enabled *bool `yaml:"enabled"`
	// HSTSMaxAge sends Strict-Transport-Security when set (only behind TLS).
	HSTSMaxAge time.Duration `yaml:"hsts_max_age"`
}

// APQ is Automatic Persisted Queries, stored in Redis.
type APQ struct {
	// Enabled (default true; needs redis.url).
	Enabled *bool `yaml:"enabled"`
	// TTL of a stored query (default 24h).
	TTL time.Duration `yaml:"ttl"`
	// MaxQueryBytes: longer queries are executed but not stored (default 32 KiB).
	MaxQueryBytes int `yaml:"max_query_bytes"`
}

// Persisted-operations modes.
const (
	// PersistedOff ignores the manifest.
	PersistedOff = "off"
	// PersistedAllow runs listed operations by id and any other operation too.
	PersistedAllow = "allow"
	// PersistedSafelist runs only listed operations (by id or identical body).
	PersistedSafelist = "safelist"
)

// PersistedQueries is a persisted-operations manifest (trusted documents).
type PersistedQueries struct {
	// Manifest is the JSON file ({format: "apollo-persisted-query-manifest", operations: [...]}).
	Manifest string `yaml:"manifest"`
	// Mode is off, allow or safelist (default allow when a manifest is set).
	Mode string `yaml:"mode"`
}

func (e *Edge) setDefaults() {
	if e.Redis.Timeout == 0 {
		e.Redis.Timeout = 200 * time.Millisecond
	}
	if e.Redis.KeyPrefix == "" {
		e.Redis.KeyPrefix = "studio:"
	}
	rl := &e.RateLimit
	if rl.Enabled == nil {
		rl.Enabled = boolPtr(true)
	}
	rl.PerUser.setDefaults(600, time.Minute, 0)
	rl.PerIP.setDefaults(1200, time.Minute, 0)
	if rl.Login.Field == "" {
		rl.Login.Field = "Mutation.login"
	}
	if rl.Login.AccountArgument == "" {
		rl.Login.AccountArgument = "email"
	}
	rl.Login.PerAccount.setDefaults(10, 15*time.Minute, 5)
	rl.Login.PerIP.setDefaults(30, 15*time.Minute, 10)

	if e.CSRF.Enabled == nil {
		e.CSRF.Enabled = boolPtr(true)
	}
	if len(e.CSRF.RequiredHeaders) == 0 {
		e.CSRF.RequiredHeaders = []string{"x-apollo-operation-name", "apollo-require-preflight"}
	}
	if e.CORS.AllowCredentials == nil {
		e.CORS.AllowCredentials = boolPtr(true)
	}
	if len(e.CORS.AllowHeaders) == 0 {
		e.CORS.AllowHeaders = []string{"content-type", "authorization", "apollo-require-preflight",
			"x-apollo-operation-name", "x-request-id", "traceparent", "tracestate", "x-studio-query-plan"}
	}
	if e.CORS.MaxAge == 0 {
		e.CORS.MaxAge = 10 * time.Minute
	}
	if e.SecurityHeaders.Enabled == nil {
		e.SecurityHeaders.Enabled = boolPtr(true)
	}
	if e.APQ.Enabled == nil {
		e.APQ.Enabled = boolPtr(true)
	}
	if e.APQ.TTL == 0 {
		e.APQ.TTL = 24 * time.Hour
	}
	if e.APQ.MaxQueryBytes == 0 {
		e.APQ.MaxQueryBytes = 32 << 10
	}
	if e.PersistedQueries.Mode == "" {
		e.PersistedQueries.Mode = PersistedOff
		if e.PersistedQueries.Manifest != "" {
			e.PersistedQueries.Mode = PersistedAllow
		}
	}
	e.CSRF.RequiredHeaders = lower(e.CSRF.RequiredHeaders)
	e.CORS.AllowHeaders = lower(e.CORS.AllowHeaders)
}

func (e *Edge) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if e.Redis.URL != "" {
		if u, err := url.Parse(e.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			add("redis.url: %q is not a redis://, rediss:// or unix:// URL", e.Redis.URL)
		}
	}
	positive(&errs, "redis.timeout", e.Redis.Timeout)
	for _, p := range e.TrustedProxies {
		if _, err := ParseCIDR(p); err != nil {
			add("trusted_proxies: %w", err)
		}
	}
	rl := e.RateLimit
	rl.PerUser.validate(&errs, "rate_limit.per_user")
	rl.PerIP.validate(&errs, "rate_limit.per_ip")
	rl.Login.PerAccount.validate(&errs, "rate_limit.login.per_account")
	rl.Login.PerIP.validate(&errs, "rate_limit.login.per_ip")
	if typ, field := rl.Login.TypeAndField(); typ == "" || field == "" || strings.Contains(field, ".") {
		add("rate_limit.login.field: %q is not Type.field", rl.Login.Field)
	}
	if rl.Login.AccountArgument == "" {
		add("rate_limit.login.account_argument: required")
	}
	for _, o := range e.CORS.AllowOrigins {
		if o == "*" {
			if On(e.CORS.AllowCredentials) {
				add("cors.allow_origins: \"*\" cannot be used with allow_credentials (list the origins)")
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			add("cors.allow_origins: %q is not an origin (scheme://host[:port])", o)
		}
	}
	if e.CORS.MaxAge < 0 {
		add("cors.max_age: must not be negative")
	}
	if e.SecurityHeaders.HSTSMaxAge < 0 {
		add("security_headers.hsts_max_age: must not be negative")
	}
	positive(&errs, "apq.ttl", e.APQ.TTL)
	positive(&errs, "apq.max_query_bytes", e.APQ.MaxQueryBytes)
	switch e.PersistedQueries.Mode {
	case PersistedOff:
	case PersistedAllow, PersistedSafelist:
		if e.PersistedQueries.Manifest == "" {
			add("persisted_queries.manifest: required with mode %q", e.PersistedQueries.Mode)
		}
	default:
		add("persisted_queries.mode: %q is not off, allow or safelist", e.PersistedQueries.Mode)
	}
	return errs
}

// ParseCIDR reads a CIDR or a single address (as a /32 or /128).
func ParseCIDR(s string) (*net.IPNet, error) {
	s = strings.TrimSpace(s)
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
	}
	bits := 128
	if ip4 := ip.To4(); ip4 != nil {
		ip, bits = ip4, 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}
