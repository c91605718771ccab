package serve

import (
	"context"
	"fmt"
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

// NewServer returns an http.Server for h on addr with every timeout set
// (the Default* constants): a slow client can hold a connection only so
// long; request bodies are bounded (LimitBody, DefaultMaxBodyBytes) and
// every request's context ends after DefaultRequestTimeout (WithDeadline:
// database pool waits and statements end with it). The subgraphs are served
// this way.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           LimitBody(WithDeadline(h, DefaultRequestTimeout), DefaultMaxBodyBytes),
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      DefaultWriteTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
	}
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
