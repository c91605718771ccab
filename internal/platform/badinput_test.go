package platform_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/subgraphs/demo"
)

// TestBadInputThroughTheRouter sends each kind of bad request to the real router
// in front of the real subgraphs: each gets the spec's status code and a GraphQL
// error with a clear message and extensions.code, never a 500.
func TestBadInputThroughTheRouter(t *testing.T) {
	g := start(t, countingLimits)
	expired, err := g.p.Identity.Signer().Sign(auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   demo.DemoUser.ID,
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Hour)),
		},
		OrgID: demo.OrgID, Email: demo.DemoUser.Email,
	})
	require.NoError(t, err)
	gqlResp := "application/graphql-response+json"
	cases := []struct {
		name        string
		method      string
		contentType string
		accept      string
		auth        string
		body        string
		url         string
		status      int
		code        string
		message     string
	}{
		{name: "malformed JSON", body: `{"query": "{ me { email } }"`, status: 400, code: "BAD_REQUEST", message: "JSON"},
		{name: "missing query", body: `{"variables": {}}`, status: 400, code: "BAD_REQUEST", message: "query"},
		{name: "syntax error", accept: gqlResp, body: `{"query": "{ me { email "}`, status: 400, code: "GRAPHQL_PARSE_FAILED", message: "Expected"},
		{name: "syntax error, legacy JSON", accept: "application/json", body: `{"query": "{ me { email "}`, status: 200, code: "GRAPHQL_PARSE_FAILED", message: "Expected"},
		{name: "unknown field", accept: gqlResp, body: `{"query": "{ me { salary } }"}`, status: 400, code: "GRAPHQL_VALIDATION_FAILED", message: "salary"},
		{name: "unknown operation", accept: gqlResp, body: `{"query": "query A { me { email } }", "operationName": "B"}`, status: 400, code: "BAD_REQUEST", message: `"B"`},
		{name: "several operations, none named", accept: gqlResp, body: `{"query": "query A { me { email } } query B { me { name } }"}`, status: 400, code: "BAD_REQUEST", message: "operationName"},
		{name: "invalid variable", accept: gqlResp, body: `{"query": "query($id: ID!) { user(id: $id) { email } }", "variables": {"id": {"x": 1}}}`, status: 400, code: "BAD_USER_INPUT", message: "id"},
		{name: "missing variable", accept: gqlResp, body: `{"query": "query($id: ID!) { user(id: $id) { email } }"}`, status: 400, code: "BAD_USER_INPUT", message: "id"},
		{name: "variables not an object", body: `{"query": "{ me { email } }", "variables": [1]}`, status: 400, code: "BAD_REQUEST", message: "variables"},
		{name: "wrong content type", contentType: "text/plain", body: `{ me { email } }`, status: 415, code: "", message: "Content-Type"},
		{name: "body over the limit", body: `{"query": "{ me { email } }", "x": "` + strings.Repeat("a", 2<<20) + `"}`, status: 413, code: "", message: "limit"},
		{name: "mutation over GET", method: http.MethodGet, url: "/graphql?query=" + "mutation%7BcreateProject(input%3A%7Bname%3A%22x%22%7D)%7Bid%7D%7D", status: 405, code: "", message: "POST"},
		{name: "bad token", auth: "Bearer not.a.jwt", body: `{"query": "{ me { email } }"}`, status: 401, code: "UNAUTHENTICATED", message: "token"},
		{name: "expired token", auth: "Bearer " + expired, body: `{"query": "{ me { email } }"}`, status: 401, code: "UNAUTHENTICATED", message: "expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			url := g.p.RouterURL + "/graphql"
			if tc.url != "" {
				url = g.p.RouterURL + tc.url
			}
			req, err := http.NewRequest(method, url, strings.NewReader(tc.body))
			require.NoError(t, err)
			if method == http.MethodPost {
				ct := tc.contentType
				if ct == "" {
					ct = "application/json"
				}
				req.Header.Set("Content-Type", ct)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.StatusCode, string(raw))
			var body struct {
				Data   json.RawMessage `json:"data"`
				Errors []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(raw, &body), string(raw))
			require.NotEmpty(t, body.Errors, string(raw))
			require.Nil(t, body.Data, "a request error has no data entry")
			require.Contains(t, strings.ToLower(body.Errors[0].Message), strings.ToLower(tc.message))
			require.NotEmpty(t, body.Errors[0].Extensions["code"], "every error carries extensions.code")
			if tc.code != "" {
				require.Equal(t, tc.code, body.Errors[0].Extensions["code"])
			}
		})
	}
}
