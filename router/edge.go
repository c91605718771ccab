package router

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/router/apq"
	"github.com/studio-platform/studio/router/clientip"
	"github.com/studio-platform/studio/router/config"
	"github.com/studio-platform/studio/router/ratelimit"
	"github.com/studio-platform/studio/router/server"
	"github.com/studio-platform/studio/router/supergraph"
)

// edgeOptions turns the edge configuration into server options. The Redis
// client it opens (when redis.url is set) is returned for Close.
func edgeOptions(e config.Edge, sg *supergraph.Supergraph, log *slog.Logger) ([]server.Option, *redis.Client, error) {
	var opts []server.Option
	var rdb *redis.Client
	if e.Redis.URL != "" {
		ro, err := redis.ParseURL(e.Redis.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("router: redis.url: %w", err)
		}
		rdb = redis.NewClient(ro)
	}
	var proxies []*net.IPNet
	for _, p := range e.TrustedProxies {
		n, err := config.ParseCIDR(p)
		if err != nil {
			return nil, rdb, fmt.Errorf("router: trusted_proxies: %w", err)
		}
		proxies = append(proxies, n)
	}
	opts = append(opts, server.WithClientIP(clientip.New(proxies...)))

	rl := e.RateLimit
	switch {
	case !config.On(rl.Enabled):
	case rdb == nil:
		log.Warn("rate limits are off: they need redis.url (REDIS_URL)")
	default:
		login, err := loginField(rl.Login, sg, log)
		if err != nil {
			return nil, rdb, err
		}
		opts = append(opts, server.WithRateLimits(server.RateLimits{
			Limiter:       ratelimit.New(rdb, ratelimit.WithTimeout(e.Redis.Timeout), ratelimit.WithPrefix(e.Redis.KeyPrefix+"rl:")),
			PerUser:       rate(rl.PerUser),
			PerIP:         rate(rl.PerIP),
			Login:         login,
			PerAccount:    rate(rl.Login.PerAccount),
			LoginPerIP:    rate(rl.Login.PerIP),
			LoginFailOpen: rl.Login.FailOpen,
		}))
	}
	if config.On(e.CSRF.Enabled) {
		opts = append(opts, server.WithCSRFPrevention(e.CSRF.RequiredHeaders...))
	}
	if len(e.CORS.AllowOrigins) > 0 {
		opts = append(opts, server.WithCORS(server.CORS{AllowOrigins: e.CORS.AllowOrigins,
			AllowCredentials: config.On(e.CORS.AllowCredentials), AllowHeaders: e.CORS.AllowHeaders, MaxAge: e.CORS.MaxAge}))
	}
	if config.On(e.SecurityHeaders.Enabled) {
		opts = append(opts, server.WithSecurityHeaders(e.SecurityHeaders.HSTSMaxAge))
	}

	apqOpts := []apq.Option{apq.WithLogger(log)}
	if config.On(e.APQ.Enabled) && rdb != nil {
		apqOpts = append(apqOpts, apq.WithStore(apq.NewStore(rdb, e.Redis.KeyPrefix+"apq:", e.APQ.TTL, e.APQ.MaxQueryBytes, e.Redis.Timeout)))
	}
	if pq := e.PersistedQueries; pq.Mode != "" && pq.Mode != config.PersistedOff {
		m, err := apq.LoadManifest(pq.Manifest)
		if err != nil {
			return nil, rdb, fmt.Errorf("router: %w", err)
		}
		apqOpts = append(apqOpts, apq.WithManifest(m, pq.Mode == config.PersistedSafelist))
		log.Info("persisted operations loaded", "operations", m.Len(), "mode", pq.Mode)
	}
	opts = append(opts, server.WithPersistedQueries(apq.NewResolver(apqOpts...)))
	return opts, rdb, nil
}

func rate(r config.Rate) ratelimit.Rate {
	return ratelimit.Rate{Requests: r.Requests, Per: r.Per, Burst: r.Burst}
}

// loginField resolves Type.field against the supergraph's root types; a
// field the schema does not have is counted all the same (an operation
// naming it fails validation anyway).
func loginField(l config.Login, sg *supergraph.Supergraph, log *slog.Logger) (ratelimit.LoginField, error) {
	typ, field := l.TypeAndField()
	var op ast.Operation
	switch {
	case sg.API.Mutation != nil && sg.API.Mutation.Name == typ:
		op = ast.Mutation
	case sg.API.Query != nil && sg.API.Query.Name == typ:
		op = ast.Query
	case typ == "Mutation": // the default, on a supergraph without mutations
		op = ast.Mutation
	default:
		return ratelimit.LoginField{}, fmt.Errorf("router: rate_limit.login.field: %s is not the query or mutation type", typ)
	}
	if t := sg.API.Types[typ]; t == nil || t.Fields.ForName(field) == nil {
		log.Warn("rate_limit.login.field is not in the supergraph; login attempts are counted if it appears", "field", l.Field)
	}
	return ratelimit.LoginField{Operation: op, Field: field, Argument: l.AccountArgument}, nil
}
