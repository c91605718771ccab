package kit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/studio-platform/studio/internal/auth"
)

// Error codes (extensions.code).
const (
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
	// CodeServiceUnavailable: a dependency the answer needs (e.g. the Redis
	// session store) is down; retry later. The same code auth.Middleware uses.
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE"
)

// Error is an error the client may see: Message is shown, Code goes to
// extensions.code, Err (if any) is the cause, kept for logs and errors.Is.
type Error struct {
	Code    string
	Message string
	// Reason, when set, goes to extensions.reason: a machine-readable cause
	// within Code (e.g. BAD_USER_INPUT with reason FILE_TOO_LARGE).
	Reason string
	Err    error
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

// BadInput returns a BAD_USER_INPUT error listing every problem ("; "-joined).
func BadInput(problems ...string) *Error {
	return &Error{Code: CodeBadUserInput, Message: strings.Join(problems, "; ")}
}

// NotFound returns a NOT_FOUND error: "<what> <id> not found".
func NotFound(what, id string) *Error {
	return Errorf(CodeNotFound, "%s %s not found", what, id)
}

// Sentinel client errors.
var (
	// ErrUnauthenticated is returned by Claims when the request carries no verified token.
	ErrUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "authentication required"}
	// ErrForbidden is for a verified caller who may not do what they ask.
	ErrForbidden = &Error{Code: CodeForbidden, Message: "forbidden"}
)

// Claims returns the verified claims of the request, or ErrUnauthenticated.
// Every claim set it returns has a subject and an organization, the scope of
// every SQL statement the request runs.
func Claims(ctx context.Context) (*auth.Claims, error) {
	c, ok := auth.ClaimsFromContext(ctx)
	if !ok || c.Subject == "" || c.OrgID == "" {
		return nil, ErrUnauthenticated
	}
	return c, nil
}

// classify keeps *Error and gqlgen's own errors and turns everything else
// into an internal error, logging the cause.
func classify(ctx context.Context, log *slog.Logger, err error) error {
	var e *Error
	var g *gqlerror.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &e), errors.As(err, &g):
		return err
	case errors.As(err, &pgErr) && (pgErr.Code == "22021" || pgErr.Code == "22P05"):
		// character_not_in_repertoire, untranslatable_character: PostgreSQL
		// text cannot hold a NUL character.
		return &Error{Code: CodeBadUserInput, Message: "text must not contain NUL characters", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeInternal, Message: "request cancelled or timed out", Err: err}
	default:
		log.ErrorContext(ctx, "graphql: resolver error", "error", err, "path", graphql.GetPath(ctx).String())
		return &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
}

// present turns any error into the GraphQL error the client sees.
func present(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	var e *Error
	if errors.As(err, &e) {
		out := &gqlerror.Error{Message: e.Message, Extensions: map[string]any{"code": e.Code}}
		if e.Reason != "" {
			out.Extensions["reason"] = e.Reason
		}
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
