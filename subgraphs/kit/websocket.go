package kit

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/studio-platform/studio/internal/auth"
)

// Subscriptions are served over WebSocket with the graphql-transport-ws
// protocol (gqlgen's transport; the legacy graphql-ws subprotocol too). The
// token is checked as for HTTP: the upgrade request's Authorization header
// (auth.Middleware), or the connection_init payload's Authorization
// ("Bearer <token>"), which wins when both are given.
const (
	wsInitTimeout  = 10 * time.Second
	wsPingInterval = 15 * time.Second
	wsMaxMessage   = 64 << 10
)

func websocketTransport(v auth.Verifier) transport.Websocket {
	limit := int64(wsMaxMessage)
	return transport.Websocket{
		InitTimeout:           wsInitTimeout,
		KeepAlivePingInterval: wsPingInterval,
		PayloadReadLimit:      &limit,
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			h := p.Authorization()
			if h == "" {
				return ctx, nil, nil
			}
			scheme, token, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
				return ctx, nil, errors.New("invalid token")
			}
			claims, err := v.Verify(ctx, strings.TrimSpace(token))
			if err != nil {
				return ctx, nil, errors.New(auth.ErrorMessage(err))
			}
			return auth.WithClaims(ctx, claims), nil, nil
		},
	}
}
