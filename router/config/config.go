// Package config is the router's configuration file: YAML with ${ENV}
// expansion, decoded strictly (an unknown key is an error) and validated, with
// every problem reported at once (errors.Join). The defaults depend on the
// profile: "public" (the default of `studio router`) hides introspection,
// GraphiQL and query plans; "dev" (what `studio dev` uses) shows them.
//
// Each component owns one section; a section's zero value is "use the
// defaults". Load reads a file; Default gives the defaults of a profile.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Profiles.
const (
	ProfilePublic = "public"
	ProfileDev    = "dev"
)

// Config is the whole router configuration file.
type Config struct {
	// Profile is "public" (default) or "dev"; it sets the defaults of Features.
	Profile string `yaml:"profile"`
	// Listen is the HTTP listen address (default 127.0.0.1:4000).
	Listen string `yaml:"listen"`
	// Supergraph is the supergraph SDL file (default schema/supergraph.graphql).
	Supergraph string `yaml:"supergraph"`
	// SubgraphURLs overrides routing URLs by subgraph name.
	SubgraphURLs map[string]string `yaml:"subgraph_urls"`
	// JWKSURL is where bearer tokens' keys are fetched (empty: tokens are only forwarded).
	JWKSURL string `yaml:"jwks_url"`
	// JWKSMaxAge is how long fetched keys are trusted before they are fetched
	// again (default 5m, auth.DefaultMaxKeyAge): a retired signing key stops
	// being accepted at most this long after it left the JWKS. An unknown kid
	// refetches at once (at most every 5 s).
	JWKSMaxAge time.Duration `yaml:"jwks_max_age"`
	// TokenIssuer and TokenAudience are the iss and aud bearer tokens must
	// carry (default "studio-identity" and "studio", identity's defaults).
	TokenIssuer   string `yaml:"token_issuer"`
	TokenAudience string `yaml:"token_audience"`
	// PolicyURL is the GraphQL endpoint the router asks for @policy decisions
	// (the policy subgraph; empty: every @policy is denied).
	PolicyURL string `yaml:"policy_url"`

	Features  Features  `yaml:"features"`
	Execution Execution `yaml:"execution"`
	Limits    Limits    `yaml:"limits"`
	// Resilience: timeouts, bulkheads, breakers, forwarded headers.
	Resilience Resilience `yaml:"resilience"`
	// Uploads: GraphQL multipart requests (files streamed to subgraphs).
	Uploads Uploads `yaml:"uploads"`

	// Edge is the router's public edge: Redis, rate limits, browser safety,
	// persisted queries. Its sections sit at the top level of the file.
	Edge `yaml:",inline"`
}

// Features are the development aids a public graph hides. Nil means the
// profile's default (on in dev, off in public).
type Features struct {
	// Introspection answers __schema and __type.
	Introspection *bool `yaml:"introspection"`
	// GraphiQL serves the playground on / and to browsers on GET /graphql.
	GraphiQL *bool `yaml:"graphiql"`
	// QueryPlans honours the X-Studio-Query-Plan request header.
	QueryPlans *bool `yaml:"query_plans"`
}

// Execution tunes the gateway pipeline.
type Execution struct {
	// MaxExecutions bounds operations executing at once (0: 16 per CPU).
	MaxExecutions int `yaml:"max_executions"`
	// DedupRequests shares one execution among identical query requests in flight.
	DedupRequests bool `yaml:"dedup_requests"`
	// DedupSubgraphRequests shares one subgraph request among identical ones in flight.
	DedupSubgraphRequests bool `yaml:"dedup_subgraph_requests"`
	// SubgraphH2C speaks HTTP/2 without TLS to http:// subgraphs.
	SubgraphH2C bool `yaml:"subgraph_h2c"`
	// OverrideLabels switches progressive-override labels on.
	OverrideLabels []string `yaml:"override_labels"`
	// MaxBodyBytes bounds request bodies (0: 1 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Uploads are GraphQL multipart requests (router/upload): their files are
// streamed to the subgraph that takes them.
type Uploads struct {
	// Enabled accepts multipart/form-data requests on /graphql (default on).
	Enabled *bool `yaml:"enabled"`
	// MaxFiles is the most files per request (default 5).
	MaxFiles int `yaml:"max_files"`
	// MaxFileBytes is the largest file (default 200 MiB); a larger one
	// gets 413 PAYLOAD_TOO_LARGE.
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// Timeout bounds a request carrying files, reading and forwarding them
	// included (default 10m).
	Timeout time.Duration `yaml:"timeout"`
}

// Default returns the defaults of a profile ("" is public).
func Default(profile string) *Config {
	c := &Config{Profile: profile}
	c.setDefaults()
	return c
}

// On reads an optional switch: nil is off.
func On(b *bool) bool { return b != nil && *b }

func boolPtr(b bool) *bool { return &b }

func (c *Config) setDefaults() {
	if c.Profile == "" {
		c.Profile = ProfilePublic
	}
	dev := c.Profile == ProfileDev
	if c.Listen == "" {
		c.Listen = "127.0.0.1:4000"
	}
	if c.Supergraph == "" {
		c.Supergraph = "schema/supergraph.graphql"
	}
	for _, f := range []**bool{&c.Features.Introspection, &c.Features.GraphiQL, &c.Features.QueryPlans} {
		if *f == nil {
			*f = boolPtr(dev)
		}
	}
	if c.Uploads.Enabled == nil {
		c.Uploads.Enabled = boolPtr(true)
	}
	c.Edge.setDefaults()
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Profile != ProfilePublic && c.Profile != ProfileDev {
		add("profile: %q is neither %q nor %q", c.Profile, ProfilePublic, ProfileDev)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen: %q is not HOST:PORT", c.Listen)
	}
	for name, u := range c.SubgraphURLs {
		if err := checkHTTPURL(u); err != nil {
			add("subgraph_urls.%s: %w", name, err)
		}
	}
	if c.JWKSURL != "" {
		if err := checkHTTPURL(c.JWKSURL); err != nil {
			add("jwks_url: %w", err)
		}
	}
	if c.JWKSMaxAge < 0 {
		add("jwks_max_age: must not be negative")
	}
	if c.PolicyURL != "" {
		if err := checkHTTPURL(c.PolicyURL); err != nil {
			add("policy_url: %w", err)
		}
	}
	if c.Execution.MaxExecutions < 0 {
		add("execution.max_executions: must not be negative")
	}
	if c.Execution.MaxBodyBytes < 0 {
		add("execution.max_body_bytes: must not be negative")
	}
	if c.Uploads.MaxFiles < 0 || c.Uploads.MaxFileBytes < 0 || c.Uploads.Timeout < 0 {
		add("uploads: max_files, max_file_bytes and timeout must not be negative")
	}
	errs = append(errs, c.Edge.validate()...)
	errs = append(errs, c.Limits.validate()...)
	errs = append(errs, c.Resilience.validate()...)
	return errors.Join(errs...)
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// positive reports a duration or count that must be above zero.
func positive[T int | int64 | time.Duration](errs *[]error, name string, v T) {
	if v <= 0 {
		*errs = append(*errs, fmt.Errorf("%s: must be positive", name))
	}
}

func lower(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return out
}
