package subscribe

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/router/gateway"
)

// Mode is a streaming HTTP response format.
type Mode int

const (
	// ModeNone: not a streaming request.
	ModeNone Mode = iota
	// ModeSSE: GraphQL over Server-Sent Events, distinct connections mode
	// (graphql-sse): `event: next` per result, then `event: complete`.
	ModeSSE
	// ModeMultipart: Apollo's multipart HTTP subscriptions
	// (multipart/mixed;subscriptionSpec="1.0"): a part {"payload": result}
	// per event, {} heartbeats, {"payload": null, "errors"} for an error
	// that ends the stream.
	ModeMultipart
)

// ModeFor is the streaming mode an Accept header asks for.
func ModeFor(accept string) Mode {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch {
		case mt == "text/event-stream":
			return ModeSSE
		case mt == "multipart/mixed" && params["subscriptionspec"] != "":
			return ModeMultipart
		}
	}
	return ModeNone
}

const multipartBoundary = "graphql"

// ServeStream runs req as a streaming response in mode. Until the stream
// starts, a request that cannot run is answered by fail (the server's
// GraphQL-over-HTTP error response); once it started, errors are results
// of the stream.
func (s *Service) ServeStream(w http.ResponseWriter, r *http.Request, mode Mode, req gateway.Request, fail func(*gateway.Response)) {
	c, err := s.open(r, nil)
	if err != nil {
		se := asStreamError(err)
		status := http.StatusTooManyRequests
		if errors.Is(err, errShuttingDown) {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"errors":` + string(errorsJSON(se.code, se.message)) + `}`))
		return
	}
	defer c.close()
	token := bearer(r.Header.Get("Authorization"))
	claims, _ := auth.ClaimsFromContext(r.Context())
	go c.watch(token, claims)
	ctx := c.ctx

	var sub *gateway.Subscription
	var single *gateway.Response
	if s.src.IsSubscription(ctx, req) {
		var resp *gateway.Response
		if sub, resp = s.src.Subscribe(ctx, req); resp != nil {
			fail(resp)
			return
		}
	} else {
		single = s.src.Do(ctx, req)
		defer single.Release()
		if single.Kind != gateway.KindOK {
			fail(single)
			return
		}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the stream outlives the server's write timeout
	out := &streamWriter{w: w, rc: rc, mode: mode, timeout: s.cfg.WriteTimeout}
	out.start()
	if single != nil {
		_ = out.result(resultJSON(single))
		out.end(nil)
		return
	}
	err = pump(ctx, s, sub, token, s.cfg.KeepAlive, out.result)
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return // the client went away
	}
	out.end(err)
}

// streamWriter writes results in one of the streaming formats.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	mode    Mode
	timeout time.Duration
}

func (sw *streamWriter) start() {
	h := sw.w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	if sw.mode == ModeSSE {
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
	} else {
		h.Set("Content-Type", `multipart/mixed;boundary="`+multipartBoundary+`";subscriptionSpec="1.0"`)
	}
	sw.w.WriteHeader(http.StatusOK)
	if sw.mode == ModeSSE {
		_ = sw.write(":\n\n")
	} else {
		_ = sw.write("\r\n--" + multipartBoundary)
	}
}

// result writes one result (nil: a heartbeat).
func (sw *streamWriter) result(b []byte) error {
	switch {
	case sw.mode == ModeSSE && b == nil:
		return sw.write(":\n\n")
	case sw.mode == ModeSSE:
		return sw.write("event: next\ndata: " + string(b) + "\n\n")
	case b == nil:
		return sw.part("{}")
	default:
		return sw.part(`{"payload":` + string(b) + `}`)
	}
}

func (sw *streamWriter) part(body string) error {
	return sw.write("\r\ncontent-type: application/json\r\n\r\n" + body + "\r\n--" + multipartBoundary)
}

// end writes the stream's end: an error first when err says why it ended.
func (sw *streamWriter) end(err error) {
	errs := errorsOf(err)
	if sw.mode == ModeSSE {
		if errs != nil {
			_ = sw.write(`event: next` + "\ndata: {\"errors\":" + string(errs) + "}\n\n")
		}
		_ = sw.write("event: complete\ndata:\n\n")
		return
	}
	if errs != nil {
		_ = sw.part(`{"payload":null,"errors":` + string(errs) + `}`)
	}
	_ = sw.write("--\r\n")
}

func (sw *streamWriter) write(s string) error {
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	if _, err := sw.w.Write([]byte(s)); err != nil {
		return err
	}
	if err := sw.rc.Flush(); err != nil {
		return err
	}
	return sw.rc.SetWriteDeadline(time.Time{})
}
