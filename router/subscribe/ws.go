package subscribe

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/gqlws"
	"github.com/studio-platform/studio/router/gateway"
)

// errClientComplete cancels an operation the client completed: nothing more
// is sent for it.
var errClientComplete = errors.New("completed by the client")

// ServeWebSocket serves graphql-transport-ws on an upgrade request. header
// holds the request's headers to forward to subgraphs; a token sent in
// connection_init ({"Authorization": "Bearer …"}, or {"headers":
// {"Authorization": …}}) replaces the upgrade's.
func (s *Service) ServeWebSocket(w http.ResponseWriter, r *http.Request, header http.Header) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{gqlws.Protocol}})
	if err != nil {
		return // Accept answered the request
	}
	if conn.Subprotocol() != gqlws.Protocol {
		conn.Close(gqlws.CloseSubprotocol, "Subprotocol not acceptable")
		return
	}
	conn.SetReadLimit(gqlws.MaxMessageBytes)
	c, err := s.open(r, func() { conn.Close(gqlws.CloseGoingAway, "the router is shutting down") })
	if err != nil {
		closeFor(conn, err)
		return
	}
	defer c.close()
	ws := &wsConn{s: s, c: c, conn: conn, header: header.Clone(), ops: map[string]context.CancelCauseFunc{}}
	if ws.header == nil {
		ws.header = http.Header{}
	}
	ws.serve(r)
}

// closeFor closes a connection refused by open.
func closeFor(conn *websocket.Conn, err error) {
	if errors.Is(err, errShuttingDown) {
		conn.Close(gqlws.CloseGoingAway, err.Error())
		return
	}
	conn.Close(gqlws.CloseTryAgainLater, err.Error())
}

type wsConn struct {
	s      *Service
	c      *connection
	conn   *websocket.Conn
	header http.Header

	mu    sync.Mutex
	acked bool
	token string
	ops   map[string]context.CancelCauseFunc
	wg    sync.WaitGroup
}

func (ws *wsConn) serve(r *http.Request) {
	ctx := ws.c.ctx
	ws.token = bearer(r.Header.Get("Authorization"))
	init := time.AfterFunc(ws.s.cfg.InitTimeout, func() {
		ws.mu.Lock()
		acked := ws.acked
		ws.mu.Unlock()
		if !acked {
			ws.conn.Close(gqlws.CloseInitTimeout, "Connection initialisation timeout")
		}
	})
	defer init.Stop()
	go ws.keepAlive(ctx)
	go ws.endOnCause(ctx)
	for {
		// Not ctx: coder/websocket closes a connection whose Read context
		// ends, and an ended token must first tell the client why.
		typ, b, err := ws.conn.Read(context.Background())
		if err != nil {
			ws.c.cancel(context.Canceled)
			ws.wg.Wait()
			ws.conn.CloseNow()
			return
		}
		var m gqlws.Message
		if typ != websocket.MessageText || json.Unmarshal(b, &m) != nil {
			ws.conn.Close(gqlws.CloseBadRequest, "Invalid message received")
			continue
		}
		if !ws.handle(r, m) {
			continue
		}
	}
}

// handle acts on one client message; false when it closed the connection.
func (ws *wsConn) handle(r *http.Request, m gqlws.Message) bool {
	switch m.Type {
	case gqlws.ConnectionInit:
		return ws.init(r, m.Payload)
	case gqlws.Ping:
		ws.send(gqlws.Message{Type: gqlws.Pong, Payload: m.Payload})
	case gqlws.Pong:
	case gqlws.Subscribe:
		return ws.subscribe(m)
	case gqlws.Complete:
		ws.mu.Lock()
		cancel := ws.ops[m.ID]
		delete(ws.ops, m.ID)
		ws.mu.Unlock()
		if cancel != nil {
			cancel(errClientComplete)
		}
	default:
		ws.conn.Close(gqlws.CloseBadRequest, "Invalid message received")
		return false
	}
	return true
}

// init answers connection_init: the token (payload's, else the upgrade's)
// verified, the user's place taken, the token watched, then connection_ack.
func (ws *wsConn) init(r *http.Request, payload json.RawMessage) bool {
	ws.mu.Lock()
	again := ws.acked
	ws.acked = true // a second init is refused even while the first is checked
	ws.mu.Unlock()
	if again {
		ws.conn.Close(gqlws.CloseTooManyInitRequests, "Too many initialisation requests")
		return false
	}
	claims, _ := auth.ClaimsFromContext(r.Context())
	if h := initAuthorization(payload); h != "" {
		token := bearer(h)
		if token == "" {
			ws.conn.Close(gqlws.CloseForbidden, "Forbidden: invalid token")
			return false
		}
		if ws.s.verifier != nil {
			var err error
			if claims, err = ws.s.verifier.Verify(ws.c.ctx, token); err != nil {
				if auth.IsUnavailable(err) {
					ws.conn.Close(gqlws.CloseTryAgainLater, "cannot verify token now, try again later")
				} else {
					ws.conn.Close(gqlws.CloseForbidden, "Forbidden: "+auth.ErrorMessage(err))
				}
				return false
			}
		}
		ws.token = token
		ws.header.Set("Authorization", "Bearer "+token)
	}
	if err := ws.c.rekey(claims); err != nil {
		closeFor(ws.conn, err)
		return false
	}
	go ws.c.watch(ws.token, claims)
	ws.send(gqlws.Message{Type: gqlws.ConnectionAck})
	return true
}

// initAuthorization is the Authorization value of a connection_init
// payload: {"Authorization"}, {"authorization"} or {"headers": {…}}.
func initAuthorization(payload json.RawMessage) string {
	var p struct {
		A1      string            `json:"Authorization"`
		A2      string            `json:"authorization"`
		Headers map[string]string `json:"headers"`
	}
	if len(payload) == 0 || json.Unmarshal(payload, &p) != nil {
		return ""
	}
	for _, v := range []string{p.A1, p.A2, p.Headers["Authorization"], p.Headers["authorization"]} {
		if v != "" {
			return v
		}
	}
	return ""
}

// operationParams is a subscribe message's payload.
type operationParams struct {
	Query         string                     `json:"query"`
	OperationName string                     `json:"operationName"`
	Variables     map[string]json.RawMessage `json:"variables"`
	Extensions    map[string]json.RawMessage `json:"extensions"`
}

func (ws *wsConn) subscribe(m gqlws.Message) bool {
	ws.mu.Lock()
	acked, token := ws.acked && ws.c.ctx.Err() == nil, ws.token
	if !acked {
		ws.mu.Unlock()
		ws.conn.Close(gqlws.CloseUnauthorized, "Unauthorized")
		return false
	}
	var p operationParams
	if m.ID == "" || len(m.ID) > 128 || json.Unmarshal(m.Payload, &p) != nil || p.Query == "" {
		ws.mu.Unlock()
		ws.conn.Close(gqlws.CloseBadRequest, "Invalid message received")
		return false
	}
	if _, dup := ws.ops[m.ID]; dup {
		ws.mu.Unlock()
		ws.conn.Close(gqlws.CloseSubscriberExists, "Subscriber for "+m.ID+" already exists")
		return false
	}
	if len(ws.ops) >= ws.s.cfg.MaxSubscriptionsPerConnection {
		ws.mu.Unlock()
		ws.send(gqlws.Message{ID: m.ID, Type: gqlws.Error, Payload: errorsJSON(CodeLimit, "too many subscriptions on this connection")})
		return true
	}
	ctx, cancel := context.WithCancelCause(ws.c.ctx)
	ws.ops[m.ID] = cancel
	ws.wg.Add(1)
	ws.mu.Unlock()
	req := gateway.Request{Query: p.Query, OperationName: p.OperationName, Variables: p.Variables, Extensions: p.Extensions, Header: ws.header}
	go func() {
		defer ws.wg.Done()
		defer func() {
			ws.mu.Lock()
			delete(ws.ops, m.ID)
			ws.mu.Unlock()
			cancel(context.Canceled)
		}()
		ws.operation(ctx, m.ID, req, token)
	}()
	return true
}

// operation runs one operation of the connection: a query or mutation gives
// one result, a subscription its events; then complete, or an error message.
func (ws *wsConn) operation(ctx context.Context, id string, req gateway.Request, token string) {
	src := ws.s.src
	if !src.IsSubscription(ctx, req) {
		resp := src.Do(ctx, req)
		defer resp.Release()
		if resp.Data == nil {
			ws.send(gqlws.Message{ID: id, Type: gqlws.Error, Payload: mustJSON(resp.Errors)})
			return
		}
		ws.send(gqlws.Message{ID: id, Type: gqlws.Next, Payload: resultJSON(resp)})
		ws.send(gqlws.Message{ID: id, Type: gqlws.Complete})
		return
	}
	sub, resp := src.Subscribe(ctx, req)
	if resp != nil {
		ws.send(gqlws.Message{ID: id, Type: gqlws.Error, Payload: mustJSON(resp.Errors)})
		return
	}
	err := pump(ctx, ws.s, sub, token, 0, func(b []byte) error {
		return ws.send(gqlws.Message{ID: id, Type: gqlws.Next, Payload: b})
	})
	if errors.Is(context.Cause(ctx), errClientComplete) {
		return
	}
	if err == nil {
		ws.send(gqlws.Message{ID: id, Type: gqlws.Complete})
		return
	}
	ws.send(gqlws.Message{ID: id, Type: gqlws.Error, Payload: errorsOf(err)})
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// send writes one message within the write timeout; a failed write ends
// the connection.
func (ws *wsConn) send(m gqlws.Message) error {
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), ws.s.cfg.WriteTimeout)
	defer cancel()
	if err := ws.conn.Write(ctx, websocket.MessageText, b); err != nil {
		ws.c.cancel(context.Canceled)
		ws.conn.CloseNow()
		return err
	}
	return nil
}

// keepAlive pings the client (WebSocket ping frames); a client that does
// not answer within KeepAlive is disconnected.
func (ws *wsConn) keepAlive(ctx context.Context) {
	t := time.NewTicker(ws.s.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(context.Background(), ws.s.cfg.KeepAlive)
			err := ws.conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				ws.c.cancel(context.Canceled)
				ws.conn.CloseNow()
				return
			}
		}
	}
}

// endOnCause closes the connection when its token expires or its session
// ends: each running operation first gets an error message, then the
// socket closes with 4403 and the reason.
func (ws *wsConn) endOnCause(ctx context.Context) {
	<-ctx.Done()
	var se *streamError
	if !errors.As(context.Cause(ctx), &se) || se.code != CodeUnauthenticated {
		return
	}
	done := make(chan struct{})
	go func() {
		ws.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(ws.s.cfg.WriteTimeout):
	}
	ws.conn.Close(gqlws.CloseForbidden, "Forbidden: "+se.message)
}

// pump runs a subscription and writes each result with write, from a
// bounded buffer (Config.Buffer), with a heartbeat every KeepAlive when
// heartbeat is set (0: none). It returns run's outcome, or the write's
// error.
func pump(ctx context.Context, s *Service, sub *gateway.Subscription, token string, heartbeat time.Duration, write func([]byte) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(context.Canceled)
	out := make(chan []byte, s.cfg.Buffer)
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, sub, token, out) }()
	var beat <-chan time.Time
	if heartbeat > 0 {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		beat = t.C
	}
	for {
		select {
		case b := <-out:
			if err := write(b); err != nil {
				cancel(err)
				<-done
				return err
			}
		case <-beat:
			if err := write(nil); err != nil {
				cancel(err)
				<-done
				return err
			}
		case err := <-done:
			for {
				select {
				case b := <-out:
					if werr := write(b); werr != nil {
						return werr
					}
				default:
					return err
				}
			}
		}
	}
}
