package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/router/clientip"
	"github.com/studio-platform/studio/router/gateway"
	"github.com/studio-platform/studio/router/ratelimit"
)

// Rate-limit error codes.
const (
	CodeRateLimited          = "RATE_LIMITED"
	CodeLoginRateLimited     = "LOGIN_RATE_LIMITED"
	CodeRateLimitUnavailable = "RATE_LIMIT_UNAVAILABLE"
)

// Policy names in the RateLimit headers.
const (
	PolicyUser         = "user"
	PolicyIP           = "ip"
	PolicyLoginAccount = "login-account"
	PolicyLoginIP      = "login-ip"
)

// RateLimits configures WithRateLimits. A zero Rate turns its limit off.
type RateLimits struct {
	Limiter *ratelimit.Limiter
	// PerUser limits requests per JWT subject, PerIP per client IP (every request).
	PerUser, PerIP ratelimit.Rate
	// Login finds login attempts; each is charged to PerAccount (by account)
	// and LoginPerIP, all before anything executes.
	Login                  ratelimit.LoginField
	PerAccount, LoginPerIP ratelimit.Rate
	// LoginFailOpen admits logins when Redis fails (default: refused with 503).
	// General limits always fail open.
	LoginFailOpen bool
}

// WithRateLimits limits requests and login attempts (see RateLimits).
func WithRateLimits(rl RateLimits) Option { return func(c *config) { c.rateLimits = &rl } }

// WithClientIP sets how the client's address is found (default: the peer's;
// see clientip for trusted proxies).
func WithClientIP(r *clientip.Resolver) Option { return func(c *config) { c.clientIP = r } }

type limiter struct {
	RateLimits
	ips       *clientip.Resolver
	log       *slog.Logger
	decisions *prometheus.CounterVec
}

func newLimiter(rl RateLimits, ips *clientip.Resolver, log *slog.Logger, reg prometheus.Registerer) *limiter {
	l := &limiter{RateLimits: rl, ips: ips, log: log, decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ratelimit_decisions_total",
		Help: "Rate-limit decisions: allowed, limited, login_limited, and fail_open / fail_closed when Redis failed.",
	}, []string{"outcome"})}
	if err := reg.Register(l.decisions); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			l.decisions = are.ExistingCollector.(*prometheus.CounterVec)
		} else {
			panic(err)
		}
	}
	return l
}

func on(r ratelimit.Rate) bool { return r.Requests > 0 && r.Per > 0 && r.Burst > 0 }

// admit charges the request to its limits in one Redis round trip; it
// writes the refusal and returns false when the request must not run.
func (l *limiter) admit(ctx context.Context, w http.ResponseWriter, r *http.Request, media string, req gateway.Request) bool {
	ipKey := clientip.Key(l.ips.IP(r))
	var limits []ratelimit.Limit
	if on(l.PerIP) {
		limits = append(limits, ratelimit.Limit{Policy: PolicyIP, Key: ipKey, Rate: l.PerIP})
	}
	if c, ok := auth.ClaimsFromContext(ctx); ok && c.Subject != "" && on(l.PerUser) {
		limits = append(limits, ratelimit.Limit{Policy: PolicyUser, Key: c.Subject, Rate: l.PerUser})
	}
	accounts, err := l.Login.LoginAttempts(req.Query, req.OperationName, req.Variables)
	if err != nil {
		writeError(w, media, &httpError{http.StatusBadRequest, CodeParseFailed,
			"the document names the login field and cannot be parsed: " + err.Error()})
		return false
	}
	login := len(accounts) > 0
	if login {
		if on(l.LoginPerIP) {
			limits = append(limits, ratelimit.Limit{Policy: PolicyLoginIP, Key: ipKey, Rate: l.LoginPerIP, Cost: len(accounts)})
		}
		if on(l.PerAccount) {
			perAccount := map[string]int{}
			for _, a := range accounts {
				perAccount[a]++
			}
			for a, n := range perAccount {
				limits = append(limits, ratelimit.Limit{Policy: PolicyLoginAccount, Key: a, Rate: l.PerAccount, Cost: n})
			}
		}
	}
	if len(limits) == 0 {
		return true
	}
	d, err := l.Limiter.Check(ctx, limits...)
	if err != nil {
		if login && !l.LoginFailOpen {
			l.decisions.WithLabelValues("fail_closed").Inc()
			l.log.ErrorContext(ctx, "rate limits unavailable: login refused", "error", err)
			w.Header().Set("Retry-After", "5")
			writeError(w, media, &httpError{http.StatusServiceUnavailable, CodeRateLimitUnavailable,
				"login is unavailable for a moment; try again shortly"})
			return false
		}
		l.decisions.WithLabelValues("fail_open").Inc()
		l.log.WarnContext(ctx, "rate limits unavailable: request admitted", "error", err)
		return true
	}
	ratelimit.Headers(w.Header(), d)
	if d.Allowed {
		l.decisions.WithLabelValues("allowed").Inc()
		return true
	}
	code, msg := CodeRateLimited, "too many requests: retry after the time in the Retry-After header"
	for _, p := range d.Exceeded {
		if p == PolicyLoginAccount || p == PolicyLoginIP {
			code = CodeLoginRateLimited
			msg = fmt.Sprintf("too many login attempts (%d in this request): retry after the time in the Retry-After header", len(accounts))
		}
	}
	if code == CodeLoginRateLimited {
		l.decisions.WithLabelValues("login_limited").Inc()
	} else {
		l.decisions.WithLabelValues("limited").Inc()
	}
	writeError(w, media, &httpError{http.StatusTooManyRequests, code, msg})
	return false
}
