package fedsub

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Execute runs query against the schema and returns the JSON response.
func (s *Schema) Execute(query, opName string, vars map[string]any) []byte {
	return s.execute(nil, s.plan(query, opName), vars)
}

const maxCachedPlans = 1024

var (
	planMu sync.Mutex
	plans  = map[*Schema]map[string]*opPlan{}
)

func (s *Schema) plan(query, opName string) *opPlan {
	key := opName + "\x00" + query
	planMu.Lock()
	m := plans[s]
	if m == nil {
		m = map[string]*opPlan{}
		plans[s] = m
	}
	p := m[key]
	planMu.Unlock()
	if p != nil {
		return p
	}
	p = compileOperation(s, query, opName)
	planMu.Lock()
	if len(m) >= maxCachedPlans {
		clear(m)
	}
	m[key] = p
	planMu.Unlock()
	return p
}

func (s *Schema) execute(buf []byte, p *opPlan, vars map[string]any) []byte {
	if p.err != nil {
		buf = append(buf, `{"errors":[{"message":`...)
		buf = appendString(buf, p.err.Error())
		return append(buf, `}]}`...)
	}
	c := &execCtx{vars: vars}
	buf = append(buf, `{"data":`...)
	buf = c.writeObject(buf, "Query", nil, p.root)
	if len(c.errs) > 0 {
		buf = append(buf, `,"errors":[`...)
		for i, e := range c.errs {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"message":`...)
			buf = appendString(buf, e)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	return append(buf, '}')
}

// Handler serves one subgraph at /graphql (POST JSON) and /health.
type Handler struct {
	Schema *Schema
	// RequireAuth answers with a GraphQL error when a request has no bearer token,
	// so a gateway that does not forward Authorization fails the benchmark.
	RequireAuth bool
	// Recorder, when set, records requests whose Authorization is "Bearer record".
	Recorder *Recorder
	// URL is this subgraph's routing URL (for the recording).
	URL string
	// Cache keeps the response to each distinct request body (the data never changes,
	// so the answer to the same body is always the same): a replayed request then costs
	// a map lookup and a write.
	Cache bool

	cacheMu sync.RWMutex
	cache   map[string][]byte

	Requests atomic.Int64
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

type gqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
		return
	case "/graphql", "/":
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	h.Requests.Add(1)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	body := bytes.NewBuffer((*bp)[:0])
	if _, err := body.ReadFrom(io.LimitReader(r.Body, 16<<20)); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	auth := r.Header.Get("Authorization")
	if h.Recorder != nil && auth == "Bearer record" {
		h.Recorder.add(h.URL, body.Bytes())
	}
	if h.RequireAuth && (!strings.HasPrefix(auth, "Bearer ") || len(auth) <= len("Bearer ")) {
		writeJSON(w, http.StatusOK, []byte(`{"errors":[{"message":"subgraph `+h.Schema.Name+`: missing Authorization bearer token"}]}`))
		return
	}
	if h.Cache {
		h.cacheMu.RLock()
		out, ok := h.cache[string(body.Bytes())]
		h.cacheMu.RUnlock()
		if ok {
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	var req gqlRequest
	if err := json.Unmarshal(body.Bytes(), &req); err != nil {
		writeJSON(w, http.StatusBadRequest, []byte(`{"errors":[{"message":"invalid JSON body"}]}`))
		return
	}
	if h.Cache {
		out := h.Schema.execute(nil, h.Schema.plan(req.Query, req.OperationName), req.Variables)
		h.cacheMu.Lock()
		if h.cache == nil || len(h.cache) >= maxCachedResponses {
			h.cache = map[string][]byte{}
		}
		h.cache[body.String()] = out
		h.cacheMu.Unlock()
		writeJSON(w, http.StatusOK, out)
		return
	}
	out := h.Schema.execute(body.Bytes()[:0], h.Schema.plan(req.Query, req.OperationName), req.Variables)
	*bp = out
	writeJSON(w, http.StatusOK, out)
}

const maxCachedResponses = 4096

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = []string{"application/json"}
	hdr["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Recorder appends recorded subgraph requests as JSON lines {"url":..., "body":...}.
type Recorder struct {
	mu sync.Mutex
	f  *os.File
}

// NewRecorder truncates path and records into it.
func NewRecorder(path string) (*Recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &Recorder{f: f}, nil
}

func (r *Recorder) add(url string, body []byte) {
	line, _ := json.Marshal(struct {
		URL  string          `json:"url"`
		Body json.RawMessage `json:"body"`
	}{url, append([]byte(nil), body...)})
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.f.Write(append(line, '\n'))
}
