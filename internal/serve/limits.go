package serve

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"time"
)

// Defaults of the limits below, for subgraphs: their bodies come from the
// router, whose entity requests may be larger than a client's request.
const (
	DefaultMaxBodyBytes      = 4 << 20
	DefaultRequestTimeout    = 20 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = DefaultRequestTimeout + 10*time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// ServerOption configures NewServer.
type ServerOption func(*serverConfig)

type serverConfig struct {
	uploadBytes   int64
	uploadTimeout time.Duration
}

// WithUploads gives multipart/form-data requests (GraphQL multipart
// requests: file uploads) a body limit and a deadline of their own, maxBytes
// and timeout, in place of DefaultMaxBodyBytes and DefaultRequestTimeout
// (which still bound every other request); their connection's read and
// write deadlines are moved to match. Without it, multipart bodies have
// the JSON bodies' limit.
func WithUploads(maxBytes int64, timeout time.Duration) ServerOption {
	return func(c *serverConfig) { c.uploadBytes, c.uploadTimeout = maxBytes, timeout }
}

// NewServer returns an http.Server for h on addr with every timeout set
// (the Default* constants): a slow client can hold a connection only so
// long; request bodies are bounded (LimitBody, DefaultMaxBodyBytes) and
// every request's context ends after DefaultRequestTimeout (WithDeadline:
// database pool waits and statements end with it), multipart requests
// excepted when WithUploads is given. The subgraphs are served this way.
func NewServer(addr string, h http.Handler, opts ...ServerOption) *http.Server {
	var c serverConfig
	for _, o := range opts {
		o(&c)
	}
	handler := LimitBody(WithDeadline(h, DefaultRequestTimeout), DefaultMaxBodyBytes)
	if c.uploadBytes > 0 && c.uploadTimeout > 0 {
		handler = splitUploads(handler, LimitBody(WithDeadline(h, c.uploadTimeout), c.uploadBytes), c.uploadTimeout)
	}
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      DefaultWriteTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
	}
}

// splitUploads sends multipart/form-data requests to uploads, with the
// connection's deadlines moved to the upload timeout, and the others to h.
func splitUploads(h, uploads http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		deadline := time.Now().Add(timeout)
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline.Add(10 * time.Second))
		uploads.ServeHTTP(w, r)
	})
}

// LimitBody refuses request bodies over n bytes: 413 with a GraphQL error
// (extensions.code PAYLOAD_TOO_LARGE) when Content-Length says so up front,
// and a read error past n bytes otherwise (chunked bodies).
func LimitBody(h http.Handler, n int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = fmt.Fprintf(w, `{"errors":[{"message":"request body is larger than the limit of %d bytes","extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}`, n)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h.ServeHTTP(w, r)
	})
}

// WithDeadline bounds each request's context by d: database pool waits,
// statements and outgoing calls made with it end by then. A WebSocket
// upgrade (a subscription's connection) is not bounded: it lasts as long as
// its subscriptions; the server's own timeouts end when it is hijacked.
func WithDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
