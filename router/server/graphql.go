package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/studio-platform/studio/router/apq"
	"github.com/studio-platform/studio/router/gateway"
	"github.com/studio-platform/studio/router/subscribe"
	"github.com/studio-platform/studio/router/upload"
)

// Error codes (extensions.code) the HTTP layer produces itself.
const (
	CodeBadRequest           = "BAD_REQUEST"
	CodeParseFailed          = "GRAPHQL_PARSE_FAILED"
	CodeValidationFailed     = "GRAPHQL_VALIDATION_FAILED"
	CodeBadUserInput         = "BAD_USER_INPUT"
	CodeUnauthenticated      = "UNAUTHENTICATED"
	CodePayloadTooLarge      = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	CodeNotAcceptable        = "NOT_ACCEPTABLE"
	CodeMethodNotAllowed     = "METHOD_NOT_ALLOWED"
	CodeInternal             = "INTERNAL_SERVER_ERROR"
)

type graphqlHandler struct {
	exec         Executor
	maxBodyBytes int64
	forward      []string
	queryPlans   bool
	playground   *playground // nil when GraphiQL is disabled
	csrfHeaders  []string    // nil when CSRF prevention is off
	persisted    *apq.Resolver
	limits       *limiter // nil when rate limits are off
	timeout      time.Duration
	uploads      *upload.Limits // nil: multipart requests are refused
	subs         Subscriptions  // nil: subscriptions are not served
}

// Subscriptions serves subscriptions on /graphql (implemented by
// *subscribe.Service): WebSocket upgrades, and requests whose Accept asks
// for a stream (text/event-stream, multipart/mixed;subscriptionSpec).
type Subscriptions interface {
	ServeWebSocket(w http.ResponseWriter, r *http.Request, header http.Header)
	ServeStream(w http.ResponseWriter, r *http.Request, mode subscribe.Mode, req gateway.Request, fail func(*gateway.Response))
}

// httpError is a request the server refuses before execution.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.message }

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, CodeBadRequest, fmt.Sprintf(format, args...)}
}

func (h *graphqlHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	accept := r.Header.Get("Accept")
	if h.subs != nil && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		h.subs.ServeWebSocket(w, r, h.forwardHeader(r.Header))
		return
	}
	stream := subscribe.ModeNone
	if h.subs != nil {
		stream = subscribe.ModeFor(accept)
	}

	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, mediaFor(accept), &httpError{http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			fmt.Sprintf("method %s is not allowed: use GET or POST", r.Method)})
		return
	}
	// A browser opening /graphql gets the playground.
	if h.playground != nil && r.Method == http.MethodGet && r.URL.RawQuery == "" && prefersHTML(accept) {
		h.playground.page().ServeHTTP(w, r)
		return
	}
	media, ok := negotiate(accept)
	if stream != subscribe.ModeNone {
		media, ok = mediaGraphQLResponse, true // request errors before a stream: 4xx
	}
	if !ok {
		writeError(w, mediaJSON, &httpError{http.StatusNotAcceptable, CodeNotAcceptable,
			"none of the media types in the Accept header is supported: accept application/graphql-response+json or application/json"})
		return
	}

	if h.csrfHeaders != nil && !csrfSafe(r, h.csrfHeaders) {
		writeError(w, media, &httpError{http.StatusBadRequest, CodeCSRF, csrfMessage})
		return
	}

	var req gateway.Request
	var documentID string
	var herr *httpError
	timeout := h.timeout
	switch {
	case r.Method == http.MethodGet:
		req, documentID, herr = paramsFromURL(r.URL.RawQuery)
		req.ReadOnly = true
	case h.uploads != nil && upload.IsMultipart(r):
		timeout = h.uploads.Timeout
		req, documentID, herr = h.paramsFromMultipart(w, r)
	default:
		req, documentID, herr = h.paramsFromBody(w, r)
	}
	if herr != nil {
		writeError(w, media, herr)
		return
	}
	persisted, perr := h.persisted.Resolve(r.Context(), apq.Request{Query: req.Query, Extensions: req.Extensions, DocumentID: documentID})
	if perr != nil {
		if perr.Status == http.StatusOK && w.Header().Get("Cache-Control") == "" {
			// A 200 that must not be cached: a proxy would keep the client retrying.
			w.Header().Set("Cache-Control", "private, no-cache, must-revalidate")
		}
		writeError(w, media, &httpError{perr.Status, perr.Code, perr.Message})
		return
	}
	req.Query = persisted.Query
	if req.Query == "" {
		writeError(w, media, badRequest("missing the \"query\" parameter: it must be a string holding the GraphQL document"))
		return
	}
	if h.limits != nil && !h.limits.admit(r.Context(), w, r, media, req) {
		return
	}
	req.Header = h.forwardHeader(r.Header)
	if h.queryPlans {
		req.IncludePlan, _ = strconv.ParseBool(strings.TrimSpace(r.Header.Get(HeaderQueryPlan)))
	}

	setOperationName(r.Context(), req.OperationName)
	if stream != subscribe.ModeNone {
		h.subs.ServeStream(w, r, stream, req, func(resp *gateway.Response) {
			status := statusFor(media, resp)
			if status == http.StatusOK { // no stream to tell it in
				status = http.StatusServiceUnavailable
			}
			writeResponseStatus(w, media, resp, status)
		})
		return
	}
	ctx := r.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	resp := h.exec.Do(ctx, req)
	if resp == nil {
		panic("server: executor returned a nil response")
	}
	writeResponse(w, media, resp)
	if resp.Kind == gateway.KindOK {
		h.persisted.Register(r.Context(), persisted)
	}
	resp.Release()
}

func (h *graphqlHandler) forwardHeader(in http.Header) http.Header {
	out := make(http.Header, len(h.forward))
	for _, name := range h.forward {
		if vs := in.Values(name); len(vs) > 0 {
			out[http.CanonicalHeaderKey(name)] = append([]string(nil), vs...)
		}
	}
	return out
}

// rawParams holds the request parameters undecoded, so that each one's JSON
// type can be checked and reported precisely.
type rawParams struct {
	Query         json.RawMessage `json:"query"`
	OperationName json.RawMessage `json:"operationName"`
	DocumentID    json.RawMessage `json:"documentId"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

func (h *graphqlHandler) paramsFromBody(w http.ResponseWriter, r *http.Request) (gateway.Request, string, *httpError) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return gateway.Request{}, "", &httpError{http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"missing Content-Type header: send the request as application/json"}
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != mediaJSON {
		return gateway.Request{}, "", &httpError{http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			fmt.Sprintf("unsupported Content-Type %q: send the request as application/json", ct)}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return gateway.Request{}, "", &httpError{http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			fmt.Sprintf("unsupported charset %q: the request body must be UTF-8", cs)}
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBodyBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return gateway.Request{}, "", &httpError{http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
				fmt.Sprintf("request body is larger than the limit of %d bytes", h.maxBodyBytes)}
		}
		return gateway.Request{}, "", badRequest("cannot read the request body")
	}
	return parseParams(body)
}

// paramsFromMultipart reads a GraphQL multipart request up to its files
// (router/upload): its operations field holds the parameters, and the
// files stay in the body, to be streamed to the subgraph that takes them.
// Such a request may take longer than others: its read and write
// deadlines are the upload timeout's.
func (h *graphqlHandler) paramsFromMultipart(w http.ResponseWriter, r *http.Request) (gateway.Request, string, *httpError) {
	limits := *h.uploads
	if r.ContentLength > int64(limits.MaxFiles)*limits.MaxFileBytes+2*h.maxBodyBytes {
		return gateway.Request{}, "", &httpError{http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			fmt.Sprintf("request body is larger than %d files of at most %d bytes", limits.MaxFiles, limits.MaxFileBytes)}
	}
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(limits.Timeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline.Add(10 * time.Second))
	up, err := upload.Read(r, h.maxBodyBytes, limits)
	if err != nil {
		var ue *upload.Error
		errors.As(err, &ue)
		return gateway.Request{}, "", &httpError{ue.Status, ue.Code, ue.Message}
	}
	req, documentID, herr := parseParams(up.Operations)
	if herr != nil {
		return req, documentID, herr
	}
	if req.Variables, err = up.Fill(req.Variables); err != nil {
		var ue *upload.Error
		errors.As(err, &ue)
		return req, documentID, &httpError{ue.Status, ue.Code, ue.Message}
	}
	req.Uploads = up
	return req, documentID, nil
}

// parseParams decodes a JSON request body (or a multipart request's
// operations field).
func parseParams(body []byte) (gateway.Request, string, *httpError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return gateway.Request{}, "", badRequest("the request body is empty: send a JSON object with a \"query\"")
	}
	if trimmed[0] != '{' {
		if json.Valid(trimmed) {
			return gateway.Request{}, "", badRequest("the request body must be a JSON object (batched requests are not supported)")
		}
		return gateway.Request{}, "", badRequest("the request body is not valid JSON")
	}
	var raw rawParams
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return gateway.Request{}, "", badRequest("the request body is not valid JSON: %s at offset %d", syn.Error(), syn.Offset)
		}
		return gateway.Request{}, "", badRequest("the request body is not valid JSON")
	}

	var req gateway.Request
	var err error
	if req.Query, err = stringParam("query", raw.Query); err != nil {
		return req, "", badRequest("%s", err)
	}
	if req.OperationName, err = stringParam("operationName", raw.OperationName); err != nil {
		return req, "", badRequest("%s", err)
	}
	if req.Variables, err = objectParam("variables", raw.Variables); err != nil {
		return req, "", badRequest("%s", err)
	}
	if req.Extensions, err = objectParam("extensions", raw.Extensions); err != nil {
		return req, "", badRequest("%s", err)
	}
	documentID, err := stringParam("documentId", raw.DocumentID)
	if err != nil {
		return req, "", badRequest("%s", err)
	}
	return req, documentID, nil
}

// paramsFromURL reads a GET request's parameters from the query string; the
// variables and extensions parameters are JSON-encoded objects.
func paramsFromURL(rawQuery string) (gateway.Request, string, *httpError) {
	var req gateway.Request
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return req, "", badRequest("the URL query string is malformed")
	}
	req.Query = q.Get("query")
	req.OperationName = q.Get("operationName")
	for _, p := range []struct {
		name string
		dst  *map[string]json.RawMessage
	}{{"variables", &req.Variables}, {"extensions", &req.Extensions}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		if !json.Valid([]byte(v)) {
			return req, "", badRequest("the %q parameter must be a JSON-encoded object", p.name)
		}
		if *p.dst, err = objectParam(p.name, json.RawMessage(v)); err != nil {
			return req, "", badRequest("%s", err)
		}
	}
	return req, q.Get("documentId"), nil
}

// stringParam decodes an optional string parameter; absent or null gives "".
func stringParam(name string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("the %q parameter must be a string, not %s", name, jsonKind(raw))
	}
	return s, nil
}

// objectParam decodes an optional object parameter; absent or null gives nil.
func objectParam(name string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	if k := jsonKind(raw); k != "an object" {
		return nil, fmt.Errorf("the %q parameter must be an object, not %s", name, k)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("the %q parameter must be an object", name)
	}
	return m, nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
