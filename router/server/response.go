package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/studio-platform/studio/router/gateway"
)

// mediaFor picks the media type for an error written before negotiation
// proper: the negotiated one when there is one, application/json otherwise.
func mediaFor(accept string) string {
	if m, ok := negotiate(accept); ok {
		return m
	}
	return mediaJSON
}

// statusFor maps a Response to its HTTP status. With application/json every
// well-formed request gets 200 (the spec's legacy rules); with
// application/graphql-response+json a request error gets 4xx. A mutation over
// GET is 405 for both (the spec's MUST).
func statusFor(media string, resp *gateway.Response) int {
	switch resp.Kind {
	case gateway.KindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case gateway.KindLimit:
		return http.StatusBadRequest // whatever the media type: refused before running
	case gateway.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case gateway.KindParse, gateway.KindValidation, gateway.KindBadRequest:
		if media == mediaGraphQLResponse {
			return http.StatusBadRequest
		}
	}
	return http.StatusOK
}

func defaultCode(k gateway.Kind) string {
	switch k {
	case gateway.KindParse:
		return CodeParseFailed
	case gateway.KindValidation:
		return CodeValidationFailed
	case gateway.KindBadRequest:
		return CodeBadRequest
	case gateway.KindMethodNotAllowed:
		return CodeMethodNotAllowed
	}
	return ""
}

// writeResponse writes {"data":...,"errors":[...],"extensions":{...}}, data
// omitted when Response.Data is nil. Request errors without a code get one
// from the Kind (the Response is not modified: it may be shared).
func writeResponse(w http.ResponseWriter, media string, resp *gateway.Response) {
	writeResponseStatus(w, media, resp, statusFor(media, resp))
}

// writeResponseStatus is writeResponse with the status given.
func writeResponseStatus(w http.ResponseWriter, media string, resp *gateway.Response, status int) {
	errs := resp.Errors
	if code := defaultCode(resp.Kind); code != "" {
		errs = make([]gateway.Error, len(resp.Errors))
		for i, e := range resp.Errors {
			if _, has := e.Extensions["code"]; !has {
				ext := make(map[string]any, len(e.Extensions)+1)
				for k, v := range e.Extensions {
					ext[k] = v
				}
				ext["code"] = code
				e.Extensions = ext
			}
			errs[i] = e
		}
	}

	// The data (the bulk of a response) is written as it is, between a head and
	// a tail built here: no copy of it.
	var head, tail bytes.Buffer
	head.WriteByte('{')
	if resp.Data != nil {
		head.WriteString(`"data":`)
	}
	sep := func() {
		if resp.Data != nil || tail.Len() > 0 {
			tail.WriteByte(',')
		}
	}
	if len(errs) > 0 {
		b, err := json.Marshal(errs)
		if err != nil {
			panic("server: cannot encode errors: " + err.Error())
		}
		sep()
		tail.WriteString(`"errors":`)
		tail.Write(b)
	}
	if len(resp.Extensions) > 0 {
		b, err := json.Marshal(resp.Extensions)
		if err != nil {
			panic("server: cannot encode extensions: " + err.Error())
		}
		sep()
		tail.WriteString(`"extensions":`)
		tail.Write(b)
	}
	if resp.Data == nil && tail.Len() == 0 { // neither data nor errors: still a valid response
		head.WriteString(`"data":null`)
	}
	tail.WriteByte('}')

	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "POST")
	}
	writeBody(w, media, status, head.Bytes(), resp.Data, tail.Bytes())
}

// errorBody is the GraphQL error response the server writes itself.
func errorBody(code, message string) []byte {
	b, _ := json.Marshal(struct {
		Errors []gateway.Error `json:"errors"`
	}{[]gateway.Error{{Message: message, Extensions: map[string]any{"code": code}}}})
	return b
}

func writeError(w http.ResponseWriter, media string, e *httpError) {
	writeBody(w, media, e.status, errorBody(e.code, e.message))
}

// writeBody writes a response whose body is the parts one after the other.
func writeBody(w http.ResponseWriter, media string, status int, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	h := w.Header()
	h.Set("Content-Type", media+"; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(n))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return // the client went away
		}
	}
}

// recoverer turns a panic in a handler into a 500 with a GraphQL error body
// and no internals; the panic and stack go to the log with the request id.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.ErrorContext(r.Context(), "panic serving request",
				"method", r.Method, "path", r.URL.Path,
				"request_id", w.Header().Get(HeaderRequestID),
				"panic", p, "stack", string(debug.Stack()))
			if tw.wrote {
				// Too late for a clean error: abort so the client sees a broken response.
				panic(http.ErrAbortHandler)
			}
			h := w.Header()
			for _, k := range []string{"Allow", "Content-Encoding", "Etag", "Last-Modified", "Cache-Control"} {
				h.Del(k)
			}
			writeBody(w, mediaFor(r.Header.Get("Accept")), http.StatusInternalServerError,
				errorBody(CodeInternal, "internal server error"))
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter records whether the response has started.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *trackingWriter) Flush() {
	w.wrote = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
