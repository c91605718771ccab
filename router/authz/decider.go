package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/studio-platform/studio/internal/auth"
)

// PolicyDecider decides the named policies of @policy for one request. The
// result maps each policy to whether it holds; a policy missing from it is
// denied. claims is nil for an anonymous request. Implementations must not
// cache decisions across requests (the router asks once per request).
type PolicyDecider interface {
	Decide(ctx context.Context, claims *auth.Claims, policies []string) (map[string]bool, error)
}

// DenyAll denies every policy: the default when no decider is configured, so a
// field with @policy is never served by mistake.
type DenyAll struct{}

// Decide denies every policy.
func (DenyAll) Decide(context.Context, *auth.Claims, []string) (map[string]bool, error) {
	return map[string]bool{}, nil
}

type authorizationKey struct{}

// WithAuthorization returns a context carrying the request's Authorization
// header, which HTTPDecider forwards to the policy service.
func WithAuthorization(ctx context.Context, header string) context.Context {
	return context.WithValue(ctx, authorizationKey{}, header)
}

func authorizationFrom(ctx context.Context) string {
	s, _ := ctx.Value(authorizationKey{}).(string)
	return s
}

// PolicyQuery is the operation HTTPDecider sends to the policy subgraph (the
// contract is written in docs/architecture.md).
const PolicyQuery = `query RouterPolicyDecisions($policies: [String!]!) { authorizeMany(policies: $policies) { policy allowed } }`

// Limits of HTTPDecider.
const (
	maxPolicies      = 1024
	maxPolicyLen     = 256
	maxResponseBytes = 1 << 20
	defaultTimeout   = 5 * time.Second
)

// HTTPDecider asks the policy subgraph over GraphQL-over-HTTP, with the caller's
// bearer token, for all the policies of a request in one call (PolicyQuery).
// Anonymous requests are denied every policy without a call.
type HTTPDecider struct {
	url    string
	client *http.Client
}

// HTTPDeciderOption configures an HTTPDecider.
type HTTPDeciderOption func(*HTTPDecider)

// WithDeciderClient sets the HTTP client (default: one with a 5 s timeout).
func WithDeciderClient(c *http.Client) HTTPDeciderOption {
	return func(d *HTTPDecider) { d.client = c }
}

// NewHTTPDecider returns a decider calling the policy subgraph at url.
func NewHTTPDecider(url string, opts ...HTTPDeciderOption) *HTTPDecider {
	d := &HTTPDecider{url: url, client: &http.Client{Timeout: defaultTimeout}}
	for _, o := range opts {
		o(d)
	}
	return d
}

// ErrPolicyService is returned (wrapped) when the policy service gives no usable answer.
var ErrPolicyService = errors.New("authz: policy service")

// Decide asks the policy subgraph.
func (d *HTTPDecider) Decide(ctx context.Context, claims *auth.Claims, policies []string) (map[string]bool, error) {
	out := make(map[string]bool, len(policies))
	if claims == nil || len(policies) == 0 {
		return out, nil
	}
	if len(policies) > maxPolicies {
		return nil, fmt.Errorf("%w: %d policies in one request (at most %d)", ErrPolicyService, len(policies), maxPolicies)
	}
	for _, p := range policies {
		if len(p) > maxPolicyLen {
			return nil, fmt.Errorf("%w: a policy name is longer than %d bytes", ErrPolicyService, maxPolicyLen)
		}
	}
	body, err := json.Marshal(map[string]any{
		"query":         PolicyQuery,
		"operationName": "RouterPolicyDecisions",
		"variables":     map[string]any{"policies": policies},
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicyService, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	if h := authorizationFrom(ctx); h != "" {
		req.Header.Set("Authorization", h)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicyService, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%w: HTTP %d", ErrPolicyService, resp.StatusCode)
	}
	var result struct {
		Data struct {
			AuthorizeMany []struct {
				Policy  string `json:"policy"`
				Allowed bool   `json:"allowed"`
			} `json:"authorizeMany"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&result); err != nil {
		return nil, fmt.Errorf("%w: invalid response: %w", ErrPolicyService, err)
	}
	if len(result.Errors) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrPolicyService, result.Errors[0].Message)
	}
	asked := make(map[string]bool, len(policies))
	for _, p := range policies {
		asked[p] = true
	}
	for _, r := range result.Data.AuthorizeMany {
		if prev, seen := out[r.Policy]; asked[r.Policy] && (!seen || prev) {
			out[r.Policy] = r.Allowed // a policy answered twice is denied if either says so
		}
	}
	return out, nil
}
