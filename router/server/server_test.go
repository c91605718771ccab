package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/health"
	"github.com/studio-platform/studio/internal/metrics"
	"github.com/studio-platform/studio/router/gateway"
)

// fakeExecutor stands in for the gateway (our own code, not infrastructure):
// it records what the server decoded and answers by the query text.
type fakeExecutor struct {
	mu     sync.Mutex
	calls  []gateway.Request
	claims *auth.Claims
}

func (f *fakeExecutor) Do(ctx context.Context, req gateway.Request) *gateway.Response {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	f.claims, _ = auth.ClaimsFromContext(ctx)
	f.mu.Unlock()
	switch {
	case strings.Contains(req.Query, "PANIC"):
		panic("boom: secret internal detail")
	case strings.HasPrefix(req.Query, "{ broken"):
		return &gateway.Response{Kind: gateway.KindParse, Errors: []gateway.Error{{
			Message: "Syntax Error: Expected Name, found <EOF>.", Locations: []gateway.Location{{Line: 1, Column: 9}},
		}}}
	case strings.Contains(req.Query, "unknownField"):
		return &gateway.Response{Kind: gateway.KindValidation, Errors: []gateway.Error{{
			Message: `Cannot query field "unknownField" on type "Query".`, Extensions: map[string]any{"code": CodeValidationFailed},
		}}}
	case strings.HasPrefix(req.Query, "mutation") && req.ReadOnly:
		return &gateway.Response{Kind: gateway.KindMethodNotAllowed, Errors: []gateway.Error{{
			Message: "mutations cannot be sent with GET; use POST",
		}}}
	case strings.Contains(req.Query, "nullData"):
		return &gateway.Response{Kind: gateway.KindOK, Data: json.RawMessage(`null`), Errors: []gateway.Error{{
			Message: "field failed", Path: []any{"me"},
		}}}
	}
	resp := &gateway.Response{Kind: gateway.KindOK, Data: json.RawMessage(`{"hello":"world"}`)}
	if req.IncludePlan {
		resp.Extensions = map[string]any{"queryPlan": map[string]any{"kind": "Fetch"}}
	}
	return resp
}

func (f *fakeExecutor) last(t *testing.T) gateway.Request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(t, f.calls, "executor was not called")
	return f.calls[len(f.calls)-1]
}

func (f *fakeExecutor) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

var quiet = WithLogger(slog.New(slog.DiscardHandler))

type result struct {
	*httptest.ResponseRecorder
	body gqlBody
}

type gqlBody struct {
	Data       json.RawMessage `json:"data"`
	Errors     []gateway.Error `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

func (r result) code() string {
	if len(r.body.Errors) == 0 {
		return ""
	}
	c, _ := r.body.Errors[0].Extensions["code"].(string)
	return c
}

func serve(t *testing.T, h http.Handler, req *http.Request) result {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := result{ResponseRecorder: rec}
	if strings.Contains(rec.Header().Get("Content-Type"), "json") {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res.body), "body: %s", rec.Body.String())
	}
	return res
}

func post(body, accept string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	return r
}

func get(params url.Values, accept string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/graphql?"+params.Encode(), nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	return r
}

const (
	gqlResp  = "application/graphql-response+json"
	jsonResp = "application/json"
)

// requireError checks a request error: status, code, media type, a message,
// and that the executor never ran.
func requireError(t *testing.T, f *fakeExecutor, res result, status int, code, media string) {
	t.Helper()
	require.Equal(t, status, res.Code, "body: %s", res.Body.String())
	require.Equal(t, media+"; charset=utf-8", res.Header().Get("Content-Type"))
	require.Len(t, res.body.Errors, 1, "body: %s", res.Body.String())
	require.NotEmpty(t, res.body.Errors[0].Message)
	require.Equal(t, code, res.code())
	require.Nil(t, res.body.Data, "request errors carry no data")
	require.Zero(t, f.count(), "executor must not run")
}

func TestMalformedJSON(t *testing.T) {
	for _, body := range []string{`NONSENSE`, `{"query":`, `{"query": "{ a }",}`} {
		for _, accept := range []string{gqlResp, jsonResp} {
			f := &fakeExecutor{}
			res := serve(t, New(f, quiet), post(body, accept))
			requireError(t, f, res, http.StatusBadRequest, CodeBadRequest, accept)
			require.Contains(t, res.body.Errors[0].Message, "not valid JSON")
		}
	}
}

func TestBodyNotAnObject(t *testing.T) {
	f := &fakeExecutor{}
	res := serve(t, New(f, quiet), post(`[{"query":"{ a }"}]`, ""))
	requireError(t, f, res, http.StatusBadRequest, CodeBadRequest, jsonResp) // no Accept: application/json
	require.Contains(t, res.body.Errors[0].Message, "JSON object")
}

func TestMissingQuery(t *testing.T) {
	for _, body := range []string{`{"qeury":"{ a }"}`, `{}`, `{"query":null}`, `{"query":""}`} {
		f := &fakeExecutor{}
		res := serve(t, New(f, quiet), post(body, jsonResp))
		requireError(t, f, res, http.StatusBadRequest, CodeBadRequest, jsonResp)
		require.Contains(t, res.body.Errors[0].Message, `"query"`)
	}
	f := &fakeExecutor{}
	res := serve(t, New(f, quiet), get(url.Values{}, gqlResp))
	requireError(t, f, res, http.StatusBadRequest, CodeBadRequest, gqlResp)
}

func TestWrongParameterTypes(t *testing.T) {
	for body, want := range map[string]string{
		`{"query":{"obj":"ect"}}`:                   `"query" parameter must be a string, not an object`,
		`{"query":0}`:                               `"query" parameter must be a string, not a number`,
		`{"query":false}`:                           `"query" parameter must be a string, not a boolean`,
		`{"query":"{ a }","operationName":["x"]}`:   `"operationName" parameter must be a string, not an array`,
		`{"query":"{ a }","extensions":"x"}`:        `"extensions" parameter must be an object, not a string`,
		`{"query":"{ a }","variables":[7]}`:         `"variables" parameter must be an object, not an array`,
		`{"query":"{ a }","variables":"{\"a\":1}"}`: `"variables" parameter must be an object, not a string`,
		`{"query":"{ a }","variables":0}`:           `"variables" parameter must be an object, not a number`,
	} {
		t.Run(body, func(t *testing.T) {
			f := &fakeExecutor{}
			res := serve(t, New(f, quiet), post(body, gqlResp))
			requireError(t, f, res, http.StatusBadRequest, CodeBadRequest, gqlResp)
			require.Contains(t, res.body.Errors[0].Message, want)
		})
	}
}

func TestInvalidVariablesOverGET(t *testing.T) {
	for _, v := range []string{`[1]`, `"x"`, `{not json`} {
		f := &fakeExecutor{}
		res := serve(t, New(f, quiet), get(url.Values{"query": {"{ a }"}, "variables": {v}}, gqlResp))
		requireError(t, f, res, http.StatusBadRequest, CodeBadRequest, gqlResp)
		require.Contains(t, res.body.Errors[0].Message, `"variables"`)
	}
}

func TestNullOptionalParametersAreAllowed(t *testing.T) {
	f := &fakeExecutor{}
	res := serve(t, New(f, quiet), post(`{"query":"{ a }","operationName":null,"variables":null,"extensions":null}`, gqlResp))
	require.Equal(t, http.StatusOK, res.Code)
	require.Empty(t, res.body.Errors)
	req := f.last(t)
	require.Equal(t, "{ a }", req.Query)
	require.Empty(t, req.OperationName)
	require.Nil(t, req.Variables)
	require.Nil(t, req.Extensions)
}

func TestUnsupportedContentType(t *testing.T) {
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "", "garbage/"} {
		f := &fakeExecutor{}
		r := post(`{"query":"{ a }"}`, gqlResp)
		if ct == "" {
			r.Header.Del("Content-Type")
		} else {
			r.Header.Set("Content-Type", ct)
		}
		res := serve(t, New(f, quiet), r)
		requireError(t, f, res, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, gqlResp)
	}
	// utf-8 spelled out is fine.
	f := &fakeExecutor{}
	r := post(`{"query":"{ a }"}`, gqlResp)
	r.Header.Set("Content-Type", "application/json; charset=UTF-8")
	require.Equal(t, http.StatusOK, serve(t, New(f, quiet), r).Code)
}

func TestEmptyBody(t *testing.T) {
	f := &fakeExecutor{}
	res := serve(t, New(f, quiet), post(``, jsonResp))
	requireError(t, f, res, http.StatusBadRequest, CodeBadRequest, jsonResp)
}

func TestOversizedBody(t *testing.T) {
	f := &fakeExecutor{}
	h := New(f, quiet, WithMaxBodyBytes(1024))
	big := `{"query":"{ a }","variables":{"pad":"` + strings.Repeat("x", 2048) + `"}}`
	res := serve(t, h, post(big, gqlResp))
	requireError(t, f, res, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, gqlResp)
	require.Contains(t, res.body.Errors[0].Message, "1024")

	// Default limit is 1 MiB.
	huge := `{"query":"{ a }","variables":{"pad":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}}`
	res = serve(t, New(f, quiet), post(huge, jsonResp))
	require.Equal(t, http.StatusRequestEntityTooLarge, res.Code)
	small := `{"query":"{ a }","variables":{"pad":"` + strings.Repeat("x", 900) + `"}}`
	require.Equal(t, http.StatusOK, serve(t, h, post(small, jsonResp)).Code)
}

func TestMutationOverGET(t *testing.T) {
	for _, accept := range []string{gqlResp, jsonResp} {
		f := &fakeExecutor{}
		res := serve(t, New(f, quiet), get(url.Values{"query": {"mutation { a }"}}, accept))
		require.Equal(t, http.StatusMethodNotAllowed, res.Code, "405 is a MUST for both media types")
		require.Equal(t, "POST", res.Header().Get("Allow"))
		require.Equal(t, CodeMethodNotAllowed, res.code(), "code filled in from the Kind")
		require.True(t, f.last(t).ReadOnly)
	}
}

func TestOtherMethods(t *testing.T) {
	f := &fakeExecutor{}
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		res := serve(t, New(f, quiet), httptest.NewRequest(m, "/graphql", strings.NewReader(`{"query":"{ a }"}`)))
		require.Equal(t, http.StatusMethodNotAllowed, res.Code)
		require.Equal(t, "GET, POST", res.Header().Get("Allow"))
		require.Equal(t, CodeMethodNotAllowed, res.code())
	}
	require.Zero(t, f.count())
}

func TestParseAndValidationErrorStatusByMediaType(t *testing.T) {
	for _, tc := range []struct {
		query, accept, code string
		status              int
	}{
		{"{ broken", gqlResp, CodeParseFailed, http.StatusBadRequest},
		{"{ broken", jsonResp, CodeParseFailed, http.StatusOK},
		{"{ unknownField }", gqlResp, CodeValidationFailed, http.StatusBadRequest},
		{"{ unknownField }", jsonResp, CodeValidationFailed, http.StatusOK},
	} {
		t.Run(tc.query+" "+tc.accept, func(t *testing.T) {
			f := &fakeExecutor{}
			res := serve(t, New(f, quiet), post(`{"query":`+mustJSON(tc.query)+`}`, tc.accept))
			require.Equal(t, tc.status, res.Code)
			require.Equal(t, tc.accept+"; charset=utf-8", res.Header().Get("Content-Type"))
			require.Equal(t, tc.code, res.code())
			require.NotContains(t, res.Body.String(), `"data"`, "data absent on request errors")
		})
	}
	f := &fakeExecutor{}
	res := serve(t, New(f, quiet), post(`{"query":"{ broken"}`, jsonResp))
	require.Equal(t, []gateway.Location{{Line: 1, Column: 9}}, res.body.Errors[0].Locations)
}

func TestAcceptNegotiation(t *testing.T) {
	for accept, want := range map[string]string{
		"":                                           jsonResp,
		"*/*":                                        jsonResp,
		"application/*":                              jsonResp,
		"application/graphql-response+json":          gqlResp,
		"application/json":                           jsonResp,
		"application/json; charset=utf-8":            jsonResp,
		"application/json, multipart/mixed":          jsonResp, // GraphiQL
		"text/html, application/json;q=0.9":          jsonResp,
		"application/json;q=0.5, */*;q=0.1":          jsonResp,
		"application/json, */*;q=0.1":                jsonResp,
		"application/json;q=0.5, */*":                gqlResp,
		"application/graphql-response+json;q=0, */*": jsonResp,
		"application/json, application/graphql-response+json":                 gqlResp,
		"application/graphql-response+json,application/json;q=0.9":            gqlResp, // Apollo Client
		"application/graphql-response+json; charset=utf-16, application/json": jsonResp,
	} {
		t.Run(accept, func(t *testing.T) {
			f := &fakeExecutor{}
			res := serve(t, New(f, quiet), post(`{"query":"{ a }"}`, accept))
			require.Equal(t, http.StatusOK, res.Code)
			require.Equal(t, want+"; charset=utf-8", res.Header().Get("Content-Type"))
			require.JSONEq(t, `{"data":{"hello":"world"}}`, res.Body.String())
			require.Contains(t, res.Header().Values("Vary"), "Accept")
		})
	}
	for _, accept := range []string{"text/html", "image/png, text/plain", "application/json;q=0", "application/graphql-response+json; charset=utf-16"} {
		t.Run("406 "+accept, func(t *testing.T) {
			f := &fakeExecutor{}
			res := serve(t, New(f, quiet), post(`{"query":"{ a }"}`, accept))
			requireError(t, f, res, http.StatusNotAcceptable, CodeNotAcceptable, jsonResp)
		})
	}
}

func TestGETRequest(t *testing.T) {
	f := &fakeExecutor{}
	res := serve(t, New(f, quiet), get(url.Values{
		"query":         {"query Q($id: ID!) { user(id: $id) { name } }"},
		"operationName": {"Q"},
		"variables":     {`{"id":"QVBJcy5ndXJ1"}`},
		"extensions":    {`{"clientLibrary":{"name":"x"}}`},
	}, ""))
	require.Equal(t, http.StatusOK, res.Code)
	req := f.last(t)
	require.True(t, req.ReadOnly)
	require.Equal(t, "Q", req.OperationName)
	require.JSONEq(t, `"QVBJcy5ndXJ1"`, string(req.Variables["id"]))
	require.JSONEq(t, `{"name":"x"}`, string(req.Extensions["clientLibrary"]))

	res = serve(t, New(f, quiet), httptest.NewRequest(http.MethodGet, "/graphql?query=%zz", nil))
	require.Equal(t, http.StatusBadRequest, res.Code)
}

func TestPOSTRequestDecoding(t *testing.T) {
	f := &fakeExecutor{}
	res := serve(t, New(f, quiet), post(`{"query":"query Q { a }","operationName":"Q","variables":{"n":1,"o":{"x":[1,2]}},"extensions":{"k":true},"unknown":1}`, gqlResp))
	require.Equal(t, http.StatusOK, res.Code)
	req := f.last(t)
	require.False(t, req.ReadOnly)
	require.Equal(t, "query Q { a }", req.Query)
	require.Equal(t, "Q", req.OperationName)
	require.JSONEq(t, `1`, string(req.Variables["n"]))
	require.JSONEq(t, `{"x":[1,2]}`, string(req.Variables["o"]))
	require.JSONEq(t, `true`, string(req.Extensions["k"]))
	require.False(t, req.IncludePlan)
}

func TestForwardedHeadersAndRequestID(t *testing.T) {
	f := &fakeExecutor{}
	h := New(f, quiet, WithForwardHeaders("X-Tenant"))
	r := post(`{"query":"{ a }"}`, "")
	r.Header.Set("Authorization", "Bearer abc")
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	r.Header.Set("Tracestate", "congo=t61rcWkgMzE")
	r.Header.Set("X-Tenant", "t1")
	r.Header.Set("Cookie", "session=secret")
	r.Header.Set("X-Request-Id", "client-id-123")
	res := serve(t, h, r)
	require.Equal(t, "client-id-123", res.Header().Get("X-Request-Id"))
	fwd := f.last(t).Header
	require.Equal(t, "Bearer abc", fwd.Get("Authorization"))
	require.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", fwd.Get("Traceparent"))
	require.Equal(t, "congo=t61rcWkgMzE", fwd.Get("Tracestate"))
	require.Equal(t, "t1", fwd.Get("X-Tenant"))
	require.Equal(t, "client-id-123", fwd.Get("X-Request-Id"))
	require.Empty(t, fwd.Get("Cookie"), "only listed headers are forwarded")

	// Absent or malformed ids are replaced by a generated one.
	for _, id := range []string{"", "has space", strings.Repeat("x", 200), "bad\x01"} {
		r := post(`{"query":"{ a }"}`, "")
		if id != "" {
			r.Header.Set("X-Request-Id", id)
		}
		res := serve(t, h, r)
		got := res.Header().Get("X-Request-Id")
		require.Regexp(t, `^[0-9a-f]{32}$`, got)
		require.Equal(t, got, f.last(t).Header.Get("X-Request-Id"))
	}
}

func TestQueryPlanHeader(t *testing.T) {
	f := &fakeExecutor{}
	r := post(`{"query":"{ a }"}`, gqlResp)
	r.Header.Set(HeaderQueryPlan, "true")
	res := serve(t, New(f, quiet), r)
	require.True(t, f.last(t).IncludePlan)
	require.JSONEq(t, `{"data":{"hello":"world"},"extensions":{"queryPlan":{"kind":"Fetch"}}}`, res.Body.String())

	r = post(`{"query":"{ a }"}`, gqlResp)
	r.Header.Set(HeaderQueryPlan, "true")
	serve(t, New(f, quiet, WithQueryPlans(false)), r)
	require.False(t, f.last(t).IncludePlan, "plans can be switched off")

	serve(t, New(f, quiet), get(url.Values{"query": {"{ a }"}, "plan": {"1"}}, ""))
	require.False(t, f.last(t).IncludePlan, "only the header asks for a plan")
}

func TestResponseShape(t *testing.T) {
	f := &fakeExecutor{}
	res := serve(t, New(f, quiet), post(`{"query":"{ nullData }"}`, gqlResp))
	require.Equal(t, http.StatusOK, res.Code)
	require.JSONEq(t, `{"data":null,"errors":[{"message":"field failed","path":["me"]}]}`, res.Body.String())
	require.NotEmpty(t, res.Header().Get("Content-Length"))
}

func TestErrorCodeFilledWithoutMutatingResponse(t *testing.T) {
	shared := &gateway.Response{Kind: gateway.KindBadRequest, Errors: []gateway.Error{{
		Message:    "Variable \"$id\" of required type \"ID!\" was not provided.",
		Extensions: map[string]any{"hint": "x"},
	}}}
	h := New(executorFunc(func(context.Context, gateway.Request) *gateway.Response { return shared }), quiet)
	res := serve(t, h, post(`{"query":"query($id: ID!) { a(id: $id) }"}`, gqlResp))
	require.Equal(t, http.StatusBadRequest, res.Code)
	require.Equal(t, CodeBadRequest, res.code())
	require.Equal(t, "x", res.body.Errors[0].Extensions["hint"])
	require.NotContains(t, shared.Errors[0].Extensions, "code", "the executor's response is not modified")

	shared.Errors[0].Extensions = map[string]any{"code": CodeBadUserInput}
	res = serve(t, h, post(`{"query":"query($id: ID!) { a(id: $id) }"}`, jsonResp))
	require.Equal(t, http.StatusOK, res.Code)
	require.Equal(t, CodeBadUserInput, res.code(), "the executor's code wins")
}

type executorFunc func(context.Context, gateway.Request) *gateway.Response

func (f executorFunc) Do(ctx context.Context, r gateway.Request) *gateway.Response { return f(ctx, r) }

func TestPanicBecomes500WithoutInternals(t *testing.T) {
	var logs bytes.Buffer
	f := &fakeExecutor{}
	h := New(f, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	for _, accept := range []string{gqlResp, jsonResp} {
		res := serve(t, h, post(`{"query":"{ PANIC }"}`, accept))
		require.Equal(t, http.StatusInternalServerError, res.Code)
		require.Equal(t, accept+"; charset=utf-8", res.Header().Get("Content-Type"))
		require.Equal(t, CodeInternal, res.code())
		require.Equal(t, "internal server error", res.body.Errors[0].Message)
		require.NotContains(t, res.Body.String(), "boom")
		require.NotContains(t, res.Body.String(), "secret")
		require.NotEmpty(t, res.Header().Get("X-Request-Id"))
	}
	require.Contains(t, logs.String(), "secret internal detail", "the panic is logged")
	require.Contains(t, logs.String(), "request_id")

	nilExec := New(executorFunc(func(context.Context, gateway.Request) *gateway.Response { return nil }), quiet)
	res := serve(t, nilExec, post(`{"query":"{ a }"}`, ""))
	require.Equal(t, http.StatusInternalServerError, res.Code)

	// The server keeps serving after a panic.
	require.Equal(t, http.StatusOK, serve(t, h, post(`{"query":"{ a }"}`, "")).Code)
}

func TestAuth(t *testing.T) {
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	signer := auth.NewSigner("k1", key, "https://identity.test")
	jwks := httptest.NewServer(signer.JWKSHandler())
	defer jwks.Close()
	verifier := auth.NewJWKSVerifier(jwks.URL, auth.WithLeeway(0), auth.WithIssuer("https://identity.test"))

	sign := func(ttl time.Duration) string {
		tok, err := signer.Sign(auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: "user-1", ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl))},
			OrgID:            "org-1",
		})
		require.NoError(t, err)
		return tok
	}
	other, err := auth.GenerateKey()
	require.NoError(t, err)
	forged, err := auth.NewSigner("k1", other, "https://identity.test").Sign(auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "admin", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
	})
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		authz, msg string
	}{
		"expired token":     {"Bearer " + sign(-time.Minute), "token expired"},
		"bad token":         {"Bearer not-a-jwt", "invalid token"},
		"forged signature":  {"Bearer " + forged, "invalid token"},
		"not bearer scheme": {"Basic dXNlcjpwYXNz", "invalid token"},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeExecutor{}
			r := post(`{"query":"{ a }"}`, gqlResp)
			r.Header.Set("Authorization", tc.authz)
			res := serve(t, New(f, quiet, WithVerifier(verifier)), r)
			requireError(t, f, res, http.StatusUnauthorized, CodeUnauthenticated, gqlResp)
			require.Equal(t, tc.msg, res.body.Errors[0].Message)
			require.Contains(t, res.Header().Get("WWW-Authenticate"), "Bearer")
			require.NotEmpty(t, res.Header().Get("X-Request-Id"))
		})
	}

	t.Run("valid token reaches the executor", func(t *testing.T) {
		f := &fakeExecutor{}
		tok := sign(time.Hour)
		r := post(`{"query":"{ a }"}`, gqlResp)
		r.Header.Set("Authorization", "Bearer "+tok)
		res := serve(t, New(f, quiet, WithVerifier(verifier)), r)
		require.Equal(t, http.StatusOK, res.Code)
		require.NotNil(t, f.claims)
		require.Equal(t, "user-1", f.claims.Subject)
		require.Equal(t, "org-1", f.claims.OrgID)
		require.Equal(t, "Bearer "+tok, f.last(t).Header.Get("Authorization"))
	})
	t.Run("anonymous passes", func(t *testing.T) {
		f := &fakeExecutor{}
		res := serve(t, New(f, quiet, WithVerifier(verifier)), post(`{"query":"{ a }"}`, gqlResp))
		require.Equal(t, http.StatusOK, res.Code)
		require.Nil(t, f.claims)
	})
}

var externalURL = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9]`)

func TestGraphiQLPage(t *testing.T) {
	h := New(&fakeExecutor{}, quiet)
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/", nil),
		func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
			r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
			return r
		}(),
	} {
		res := serve(t, h, r)
		require.Equal(t, http.StatusOK, res.Code)
		require.Equal(t, "text/html; charset=utf-8", res.Header().Get("Content-Type"))
		require.Contains(t, res.Header().Get("Content-Security-Policy"), "script-src 'self'")
		page := res.Body.String()
		require.NotRegexp(t, externalURL, page, "the page loads nothing from the internet")

		refs := regexp.MustCompile(`(?:src|href)="(/[^"]+)"`).FindAllStringSubmatch(page, -1)
		require.Len(t, refs, 6, "css x2, react, react-dom, graphiql, studio.js")
		for _, ref := range refs {
			asset := serve(t, h, httptest.NewRequest(http.MethodGet, ref[1], nil))
			require.Equal(t, http.StatusOK, asset.Code, ref[1])
			disk, err := os.ReadFile("graphiql" + strings.TrimPrefix(ref[1], "/graphiql"))
			require.NoError(t, err)
			require.True(t, bytes.Equal(disk, asset.Body.Bytes()), "%s is served byte for byte", ref[1])
		}
	}

	js := serve(t, h, httptest.NewRequest(http.MethodGet, "/graphiql/studio.js", nil)).Body.String()
	require.Contains(t, js, "X-Studio-Query-Plan")
	require.Contains(t, js, "/graphql")
	require.NotRegexp(t, externalURL, js)
}

func TestGraphiQLAssets(t *testing.T) {
	h := New(&fakeExecutor{}, quiet)
	disk, err := os.ReadFile("graphiql/assets/graphiql.min.js")
	require.NoError(t, err)

	res := serve(t, h, httptest.NewRequest(http.MethodGet, "/graphiql/assets/graphiql.min.js", nil))
	require.Equal(t, http.StatusOK, res.Code)
	require.Equal(t, "text/javascript; charset=utf-8", res.Header().Get("Content-Type"))
	require.Equal(t, disk, res.Body.Bytes())
	etag := res.Header().Get("ETag")
	require.NotEmpty(t, etag)

	r := httptest.NewRequest(http.MethodGet, "/graphiql/assets/graphiql.min.js", nil)
	r.Header.Set("If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, serve(t, h, r).Code)

	r = httptest.NewRequest(http.MethodGet, "/graphiql/assets/graphiql.min.js", nil)
	r.Header.Set("Accept-Encoding", "gzip, br")
	res = serve(t, h, r)
	require.Equal(t, "gzip", res.Header().Get("Content-Encoding"))
	require.Less(t, res.Body.Len(), len(disk)/2)
	zr, err := gzip.NewReader(res.Body)
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, disk, plain)

	for _, p := range []string{"/graphiql/assets/nope.js", "/graphiql/package.json", "/graphiql/update.sh", "/graphiql/node_modules/react/index.js"} {
		require.Equal(t, http.StatusNotFound, serve(t, h, httptest.NewRequest(http.MethodGet, p, nil)).Code, p)
	}

	off := New(&fakeExecutor{}, quiet, WithGraphiQL(false))
	require.Equal(t, http.StatusNotFound, serve(t, off, httptest.NewRequest(http.MethodGet, "/", nil)).Code)
}

func TestHealthReadyMetrics(t *testing.T) {
	m := metrics.New("router")
	pgDown := errors.New("connection refused")
	var fail bool
	var mu sync.Mutex
	h := New(&fakeExecutor{}, quiet, WithMetrics(m), WithReadyChecks(health.Check{Name: "supergraph", Fn: func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return pgDown
		}
		return nil
	}}))

	res := serve(t, h, httptest.NewRequest(http.MethodGet, "/health", nil))
	require.Equal(t, http.StatusOK, res.Code)
	require.JSONEq(t, `{"status":"ok"}`, res.Body.String())

	res = serve(t, h, httptest.NewRequest(http.MethodGet, "/ready", nil))
	require.Equal(t, http.StatusOK, res.Code)
	mu.Lock()
	fail = true
	mu.Unlock()
	res = serve(t, h, httptest.NewRequest(http.MethodGet, "/ready", nil))
	require.Equal(t, http.StatusServiceUnavailable, res.Code)
	require.Contains(t, res.Body.String(), `"supergraph":{"status":"fail"`)

	serve(t, h, post(`{"query":"{ a }"}`, ""))
	res = serve(t, h, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, res.Code)
	require.Contains(t, res.Body.String(), `http_requests_total{code="200",method="POST",path="/graphql",service="router"} 1`)
	require.Contains(t, res.Body.String(), `http_requests_total{code="503",method="GET",path="GET /ready",service="router"} 1`)
}

func TestNegotiateUnit(t *testing.T) {
	m, ok := negotiate("application/json;q=abc")
	require.False(t, ok, m)
	require.True(t, prefersHTML("text/html, */*"))
	require.False(t, prefersHTML("application/json"))
	require.True(t, validRequestID("abc-123_x.y:z"))
	require.False(t, validRequestID("a b"))
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The lead's gateway is the production Executor.
var _ Executor = (*gateway.Gateway)(nil)
