// Package subscribe serves GraphQL subscriptions to clients — over
// WebSocket (graphql-transport-ws), Server-Sent Events (graphql-sse,
// distinct connections) and multipart HTTP (Apollo's subscription format) —
// on the router's /graphql. Each subscription holds one upstream stream to
// the subgraph that owns its root field (graphql-transport-ws, which gqlgen
// serves), and every event it receives is completed by the gateway like a
// query (gateway.Subscription.Complete: entity fetches to other subgraphs,
// batched). The package knows no planning; the gateway knows no protocol.
package subscribe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/gqlws"
	"github.com/studio-platform/studio/router/gateway"
)

// Error codes (extensions.code) of errors that end a stream.
const (
	// CodeUpstreamClosed: the subgraph's stream ended abnormally (restart,
	// network): the router does not resubscribe; the client does, resuming
	// with the last event id it saw when the field takes one.
	CodeUpstreamClosed = "SUBSCRIPTION_UPSTREAM_CLOSED"
	// CodeClientTooSlow: the client did not read its events as fast as they
	// came and its buffer (Config.Buffer) filled: the stream is ended rather
	// than events dropped silently.
	CodeClientTooSlow = "SUBSCRIPTION_CLIENT_TOO_SLOW"
	// CodeLimit: too many subscriptions on the connection or connections of
	// the user.
	CodeLimit = "SUBSCRIPTION_LIMIT_EXCEEDED"
	// CodeShuttingDown: the router is shutting down.
	CodeShuttingDown = "SHUTTING_DOWN"
	// CodeUnauthenticated: the token expired or its session ended.
	CodeUnauthenticated = "UNAUTHENTICATED"
)

// Source prepares and runs operations: the router (its current gateway).
type Source interface {
	Do(ctx context.Context, req gateway.Request) *gateway.Response
	IsSubscription(ctx context.Context, req gateway.Request) bool
	Subscribe(ctx context.Context, req gateway.Request) (*gateway.Subscription, *gateway.Response)
	// SubgraphURL is the routing URL of a subgraph (http:// or https://).
	SubgraphURL(name string) string
}

// Config bounds what clients may hold; zero fields take the defaults.
type Config struct {
	// MaxSubscriptionsPerConnection bounds the operations running on one
	// WebSocket (default 32); one more gets an error message.
	MaxSubscriptionsPerConnection int
	// MaxConnectionsPerUser bounds the WebSockets and streaming HTTP
	// responses open at once per token subject (anonymous: per address);
	// default 16.
	MaxConnectionsPerUser int
	// Buffer is how many completed events wait for a slow client per
	// subscription (default 64); past it the stream ends with
	// CodeClientTooSlow.
	Buffer int
	// InitTimeout bounds the wait for connection_init (default 10 s).
	InitTimeout time.Duration
	// KeepAlive is the period of WebSocket pings and SSE / multipart
	// heartbeats (default 12 s).
	KeepAlive time.Duration
	// SessionCheck is how often a stream's token is verified again, so a
	// revoked session ends it (default 30 s); its expiry ends it on time.
	SessionCheck time.Duration
	// WriteTimeout bounds one write to a client (default 10 s).
	WriteTimeout time.Duration
	// UpstreamTimeout bounds opening the subgraph's stream (default 10 s).
	UpstreamTimeout time.Duration
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxSubscriptionsPerConnection, 32)
	def(&c.MaxConnectionsPerUser, 16)
	def(&c.Buffer, 64)
	dur(&c.InitTimeout, 10*time.Second)
	dur(&c.KeepAlive, 12*time.Second)
	dur(&c.SessionCheck, 30*time.Second)
	dur(&c.WriteTimeout, 10*time.Second)
	dur(&c.UpstreamTimeout, 10*time.Second)
	return c
}

// Option configures New.
type Option func(*Service)

// WithVerifier verifies tokens sent in connection_init, and again every
// Config.SessionCheck while a stream runs.
func WithVerifier(v auth.Verifier) Option { return func(s *Service) { s.verifier = v } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithHTTPClient dials subgraphs through c.
func WithHTTPClient(c *http.Client) Option { return func(s *Service) { s.client = c } }

// Service serves subscriptions. Shutdown ends them.
type Service struct {
	src      Source
	cfg      Config
	verifier auth.Verifier
	log      *slog.Logger
	client   *http.Client

	mu       sync.Mutex
	users    map[string]int
	streams  map[*connection]struct{}
	closing  bool
	shutdown context.Context
	stop     context.CancelCauseFunc
	wg       sync.WaitGroup
}

// New returns a Service over src.
func New(src Source, cfg Config, opts ...Option) *Service {
	s := &Service{src: src, cfg: cfg.withDefaults(), log: slog.Default(), users: map[string]int{}, streams: map[*connection]struct{}{}}
	s.shutdown, s.stop = context.WithCancelCause(context.Background())
	for _, o := range opts {
		o(s)
	}
	return s
}

// streamError is an error a stream ends with, as the client sees it.
type streamError struct {
	code, message string
}

func (e *streamError) Error() string { return e.message }

var (
	errShuttingDown = &streamError{CodeShuttingDown, "the router is shutting down"}
	errTooSlow      = &streamError{CodeClientTooSlow, "the client did not keep up with its events"}
	errTokenExpired = &streamError{CodeUnauthenticated, "token expired"}
	errSessionEnded = &streamError{CodeUnauthenticated, "session ended"}
	errTooManyConns = &streamError{CodeLimit, "too many subscription connections for this user"}
)

// errorsJSON is a GraphQL errors array of one error.
func errorsJSON(code, message string) json.RawMessage {
	b, _ := json.Marshal([]gateway.Error{{Message: message, Extensions: map[string]any{"code": code}}})
	return b
}

// asStreamError is how err is told to the client.
func asStreamError(err error) *streamError {
	var se *streamError
	if errors.As(err, &se) {
		return se
	}
	return &streamError{CodeUpstreamClosed, err.Error()}
}

// connection is one client connection (a WebSocket or a streaming HTTP
// response): its user's place, its token's watch and its shutdown.
type connection struct {
	s      *Service
	user   string
	ctx    context.Context
	cancel context.CancelCauseFunc
	// goingAway is called at shutdown (a WebSocket closes with 1001).
	goingAway func()
}

// open admits a connection of the request's user (claims, else address).
func (s *Service) open(r *http.Request, goingAway func()) (*connection, error) {
	user := "addr:" + remoteHost(r)
	if c, ok := auth.ClaimsFromContext(r.Context()); ok && c.Subject != "" {
		user = "sub:" + c.Subject
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, errShuttingDown
	}
	if s.users[user] >= s.cfg.MaxConnectionsPerUser {
		return nil, errTooManyConns
	}
	s.users[user]++
	c := &connection{s: s, user: user, goingAway: goingAway}
	c.ctx, c.cancel = context.WithCancelCause(r.Context())
	s.streams[c] = struct{}{}
	s.wg.Add(1)
	return c, nil
}

// rekey moves the connection to another user (a WebSocket learns its token
// from connection_init).
func (c *connection) rekey(claims *auth.Claims) error {
	if claims == nil || claims.Subject == "" {
		return nil
	}
	user := "sub:" + claims.Subject
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if user == c.user {
		return nil
	}
	if c.s.users[user] >= c.s.cfg.MaxConnectionsPerUser {
		return errTooManyConns
	}
	c.s.release(c.user)
	c.s.users[user]++
	c.user = user
	return nil
}

func (s *Service) release(user string) {
	if s.users[user]--; s.users[user] <= 0 {
		delete(s.users, user)
	}
}

// close frees the connection's place.
func (c *connection) close() {
	c.cancel(context.Canceled)
	c.s.mu.Lock()
	if _, ok := c.s.streams[c]; ok {
		delete(c.s.streams, c)
		c.s.release(c.user)
		c.s.wg.Done()
	}
	c.s.mu.Unlock()
}

// watch ends the connection's context when its token expires or (checked
// every SessionCheck) its session ends. A token the verifier cannot check
// now (keys or sessions unavailable) is left alone until the next check.
func (c *connection) watch(token string, claims *auth.Claims) {
	if claims == nil {
		return
	}
	var expiry <-chan time.Time
	if claims.ExpiresAt != nil {
		t := time.NewTimer(time.Until(claims.ExpiresAt.Time))
		defer t.Stop()
		expiry = t.C
	}
	var check <-chan time.Time
	if c.s.verifier != nil && token != "" {
		t := time.NewTicker(c.s.cfg.SessionCheck)
		defer t.Stop()
		check = t.C
	}
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-expiry:
			c.cancel(errTokenExpired)
			return
		case <-check:
			if _, err := c.s.verifier.Verify(c.ctx, token); err != nil && !auth.IsUnavailable(err) && c.ctx.Err() == nil {
				if errors.Is(err, auth.ErrExpiredToken) {
					c.cancel(errTokenExpired)
				} else {
					c.cancel(errSessionEnded)
				}
				return
			}
		}
	}
}

// Shutdown ends every stream (WebSockets close with 1001 Going Away,
// streaming responses end with a SHUTTING_DOWN error) and waits for them
// until ctx ends.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*connection, 0, len(s.streams))
	for c := range s.streams {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.stop(errShuttingDown)
	for _, c := range conns {
		c.cancel(errShuttingDown)
		if c.goingAway != nil {
			c.goingAway()
		}
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("subscribe: shutdown: %w", ctx.Err())
	}
}

// run streams one subscription: it opens the subgraph's stream, completes
// each event and hands the client's result ({"data", "errors"}) to out. It
// never blocks on the client: when out is full the stream ends with
// errTooSlow. It returns nil when the subgraph completed the stream, and
// the reason otherwise (ctx's cause when ctx ended).
func (s *Service) run(ctx context.Context, sub *gateway.Subscription, token string, out chan<- []byte) error {
	upURL := s.src.SubgraphURL(sub.Subgraph())
	if upURL == "" {
		return &streamError{CodeUpstreamClosed, fmt.Sprintf("no routing URL for subgraph %s", sub.Subgraph())}
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.UpstreamTimeout)
	opts := []gqlws.DialOption{gqlws.WithHeader(sub.Header()), gqlws.WithPing(s.cfg.KeepAlive)}
	if token != "" {
		opts = append(opts, gqlws.WithInitPayload(map[string]string{"Authorization": "Bearer " + token}))
	}
	if s.client != nil {
		opts = append(opts, gqlws.WithHTTPClient(s.client))
	}
	up, err := gqlws.Dial(dctx, upURL, opts...)
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if errors.Is(err, gqlws.ErrUnauthorized) {
			return &streamError{CodeUnauthenticated, fmt.Sprintf("the %s subgraph refused the token", sub.Subgraph())}
		}
		s.log.WarnContext(ctx, "subscribe: cannot reach subgraph", "subgraph", sub.Subgraph(), "error", err)
		return &streamError{CodeUpstreamClosed, fmt.Sprintf("cannot open the %s subgraph's stream", sub.Subgraph())}
	}
	defer up.Close()
	stream, err := up.Subscribe(dctx, sub.Payload(), 16)
	cancel()
	if err != nil {
		return &streamError{CodeUpstreamClosed, fmt.Sprintf("cannot open the %s subgraph's stream", sub.Subgraph())}
	}
	defer stream.Close()
	for {
		ev, err := stream.Next(ctx)
		var oe *gqlws.OperationError
		switch {
		case ctx.Err() != nil:
			return context.Cause(ctx)
		case errors.Is(err, gqlws.ErrComplete):
			return nil
		case errors.As(err, &oe):
			return &operationError{payload: oe.Payload}
		case err != nil:
			s.log.WarnContext(ctx, "subscribe: subgraph stream ended", "subgraph", sub.Subgraph(), "error", err)
			return &streamError{CodeUpstreamClosed, fmt.Sprintf("the %s subgraph ended the stream", sub.Subgraph())}
		}
		resp := sub.Complete(ctx, ev)
		b := resultJSON(resp)
		resp.Release()
		select {
		case out <- b:
		default:
			return errTooSlow
		}
	}
}

// operationError is the subgraph's `error` message: its GraphQL errors
// (e.g. NOT_FOUND) go to the client as they are.
type operationError struct {
	payload json.RawMessage
}

func (e *operationError) Error() string { return "the subgraph refused the subscription" }

// errorsOf is the errors array a stream's end is told with (nil: none).
func errorsOf(err error) json.RawMessage {
	if err == nil {
		return nil
	}
	var oe *operationError
	if errors.As(err, &oe) {
		return oe.payload
	}
	se := asStreamError(err)
	return errorsJSON(se.code, se.message)
}

// resultJSON is an execution result as JSON: {"data", "errors", "extensions"}.
func resultJSON(r *gateway.Response) []byte {
	var b strings.Builder
	b.WriteByte('{')
	sep := ""
	if r.Data != nil {
		b.WriteString(`"data":`)
		b.Write(r.Data)
		sep = ","
	}
	if len(r.Errors) > 0 {
		e, _ := json.Marshal(r.Errors)
		b.WriteString(sep + `"errors":`)
		b.Write(e)
		sep = ","
	}
	if len(r.Extensions) > 0 {
		e, _ := json.Marshal(r.Extensions)
		b.WriteString(sep + `"extensions":`)
		b.Write(e)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// bearer is the request's bearer token ("" without one).
func bearer(h string) string {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
