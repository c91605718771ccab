// Package gqlserver builds a subgraph's GraphQL HTTP handler (gqlgen, POST and
// GET transports) and classifies errors once, at this edge, into
// extensions.code: resolvers return *Error for what the client may see;
// anything else is logged and answered as INTERNAL_SERVER_ERROR without its
// message, so internals never leak.
package gqlserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/studio-platform/studio/internal/auth"
)

// Error codes (extensions.code).
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeNotFound        = "NOT_FOUND"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
)

// Error is an error the client may see: Message is shown, Code goes to
// extensions.code, Err (if any) is the cause, kept for logs and errors.Is.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrUnauthenticated is returned by Claims when the request carries no verified token.
var ErrUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "authentication required"}

// Claims returns the verified claims of the request, or ErrUnauthenticated.
func Claims(ctx context.Context) (*auth.Claims, error) {
	c, ok := auth.ClaimsFromContext(ctx)
	if !ok || c.Subject == "" || c.OrgID == "" {
		return nil, ErrUnauthenticated
	}
	return c, nil
}

// New returns the gqlgen handler for es: POST and GET transports,
// introspection, a parsed-query cache, panic recovery and error classification.
func New(es graphql.ExecutableSchema, log *slog.Logger) *handler.Server {
	if log == nil {
		log = slog.Default()
	}
	srv := handler.New(es)
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		res, err := next(ctx)
		if err != nil {
			err = classify(ctx, log, err)
		}
		return res, err
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql: panic in resolver", "panic", fmt.Sprint(p), "path", graphql.GetPath(ctx).String())
		return &Error{Code: CodeInternal, Message: "internal error"}
	})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return present(ctx, log, err)
	})
	return srv
}

// classify keeps *Error and gqlgen's own errors and turns everything else
// into an internal error, logging the cause.
func classify(ctx context.Context, log *slog.Logger, err error) error {
	var e *Error
	var g *gqlerror.Error
	switch {
	case errors.As(err, &e), errors.As(err, &g):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeInternal, Message: "request cancelled or timed out", Err: err}
	default:
		log.ErrorContext(ctx, "graphql: resolver error", "error", err, "path", graphql.GetPath(ctx).String())
		return &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
}

func present(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	var e *Error
	if errors.As(err, &e) {
		out := &gqlerror.Error{Message: e.Message, Extensions: map[string]any{"code": e.Code}}
		var g *gqlerror.Error
		if errors.As(err, &g) {
			out.Path, out.Locations = g.Path, g.Locations
		} else {
			out.Path = graphql.GetPath(ctx)
		}
		return out
	}
	var g *gqlerror.Error
	if errors.As(err, &g) {
		if g.Err == nil {
			return g // gqlgen's own: parse, validation, argument coercion
		}
		if _, ok := g.Extensions["code"]; ok {
			return g
		}
	}
	// A raw error that skipped the field middleware (e.g. from an entity resolver).
	log.ErrorContext(ctx, "graphql: unclassified error", "error", err)
	out := &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": CodeInternal}}
	if g != nil {
		out.Path, out.Locations = g.Path, g.Locations
	} else {
		out.Path = graphql.GetPath(ctx)
	}
	return out
}
