// Package ssotest drives single sign-on flows in tests: a browser (an HTTP
// client with a cookie jar that follows redirects and submits SAML POST
// forms) and real local identity providers (mockoidc for OpenID Connect).
package ssotest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/require"
)

// StartOIDC starts a local OpenID provider (discovery, JWKS, authorization
// and token endpoints, RS256 ID tokens, PKCE) until the test ends. Its
// authorization endpoint signs in the users queued with QueueUser at once
// (mockoidc.DefaultUser when none is queued).
func StartOIDC(t testing.TB) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

// Browser is a user agent: cookies, redirects, no JavaScript.
type Browser struct {
	Client *http.Client
	// stopAt, when set, ends redirect chains before a request it matches.
	stopAt func(*url.URL) bool
}

// NewBrowser returns a browser with an empty cookie jar.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &Browser{}
	b.Client = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("too many redirects")
		}
		if b.stopAt != nil && b.stopAt(req.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// Response is what the browser ended on.
type Response struct {
	Status int
	URL    *url.URL
	Body   []byte
	Header http.Header
}

// Errors decodes a GraphQL-style error body: each error's extensions.reason
// (or code when it has none).
func (r Response) Reasons(t testing.TB) []string {
	t.Helper()
	var body struct {
		Errors []struct {
			Message    string            `json:"message"`
			Extensions map[string]string `json:"extensions"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &body), "body: %s", r.Body)
	var out []string
	for _, e := range body.Errors {
		if e.Extensions["reason"] != "" {
			out = append(out, e.Extensions["reason"])
		} else {
			out = append(out, e.Extensions["code"])
		}
	}
	return out
}

// Get fetches u, following redirects.
func (b *Browser) Get(t testing.TB, u string) Response {
	t.Helper()
	return b.do(t, http.MethodGet, u, nil)
}

// PostForm posts form to u, following redirects.
func (b *Browser) PostForm(t testing.TB, u string, form url.Values) Response {
	t.Helper()
	return b.do(t, http.MethodPost, u, form)
}

func (b *Browser) do(t testing.TB, method, u string, form url.Values) Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return Response{Status: resp.StatusCode, URL: resp.Request.URL, Body: raw, Header: resp.Header}
}

// Until fetches u and follows redirects up to, not including, the first
// request to a URL whose path ends with suffix, and returns that URL (the
// test then decides what to do with it: a callback with a code and a state).
func (b *Browser) Until(t testing.TB, u, suffix string) *url.URL {
	t.Helper()
	b.stopAt = func(next *url.URL) bool { return strings.HasSuffix(next.Path, suffix) }
	defer func() { b.stopAt = nil }()
	r := b.Get(t, u)
	require.Equal(t, http.StatusFound, r.Status, "body: %s", r.Body)
	loc, err := r.URL.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(loc.Path, suffix), "redirected to %s", loc)
	return loc
}
