package server

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CodeCSRF is the extensions.code of a request refused by CSRF prevention.
const CodeCSRF = "CSRF_ERROR"

// DefaultCSRFHeaders are the headers that mark a request as preflighted
// (Apollo's names, so Apollo clients work unchanged).
var DefaultCSRFHeaders = []string{"X-Apollo-Operation-Name", "Apollo-Require-Preflight"}

// WithCSRFPrevention refuses, with 400 and CSRF_ERROR, every GraphQL request
// a browser could send cross-site without a CORS preflight (Apollo Router's
// rule): unless it carries one of the required headers (default
// DefaultCSRFHeaders), a bearer Authorization header, or a Content-Type
// that is not one of the CORS-safelisted application/x-www-form-urlencoded,
// multipart/form-data and text/plain. A GET without such a header is
// refused too. None of these can be sent cross-site without a preflight,
// which the CORS allow-list then decides.
func WithCSRFPrevention(requiredHeaders ...string) Option {
	return func(c *config) {
		c.csrf = true
		if len(requiredHeaders) > 0 {
			c.csrfHeaders = requiredHeaders
		}
	}
}

// CORS is a cross-origin allow-list.
type CORS struct {
	// AllowOrigins are exact origins ("https://app.example.com"); "*" allows
	// any origin, only without credentials.
	AllowOrigins []string
	// AllowCredentials lets cookies and Authorization ride along.
	AllowCredentials bool
	// AllowHeaders are the request headers a browser may send.
	AllowHeaders []string
	// MaxAge is how long a browser may cache a preflight.
	MaxAge time.Duration
}

// WithCORS answers browsers from the listed origins on /graphql (preflights
// included); other origins get no CORS headers, so browsers do not let their
// pages read the responses.
func WithCORS(c CORS) Option { return func(cfg *config) { cfg.cors = &c } }

// WithSecurityHeaders sets X-Content-Type-Options, Referrer-Policy,
// X-Frame-Options and a Content-Security-Policy on every response (the
// GraphiQL page keeps its own policy, which lets it run), and
// Strict-Transport-Security when hstsMaxAge is positive.
func WithSecurityHeaders(hstsMaxAge time.Duration) Option {
	return func(c *config) { c.securityHeaders, c.hsts = true, hstsMaxAge }
}

// apiCSP is the policy of every response but the GraphiQL page: nothing may
// load, nothing may frame it.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func securityHeaders(hsts time.Duration, next http.Handler) http.Handler {
	var sts string
	if hsts > 0 {
		sts = "max-age=" + strconv.FormatInt(int64(hsts.Seconds()), 10) + "; includeSubDomains"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", apiCSP)
		if sts != "" {
			h.Set("Strict-Transport-Security", sts)
		}
		next.ServeHTTP(w, r)
	})
}

// privateResponses marks the response to a request with credentials
// (Authorization or a cookie) as private to that client and not to be
// stored by any cache.
func privateResponses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
			w.Header().Set("Cache-Control", "private, no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// csrfSafe reports whether a browser must have preflighted the request.
func csrfSafe(r *http.Request, required []string) bool {
	for _, name := range required {
		if len(r.Header.Values(name)) > 0 {
			return true
		}
	}
	// Browsers never attach a bearer token by themselves (only Basic/Digest
	// credentials they were given), and a page can only add one with a
	// preflight.
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return true
	}
	cts := r.Header.Values("Content-Type")
	if len(cts) == 0 {
		return false
	}
	for _, ct := range cts {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return true // not safelisted: a browser would have preflighted it
		}
		switch mt {
		case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		default:
			return true
		}
	}
	return false
}

const csrfMessage = "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). " +
	"Send a Content-Type of application/json, a bearer Authorization header, or a non-empty " +
	"Apollo-Require-Preflight or X-Apollo-Operation-Name header."

type corsHandler struct {
	cors    CORS
	origins map[string]bool
	any     bool
	methods string
	headers string
	maxAge  string
	exposed string
	next    http.Handler
}

func newCORS(c CORS, next http.Handler) http.Handler {
	h := &corsHandler{cors: c, origins: map[string]bool{}, next: next, methods: "GET, POST, OPTIONS",
		headers: strings.Join(c.AllowHeaders, ", "), maxAge: strconv.FormatInt(int64(c.MaxAge.Seconds()), 10),
		exposed: "RateLimit, RateLimit-Policy, Retry-After, " + HeaderRequestID}
	for _, o := range c.AllowOrigins {
		if o == "*" {
			h.any = true
			continue
		}
		h.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return h
}

func (h *corsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	if origin == "" {
		h.next.ServeHTTP(w, r)
		return
	}
	allowed := h.origins[strings.ToLower(origin)] || h.any
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		hdr.Add("Vary", "Access-Control-Request-Method")
		hdr.Add("Vary", "Access-Control-Request-Headers")
		if !allowed {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		h.allow(hdr, origin)
		hdr.Set("Access-Control-Allow-Methods", h.methods)
		if h.headers != "" {
			hdr.Set("Access-Control-Allow-Headers", h.headers)
		}
		hdr.Set("Access-Control-Max-Age", h.maxAge)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if allowed {
		h.allow(hdr, origin)
		hdr.Set("Access-Control-Expose-Headers", h.exposed)
	}
	h.next.ServeHTTP(w, r)
}

func (h *corsHandler) allow(hdr http.Header, origin string) {
	if h.any && !h.cors.AllowCredentials && !h.origins[strings.ToLower(origin)] {
		hdr.Set("Access-Control-Allow-Origin", "*")
		return
	}
	hdr.Set("Access-Control-Allow-Origin", origin)
	if h.cors.AllowCredentials {
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
}
