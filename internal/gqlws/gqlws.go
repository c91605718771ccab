// Package gqlws speaks the graphql-transport-ws protocol
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md) over
// github.com/coder/websocket: its messages and close codes, and a client that
// multiplexes subscriptions on one connection. The router uses the client
// to subscribe to subgraphs (gqlgen serves the protocol) and its server side
// uses the messages; tests use the client against both.
package gqlws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Protocol is the WebSocket subprotocol.
const Protocol = "graphql-transport-ws"

// Message types.
const (
	ConnectionInit = "connection_init"
	ConnectionAck  = "connection_ack"
	Ping           = "ping"
	Pong           = "pong"
	Subscribe      = "subscribe"
	Next           = "next"
	Error          = "error"
	Complete       = "complete"
)

// Close codes of the protocol (and the WebSocket ones it uses).
const (
	CloseNormal              websocket.StatusCode = 1000
	CloseGoingAway           websocket.StatusCode = 1001
	CloseTryAgainLater       websocket.StatusCode = 1013
	CloseInternal            websocket.StatusCode = 4500
	CloseBadRequest          websocket.StatusCode = 4400
	CloseUnauthorized        websocket.StatusCode = 4401
	CloseForbidden           websocket.StatusCode = 4403
	CloseSubprotocol         websocket.StatusCode = 4406
	CloseInitTimeout         websocket.StatusCode = 4408
	CloseSubscriberExists    websocket.StatusCode = 4409
	CloseTooManyInitRequests websocket.StatusCode = 4429
)

// Message is one protocol message.
type Message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// MaxMessageBytes bounds a message read by either side.
const MaxMessageBytes = 1 << 20

// ErrClosed is returned once the connection is gone; errors.As finds a
// websocket.CloseError with the peer's code and reason when it closed.
var ErrClosed = errors.New("gqlws: connection closed")

// ErrUnauthorized: the server refused the upgrade's token (HTTP 401), or
// closed the connection with 4401 / 4403 at connection_init.
var ErrUnauthorized = errors.New("gqlws: unauthorized")

// OperationError is an `error` message: the operation failed before any
// result (its GraphQL errors are in Payload, a JSON array).
type OperationError struct {
	Payload json.RawMessage
}

func (e *OperationError) Error() string { return "gqlws: operation error: " + string(e.Payload) }

// Client is one graphql-transport-ws connection, acknowledged.
type Client struct {
	conn *websocket.Conn
	ctx  context.Context // ends when the connection does
	stop context.CancelFunc

	mu     sync.Mutex
	subs   map[string]*Stream
	nextID int
	err    error
}

// DialOption configures Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	header  http.Header
	payload any
	client  *http.Client
	ping    time.Duration
}

// WithHeader sets the upgrade request's headers.
func WithHeader(h http.Header) DialOption { return func(c *dialConfig) { c.header = h } }

// WithInitPayload sets connection_init's payload (e.g. {"Authorization": "Bearer …"}).
func WithInitPayload(p any) DialOption { return func(c *dialConfig) { c.payload = p } }

// WithHTTPClient dials through c.
func WithHTTPClient(c *http.Client) DialOption { return func(d *dialConfig) { d.client = c } }

// WithPing makes the client ping every d and give up on a peer that sends
// nothing (not even a pong) for 3·d; default 10 s, negative: never.
func WithPing(d time.Duration) DialOption { return func(c *dialConfig) { c.ping = d } }

// Dial connects to url (ws:// or http://), sends connection_init and waits
// for connection_ack (within ctx).
func Dial(ctx context.Context, url string, opts ...DialOption) (*Client, error) {
	cfg := dialConfig{ping: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader: cfg.header, HTTPClient: cfg.client, Subprotocols: []string{Protocol}})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
		return nil, fmt.Errorf("gqlws: dial: %w", err)
	}
	conn.SetReadLimit(MaxMessageBytes)
	if conn.Subprotocol() != Protocol {
		conn.Close(CloseSubprotocol, "subprotocol not acceptable")
		return nil, fmt.Errorf("gqlws: the server does not speak %s", Protocol)
	}
	init := Message{Type: ConnectionInit}
	if cfg.payload != nil {
		if init.Payload, err = json.Marshal(cfg.payload); err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("gqlws: init payload: %w", err)
		}
	}
	if err := write(ctx, conn, init); err != nil {
		conn.CloseNow()
		return nil, err
	}
	for {
		m, err := read(ctx, conn)
		if err != nil {
			conn.CloseNow()
			if code := websocket.CloseStatus(err); code == CloseForbidden || code == CloseUnauthorized {
				return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
			}
			return nil, err
		}
		if m.Type == Ping {
			if err := write(ctx, conn, Message{Type: Pong}); err != nil {
				conn.CloseNow()
				return nil, err
			}
			continue
		}
		if m.Type != ConnectionAck {
			conn.Close(CloseBadRequest, "expected connection_ack")
			return nil, fmt.Errorf("gqlws: expected connection_ack, got %q", m.Type)
		}
		break
	}
	c := &Client{conn: conn, subs: map[string]*Stream{}}
	c.ctx, c.stop = context.WithCancel(context.Background())
	seen := make(chan struct{}, 1)
	go c.readLoop(seen)
	if cfg.ping > 0 {
		go c.pingLoop(cfg.ping, seen)
	}
	return c, nil
}

func write(ctx context.Context, conn *websocket.Conn, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("gqlws: encode: %w", err)
	}
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return nil
}

func read(ctx context.Context, conn *websocket.Conn) (Message, error) {
	var m Message
	typ, b, err := conn.Read(ctx)
	if err != nil {
		return m, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if typ != websocket.MessageText || json.Unmarshal(b, &m) != nil || m.Type == "" {
		return m, fmt.Errorf("gqlws: invalid message")
	}
	return m, nil
}

// Done is closed when the connection has ended; Err says why.
func (c *Client) Done() <-chan struct{} { return c.ctx.Done() }

// Err is why the connection ended (nil while it is open).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	subs := c.subs
	c.subs = map[string]*Stream{}
	c.mu.Unlock()
	for _, s := range subs {
		s.finish(err)
	}
	c.stop()
}

func (c *Client) readLoop(seen chan<- struct{}) {
	for {
		m, err := read(c.ctx, c.conn)
		if err != nil {
			c.fail(err)
			c.conn.CloseNow()
			return
		}
		select {
		case seen <- struct{}{}:
		default:
		}
		switch m.Type {
		case Ping:
			go func() { _ = write(c.ctx, c.conn, Message{Type: Pong, Payload: m.Payload}) }()
		case Pong:
		case Next, Error, Complete:
			c.mu.Lock()
			s := c.subs[m.ID]
			if m.Type != Next {
				delete(c.subs, m.ID)
			}
			c.mu.Unlock()
			if s == nil {
				continue
			}
			switch m.Type {
			case Next:
				s.deliver(m.Payload)
			case Error:
				s.finish(&OperationError{Payload: m.Payload})
			default:
				s.finish(nil)
			}
		default:
			c.conn.Close(CloseBadRequest, "unexpected message type")
			c.fail(fmt.Errorf("gqlws: unexpected message %q", m.Type))
			return
		}
	}
}

// pingLoop pings every d; a peer silent for 3·d is given up on (a half-open
// connection never hangs a stream).
func (c *Client) pingLoop(d time.Duration, seen <-chan struct{}) {
	t := time.NewTicker(d)
	defer t.Stop()
	silent := 0
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-seen:
			silent = 0
		case <-t.C:
			if silent++; silent >= 3 {
				c.fail(fmt.Errorf("%w: the server sent nothing for %v", ErrClosed, 3*d))
				c.conn.CloseNow()
				return
			}
			_ = write(c.ctx, c.conn, Message{Type: Ping})
		}
	}
}

// Close ends the connection normally.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	return c.conn.Close(CloseNormal, "")
}

// Stream is one subscription on a Client.
type Stream struct {
	c    *Client
	id   string
	next chan json.RawMessage
	done chan struct{}
	once sync.Once
	err  error
}

// Subscribe starts an operation (payload: {"query", "variables",
// "operationName", "extensions"}). buffer bounds the results held for a
// reader that does not keep up: past it the reading of the whole connection
// waits (the server's own buffers then fill).
func (c *Client) Subscribe(ctx context.Context, payload any, buffer int) (*Stream, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("gqlws: encode payload: %w", err)
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	s := &Stream{c: c, id: strconv.Itoa(c.nextID), next: make(chan json.RawMessage, max(buffer, 1)), done: make(chan struct{})}
	c.subs[s.id] = s
	c.mu.Unlock()
	if err := write(ctx, c.conn, Message{ID: s.id, Type: Subscribe, Payload: b}); err != nil {
		c.fail(err)
		return nil, err
	}
	return s, nil
}

func (s *Stream) deliver(p json.RawMessage) {
	select {
	case s.next <- p:
	case <-s.done:
	case <-s.c.ctx.Done():
	}
}

func (s *Stream) finish(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

// Next returns the next result's payload ({"data", "errors"}); io.EOF-like
// nil payload with a nil error never happens: at the end it returns
// (nil, ErrComplete), (nil, *OperationError) or (nil, the connection's error).
func (s *Stream) Next(ctx context.Context) (json.RawMessage, error) {
	select {
	case p := <-s.next:
		return p, nil
	default:
	}
	select {
	case p := <-s.next:
		return p, nil
	case <-s.done:
		select {
		case p := <-s.next:
			return p, nil
		default:
		}
		if s.err == nil {
			return nil, ErrComplete
		}
		return nil, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ErrComplete is Next's error after the server's complete.
var ErrComplete = errors.New("gqlws: complete")

// Close stops the subscription (sends complete when it is still running).
func (s *Stream) Close() {
	s.c.mu.Lock()
	_, running := s.c.subs[s.id]
	delete(s.c.subs, s.id)
	s.c.mu.Unlock()
	s.finish(ErrComplete)
	if running {
		ctx, cancel := context.WithTimeout(s.c.ctx, 5*time.Second)
		defer cancel()
		_ = write(ctx, s.c.conn, Message{ID: s.id, Type: Complete})
	}
}
