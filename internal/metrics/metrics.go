// Package metrics exposes a service's Prometheus metrics: HTTP request
// duration and count, in-flight requests and open connections, plus the Go
// runtime and process collectors. Every Metrics has its own registry (no
// global state), so tests and several services in one process don't collide.
package metrics

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Option configures New.
type Option func(*Metrics)

// WithPathLabel sets how a request is named in the "path" label. It runs after
// the handler, so r.Pattern (set by http.ServeMux) is available when the mux
// saw the same *http.Request. The result must come from a small fixed set:
// never return the raw URL path (unbounded cardinality). The default returns
// r.Pattern, or "unmatched" when it is empty.
func WithPathLabel(fn func(r *http.Request) string) Option {
	return func(m *Metrics) { m.pathLabel = fn }
}

// WithBuckets sets the duration histogram's buckets in seconds (default
// prometheus.DefBuckets).
func WithBuckets(b []float64) Option {
	return func(m *Metrics) { m.buckets = b }
}

// Metrics holds one service's collectors and registry.
type Metrics struct {
	reg       *prometheus.Registry
	pathLabel func(*http.Request) string
	buckets   []float64

	duration *prometheus.HistogramVec
	requests *prometheus.CounterVec
	inFlight prometheus.Gauge
	conns    prometheus.Gauge
}

// New returns Metrics for service (set as the constant label "service") with
// its own registry holding the HTTP, Go runtime and process collectors.
func New(service string, opts ...Option) *Metrics {
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		pathLabel: defaultPathLabel,
		buckets:   prometheus.DefBuckets,
	}
	for _, o := range opts {
		o(m)
	}
	constLabels := prometheus.Labels{"service": service}
	labels := []string{"method", "code", "path"}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "http_request_duration_seconds",
		Help:        "Duration of HTTP requests, from the first byte read to the handler's return.",
		ConstLabels: constLabels,
		Buckets:     m.buckets,
	}, labels)
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "http_requests_total",
		Help:        "HTTP requests served, by method, status code and route.",
		ConstLabels: constLabels,
	}, labels)
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "http_requests_in_flight",
		Help:        "HTTP requests being served right now.",
		ConstLabels: constLabels,
	})
	m.conns = prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "active_connections",
		Help:        "Open client connections (needs Metrics.ConnState as the http.Server's ConnState hook).",
		ConstLabels: constLabels,
	})
	m.reg.MustRegister(
		m.duration, m.requests, m.inFlight, m.conns,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry, to register a service's own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format (/metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ConnState is an http.Server ConnState hook that keeps active_connections:
//
//	srv := &http.Server{Handler: h, ConnState: m.ConnState}
//
// A connection counts from StateNew until it is closed or hijacked (a
// hijacked WebSocket connection leaves the server's accounting).
func (m *Metrics) ConnState(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		m.conns.Inc()
	case http.StateClosed, http.StateHijacked:
		m.conns.Dec()
	}
}

// Middleware records duration and count of every request and the number in
// flight (http_requests_in_flight).
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		rw := &recorder{ResponseWriter: w}
		defer func() {
			m.inFlight.Dec()
			code := rw.code
			if code == 0 {
				code = http.StatusOK
			}
			if p := recover(); p != nil {
				// Count the request as failed and let the panic continue to
				// whoever recovers it (the server layer, or net/http).
				m.observe(r, http.StatusInternalServerError, start)
				panic(p)
			}
			m.observe(r, code, start)
		}()
		next.ServeHTTP(rw, r)
	})
}

func (m *Metrics) observe(r *http.Request, code int, start time.Time) {
	labels := prometheus.Labels{"method": method(r.Method), "code": strconv.Itoa(code), "path": m.pathLabel(r)}
	m.duration.With(labels).Observe(time.Since(start).Seconds())
	m.requests.With(labels).Inc()
}

func defaultPathLabel(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}

// method bounds the method label to the standard methods.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// recorder captures the status code while keeping Flush (SSE, multipart) and
// Hijack (WebSocket) working, both by type assertion and through
// http.ResponseController (Unwrap).
type recorder struct {
	http.ResponseWriter
	code int
}

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("metrics: underlying ResponseWriter cannot hijack")
	}
	if w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
