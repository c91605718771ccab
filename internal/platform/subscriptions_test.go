package platform_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/gqlws"
	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/documents"
)

// processingQuery reaches into three subgraphs per event: the event and the
// document from documents, the project's name from compliance and the
// uploader's email from identity (entity fetches completed by the router).
const processingQuery = `subscription Progress($id: ID!, $after: ID) {
  documentProcessing(id: $id, after: $after) {
    id state progress final
    document { filename project { name } uploadedBy { email } }
  }
}`

type progressEvent struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Progress int    `json:"progress"`
	Final    bool   `json:"final"`
	Document struct {
		Filename string `json:"filename"`
		Project  struct {
			Name string `json:"name"`
		} `json:"project"`
		UploadedBy struct {
			Email string `json:"email"`
		} `json:"uploadedBy"`
	} `json:"document"`
}

// result is one result of a stream: {"data": {"documentProcessing": …}, "errors"}.
type result struct {
	Data struct {
		DocumentProcessing *progressEvent `json:"documentProcessing"`
	} `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func decodeResult(t *testing.T, b []byte) result {
	t.Helper()
	var r result
	require.NoError(t, json.Unmarshal(b, &r), string(b))
	return r
}

// upstreamConns records the WebSocket connections the documents subgraph
// accepted, so a test can cut them as a restart would.
type upstreamConns struct {
	mu    sync.Mutex
	conns []net.Conn
}

type hijackRecorder struct {
	http.ResponseWriter
	u *upstreamConns
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		h.u.mu.Lock()
		h.u.conns = append(h.u.conns, c)
		h.u.mu.Unlock()
	}
	return c, rw, err
}

func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (u *upstreamConns) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&hijackRecorder{ResponseWriter: w, u: u}, r)
	})
}

// count is how many connections were recorded since the last cut.
func (u *upstreamConns) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conns)
}

// cut closes every recorded connection and reports how many were open.
func (u *upstreamConns) cut() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := len(u.conns)
	for _, c := range u.conns {
		c.Close()
	}
	u.conns = nil
	return n
}

// uploadThroughRouter uploads a small text document into the demo project
// (requestUpload, PUT to the presigned URL, completeUpload) and returns its id.
func uploadThroughRouter(t *testing.T, g *graph, token, name, text string) string {
	t.Helper()
	resp := g.post(t, token, `mutation($in: RequestUploadInput!) { requestUpload(input: $in) { documentId url } }`,
		map[string]any{"in": map[string]any{"filename": name, "size": len(text), "projectId": demo.ProjectID}})
	require.Empty(t, resp.Errors)
	var ticket struct{ DocumentID, URL string }
	require.NoError(t, json.Unmarshal(resp.Data["requestUpload"], &ticket))
	req, err := http.NewRequest(http.MethodPut, ticket.URL, strings.NewReader(text))
	require.NoError(t, err)
	put, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	put.Body.Close()
	require.Equal(t, http.StatusOK, put.StatusCode)
	resp = g.post(t, token, `mutation($id: ID!) { completeUpload(documentId: $id) { id } }`, map[string]any{"id": ticket.DocumentID})
	require.Empty(t, resp.Errors)
	return ticket.DocumentID
}

func dialRouter(t *testing.T, g *graph, token string) *gqlws.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := gqlws.Dial(ctx, g.p.RouterURL+"/graphql", gqlws.WithInitPayload(map[string]string{"Authorization": "Bearer " + token}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func subscribe(t *testing.T, c *gqlws.Client, vars map[string]any) *gqlws.Stream {
	t.Helper()
	s, err := c.Subscribe(context.Background(), map[string]any{"query": processingQuery, "variables": vars}, 16)
	require.NoError(t, err)
	return s
}

// drain reads a stream's results until it ends, and how it ended.
func drain(t *testing.T, s *gqlws.Stream) ([]result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []result
	for {
		p, err := s.Next(ctx)
		if err != nil {
			require.NoError(t, ctx.Err(), "the stream hung")
			return out, err
		}
		out = append(out, decodeResult(t, p))
	}
}

func progressOf(rs []result) []int {
	var out []int
	for _, r := range rs {
		if r.Data.DocumentProcessing != nil {
			out = append(out, r.Data.DocumentProcessing.Progress)
		}
	}
	return out
}

// streamHTTP posts the subscription with an Accept asking for a stream and
// returns the response.
func streamHTTP(t *testing.T, ctx context.Context, g *graph, token, accept, query string, vars map[string]any) *http.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.p.RouterURL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// sseEvents reads an SSE response until `complete` and returns the `next`
// events' data.
func sseEvents(t *testing.T, resp *http.Response) []result {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	var out []result
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "next":
			out = append(out, decodeResult(t, []byte(strings.TrimPrefix(line, "data: "))))
		case line == "data:" && event == "complete":
			return out
		}
	}
	t.Fatalf("the SSE stream ended without complete: %v", sc.Err())
	return nil
}

// multipartPayloads reads an Apollo multipart subscription response until
// its closing boundary and returns its parts (heartbeats {} left out).
func multipartPayloads(t *testing.T, resp *http.Response) []json.RawMessage {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, `multipart/mixed;boundary="graphql";subscriptionSpec="1.0"`, resp.Header.Get("Content-Type"))
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	body := string(raw)
	require.True(t, strings.HasPrefix(body, "\r\n--graphql\r\n"), body)
	require.True(t, strings.HasSuffix(body, "\r\n--graphql--\r\n"), body)
	var out []json.RawMessage
	for _, part := range strings.Split(strings.TrimSuffix(body, "--\r\n"), "\r\n--graphql") {
		head, payload, ok := strings.Cut(part, "\r\n\r\n")
		if !ok {
			continue
		}
		require.Equal(t, "\r\ncontent-type: application/json", head)
		if payload != "{}" {
			out = append(out, json.RawMessage(payload))
		}
	}
	return out
}

// TestSubscriptionsThroughTheRouter serves documentProcessing through the
// real router and subgraphs over the three client protocols, each event
// completed with entity fetches to compliance and identity, and the ways a
// stream ends: limits, a subgraph that goes away, a session that ends, a
// router that shuts down. The npm packages graphql-ws and graphql-sse run
// against the same router (test/js).
func TestSubscriptionsThroughTheRouter(t *testing.T) {
	up := &upstreamConns{}
	g := &graph{}
	p, err := platform.Start(context.Background(), platform.Config{
		DatabaseURL:    testenv.Database(t),
		RedisURL:       testenv.Stack(t).RedisURL,
		NatsURL:        testenv.Stack(t).NatsURL,
		SupergraphFile: "../../schema/supergraph.graphql",
		RouterAddr:     "127.0.0.1:0",
		IdentityAddr:   "127.0.0.1:0",
		ComplianceAddr: "127.0.0.1:0",
		DocumentsAddr:  "127.0.0.1:0",
		PolicyAddr:     "127.0.0.1:0",
		S3:             testS3(t),
		Seed:           true,
	}, platform.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		platform.WithMiddleware(documents.Name, up.middleware),
		platform.WithRouterConfig(func(c *router.Config) {
			c.Subscriptions.MaxSubscriptionsPerConnection = 3
			c.Subscriptions.SessionCheck = 100 * time.Millisecond
		}))
	require.NoError(t, err)
	t.Cleanup(p.Close)
	g.p = p
	token := g.login(t, demo.DemoUser.Email)
	doc := uploadThroughRouter(t, g, token, "backups.txt", "Backups run nightly; a restore is tested every quarter.")

	var events []progressEvent
	t.Run("websocket", func(t *testing.T) {
		rs, err := drain(t, subscribe(t, dialRouter(t, g, token), map[string]any{"id": doc}))
		require.ErrorIs(t, err, gqlws.ErrComplete)
		require.Equal(t, []int{0, 40, 70, 100}, progressOf(rs))
		for _, r := range rs {
			require.Empty(t, r.Errors)
			ev := r.Data.DocumentProcessing
			require.Equal(t, "backups.txt", ev.Document.Filename)
			require.Equal(t, demo.ProjectName, ev.Document.Project.Name, "from compliance")
			require.Equal(t, demo.DemoUser.Email, ev.Document.UploadedBy.Email, "from identity")
			events = append(events, *ev)
		}
		require.True(t, events[3].Final)
		require.Equal(t, "SUCCEEDED", events[3].State)
	})
	require.Len(t, events, 4)
	last := events[3].ID

	t.Run("sse resumes after an event", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		rs := sseEvents(t, streamHTTP(t, ctx, g, token, "text/event-stream", processingQuery, map[string]any{"id": doc, "after": events[1].ID}))
		require.Equal(t, []int{70, 100}, progressOf(rs))
		require.Equal(t, demo.DemoUser.Email, rs[0].Data.DocumentProcessing.Document.UploadedBy.Email)
	})

	t.Run("multipart", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		parts := multipartPayloads(t, streamHTTP(t, ctx, g, token, `multipart/mixed;subscriptionSpec="1.0", application/json`, processingQuery, map[string]any{"id": doc}))
		var rs []result
		for _, part := range parts {
			var p struct {
				Payload json.RawMessage `json:"payload"`
			}
			require.NoError(t, json.Unmarshal(part, &p))
			rs = append(rs, decodeResult(t, p.Payload))
		}
		require.Equal(t, []int{0, 40, 70, 100}, progressOf(rs))
	})

	t.Run("request errors", func(t *testing.T) {
		c := dialRouter(t, g, token)
		s, err := c.Subscribe(context.Background(), map[string]any{"query": `subscription { documentProcessing(id: 1) { nope } }`}, 1)
		require.NoError(t, err)
		_, err = drain(t, s)
		var oe *gqlws.OperationError
		require.ErrorAs(t, err, &oe)
		require.Contains(t, string(oe.Payload), "GRAPHQL_VALIDATION_FAILED")

		// The subgraph's own refusal (another organization's document does
		// not exist): an execution result with the error, then complete.
		rs, err := drain(t, subscribe(t, c, map[string]any{"id": "00000000-0000-4000-8000-00000000ffff"}))
		require.ErrorIs(t, err, gqlws.ErrComplete)
		require.Len(t, rs, 1)
		require.Equal(t, "NOT_FOUND", rs[0].Errors[0].Extensions["code"])

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp := streamHTTP(t, ctx, g, token, "text/event-stream", `subscription { nope }`, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		b, _ := io.ReadAll(resp.Body)
		require.Contains(t, string(b), "GRAPHQL_VALIDATION_FAILED")
	})

	t.Run("subscriptions per connection", func(t *testing.T) {
		c := dialRouter(t, g, token)
		for range 3 { // waiting for events after the last: they stay open
			subscribe(t, c, map[string]any{"id": doc, "after": last})
		}
		_, err := drain(t, subscribe(t, c, map[string]any{"id": doc, "after": last}))
		var oe *gqlws.OperationError
		require.ErrorAs(t, err, &oe)
		require.Contains(t, string(oe.Payload), "SUBSCRIPTION_LIMIT_EXCEEDED")
	})

	t.Run("subgraph goes away", func(t *testing.T) {
		s := subscribe(t, dialRouter(t, g, token), map[string]any{"id": doc, "after": last})
		ended := make(chan error, 1)
		go func() {
			_, err := s.Next(context.Background())
			ended <- err
		}()
		var err error
		require.Eventually(t, func() bool { // cut the subgraph's connections until the stream ends
			up.cut()
			select {
			case err = <-ended:
				return true
			default:
				return false
			}
		}, 30*time.Second, 50*time.Millisecond, "the stream hung")
		var oe *gqlws.OperationError
		require.ErrorAs(t, err, &oe)
		require.Contains(t, string(oe.Payload), "SUBSCRIPTION_UPSTREAM_CLOSED")
	})

	t.Run("node clients", func(t *testing.T) {
		runNodeClients(t, g, token, doc, events)
	})

	t.Run("session ended", func(t *testing.T) {
		tok := g.login(t, demo.Alice.Email)
		up.cut()
		c := dialRouter(t, g, tok)
		s := subscribe(t, c, map[string]any{"id": doc, "after": last})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		sse := streamHTTP(t, ctx, g, tok, "text/event-stream", processingQuery, map[string]any{"id": doc, "after": last})
		require.Equal(t, http.StatusOK, sse.StatusCode)
		// Both streams are open at the subgraph before the logout.
		require.Eventually(t, func() bool { return up.count() == 2 }, 30*time.Second, 10*time.Millisecond)
		resp := g.post(t, tok, `mutation { logoutAll }`, nil)
		require.Empty(t, resp.Errors)

		_, err := drain(t, s)
		var oe *gqlws.OperationError
		require.ErrorAs(t, err, &oe)
		require.Contains(t, string(oe.Payload), "session ended")
		<-c.Done()
		var ce websocket.CloseError
		require.ErrorAs(t, c.Err(), &ce)
		require.Equal(t, gqlws.CloseForbidden, ce.Code)

		rs := sseEvents(t, sse)
		require.Len(t, rs, 1)
		require.Equal(t, "UNAUTHENTICATED", rs[0].Errors[0].Extensions["code"])
	})

	t.Run("shutdown", func(t *testing.T) {
		c := dialRouter(t, g, token)
		s := subscribe(t, c, map[string]any{"id": doc, "after": last})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		sse := streamHTTP(t, ctx, g, token, "text/event-stream", processingQuery, map[string]any{"id": doc, "after": last})
		require.Equal(t, http.StatusOK, sse.StatusCode)
		go p.Close()
		_, err := drain(t, s)
		var ce websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, gqlws.CloseGoingAway, ce.Code)
		rs := sseEvents(t, sse)
		require.Len(t, rs, 1)
		require.Equal(t, "SHUTTING_DOWN", rs[0].Errors[0].Extensions["code"])
	})
}

// runNodeClients runs test/js (node --test) against the router: the npm
// packages graphql-ws and graphql-sse as clients. `make test` installs its
// node_modules (npm ci); when they are missing the test installs them.
func runNodeClients(t *testing.T, g *graph, token, doc string, events []progressEvent) {
	t.Helper()
	dir, err := filepath.Abs("../../test/js")
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		out, err := exec.Command("npm", "ci", "--prefix", dir, "--no-audit", "--no-fund").CombinedOutput()
		require.NoError(t, err, "npm ci in test/js: %s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROUTER_URL="+g.p.RouterURL+"/graphql", "TOKEN="+token, "DOCUMENT_ID="+doc,
		"AFTER_ID="+events[1].ID, "LAST_ID="+events[3].ID, "PROJECT_NAME="+demo.ProjectName)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	require.NoError(t, err)
}
