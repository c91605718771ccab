package router_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/router/apq"
	"github.com/studio-platform/studio/router/config"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// edge is a real router (HTTP server, gateway, executor) on the basic
// supergraph, whose two subgraphs are one small server answering every
// fetch; it counts the fetches, so a refused request provably ran nothing.
type edge struct {
	url     string
	fetches atomic.Int64
	router  *router.Router
	prefix  string // its Redis keys' prefix
}

// unique returns a fresh name, so that tests sharing the stack's Redis
// (also across runs) never share a key.
func unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// runID keeps this test process's Redis keys apart from other runs'.
var runID = unique("")

// freshIP returns an address from TEST-NET-3 with random low bytes.
func freshIP() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("198.51.%d.%d", b[0], b[1])
}

// startEdge starts a router from a configuration file's text (public
// profile unless it says otherwise), with Redis from the test stack.
func startEdge(t *testing.T, yaml string, opts ...router.Option) *edge {
	t.Helper()
	e := &edge{}
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.fetches.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(string(body), "createProject"):
			_, _ = w.Write([]byte(`{"data":{"createProject":{"id":"p1"}}}`))
		default:
			_, _ = w.Write([]byte(`{"data":{"me":{"name":"Ada"}}}`))
		}
	}))
	t.Cleanup(sub.Close)
	c, err := config.Parse([]byte(yaml), func(k string) (string, bool) {
		if k == "REDIS_URL" {
			return testenv.Stack(t).RedisURL, true
		}
		return os.LookupEnv(k)
	})
	require.NoError(t, err)
	// Keys of its own: tests in other packages share this Redis and the
	// loopback address, and a limit's key does not carry its rate.
	// Replicas started by one test share them.
	e.prefix = "studio-test:" + runID + ":" + t.Name() + ":"
	c.Redis.KeyPrefix = e.prefix
	sdl, err := os.ReadFile("plan/testdata/basic/supergraph.graphql")
	require.NoError(t, err)
	cfg := router.ConfigFrom(c)
	cfg.SupergraphFile, cfg.SupergraphSDL = "", string(sdl)
	cfg.SubgraphURLs = map[string]string{"accounts": sub.URL, "projects": sub.URL}
	cfg.SessionsRedisURL = "" // the edge's tests sign tokens without sessions (internal/platform tests them)
	e.router, err = router.New(context.Background(), cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.router.Close() })
	srv := httptest.NewServer(e.router.Handler())
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

type reply struct {
	status int
	header http.Header
	body   string
	code   string
	data   json.RawMessage
}

// do sends a request; hdr is name, value pairs.
func (e *edge) do(t *testing.T, method, target, body string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.url+target, strings.NewReader(body))
	require.NoError(t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	var parsed struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &parsed) == nil {
		r.data = parsed.Data
		if len(parsed.Errors) > 0 {
			r.code, _ = parsed.Errors[0].Extensions["code"].(string)
		}
	}
	return r
}

func (e *edge) query(t *testing.T, body string, hdr ...string) reply {
	t.Helper()
	return e.do(t, http.MethodPost, "/graphql", body, hdr...)
}

const meQuery = `{"query":"{ me { name } }"}`

func TestRateLimitPerIPSharedByReplicas(t *testing.T) {
	const conf = `
redis: {url: "${REDIS_URL}"}
trusted_proxies: [127.0.0.1]
rate_limit:
  per_ip: {requests: 3, per: 1m}
`
	a, b := startEdge(t, conf), startEdge(t, conf)
	ip := freshIP()
	for i, e := range []*edge{a, b, a} { // two replicas, one quota
		r := e.query(t, meQuery, "X-Forwarded-For", "203.0.113.9, "+ip)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Equal(t, `"ip";q=3;w=60`, r.header.Get("RateLimit-Policy"))
		require.True(t, strings.HasPrefix(r.header.Get("RateLimit"), fmt.Sprintf(`"ip";r=%d;t=`, 2-i)), r.header.Get("RateLimit"))
	}
	before := a.fetches.Load() + b.fetches.Load()
	r := b.query(t, meQuery, "X-Forwarded-For", ip)
	require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	require.Equal(t, "RATE_LIMITED", r.code)
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	require.True(t, retry >= 1 && retry <= 20, retry) // one request's worth: 20 s
	require.True(t, strings.HasPrefix(r.header.Get("RateLimit"), `"ip";r=0;t=`), r.header.Get("RateLimit"))
	require.Equal(t, before, a.fetches.Load()+b.fetches.Load(), "a refused request fetches nothing")

	// Another client is not affected.
	require.Equal(t, http.StatusOK, a.query(t, meQuery, "X-Forwarded-For", freshIP()).status)
}

func TestForwardedForIsIgnoredWithoutTrustedProxies(t *testing.T) {
	e := startEdge(t, `
redis: {url: "${REDIS_URL}"}
rate_limit:
  per_ip: {requests: 100000, per: 10000h}
`)
	// The peer (127.0.0.1) is the client whatever X-Forwarded-For says: the
	// remaining quota goes down across spoofed addresses.
	first := e.query(t, meQuery, "X-Forwarded-For", freshIP())
	second := e.query(t, meQuery, "X-Forwarded-For", freshIP())
	require.Equal(t, http.StatusOK, first.status)
	require.Equal(t, http.StatusOK, second.status)
	rem := func(r reply) int {
		v := r.header.Get("RateLimit")
		n, err := strconv.Atoi(v[strings.Index(v, "r=")+2 : strings.Index(v, ";t=")])
		require.NoError(t, err, v)
		return n
	}
	require.Less(t, rem(second), rem(first))
}

func TestRateLimitPerUser(t *testing.T) {
	key, err := auth.GenerateKey()
	require.NoError(t, err)
	signer := auth.NewSigner("k1", key, "")
	e := startEdge(t, `
redis: {url: "${REDIS_URL}"}
rate_limit:
  per_user: {requests: 2, per: 1h}
  per_ip: {requests: 1000, per: 1s}
`, router.WithVerifier(signer))
	token := func(sub string) string {
		tok, err := signer.Sign(auth.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: sub,
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}})
		require.NoError(t, err)
		return "Bearer " + tok
	}
	alice, bob := token(unique("alice-")), token(unique("bob-"))
	for range 2 {
		r := e.query(t, meQuery, "Authorization", alice)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Contains(t, r.header.Get("RateLimit-Policy"), `"user";q=2;w=3600`)
		require.Equal(t, "private, no-store", r.header.Get("Cache-Control"))
	}
	r := e.query(t, meQuery, "Authorization", alice)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "RATE_LIMITED", r.code)
	require.Contains(t, r.header.Get("RateLimit"), `"user";r=0;t=`)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Equal(t, http.StatusOK, e.query(t, meQuery, "Authorization", bob).status)
	// Anonymous requests have no user quota.
	r = e.query(t, meQuery)
	require.Equal(t, http.StatusOK, r.status)
	require.NotContains(t, r.header.Get("RateLimit-Policy"), `"user"`)
	require.Empty(t, r.header.Get("Cache-Control"))
}

func TestLoginAttemptsCountEveryAlias(t *testing.T) {
	e := startEdge(t, `
redis: {url: "${REDIS_URL}"}
trusted_proxies: [127.0.0.1]
rate_limit:
  per_ip: {requests: 1000, per: 1s}
  login:
    field: Mutation.createProject
    account_argument: name
    per_account: {requests: 3, per: 15m}
    per_ip: {requests: 6, per: 15m}
`)
	// The basic supergraph has no login: createProject(name) stands in for
	// it (the field is configuration). 20 guesses in one request are
	// refused as a whole, before any subgraph is called.
	account := unique("victim-")
	var aliases strings.Builder
	for i := range 20 {
		fmt.Fprintf(&aliases, "g%d: createProject(name: %q) { id } ", i, account)
	}
	ip := freshIP()
	r := e.query(t, `{"query":`+strconv.Quote("mutation { "+aliases.String()+"}")+`}`, "X-Forwarded-For", ip)
	require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	require.Equal(t, "LOGIN_RATE_LIMITED", r.code)
	require.Contains(t, r.body, "20 in this request")
	require.NotContains(t, r.body, `"data"`)
	require.Zero(t, e.fetches.Load())

	// One at a time: three attempts, then the account is locked, whatever
	// the spelling, the alias, the fragment or the variable.
	mut := func(q string, vars string) reply {
		body := `{"query":` + strconv.Quote(q) + `,"variables":` + vars + `}`
		return e.query(t, body, "X-Forwarded-For", ip)
	}
	require.Equal(t, http.StatusOK, mut(`mutation { createProject(name: "`+account+`") { id } }`, `{}`).status)
	require.Equal(t, http.StatusOK, mut(`mutation($n: String!) { x: createProject(name: $n) { id } }`, `{"n":"`+strings.ToUpper(account)+`"}`).status)
	r = mut(`mutation { ...F } fragment F on Mutation { y: createProject(name: " `+account+` ") { id } }`, `{}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.header.Get("RateLimit-Policy"), `"login-account";q=3;w=900`)
	r = mut(`mutation { createProject(name: "`+account+`") { id } }`, `{}`)
	require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	require.Equal(t, "LOGIN_RATE_LIMITED", r.code)
	require.Contains(t, r.header.Get("RateLimit"), `"login-account";r=0;t=`)
	require.EqualValues(t, 3, e.fetches.Load())

	// Per IP: three more accounts from the same address, then refused.
	for i := range 3 {
		r = mut(`mutation { createProject(name: "`+unique("other-")+`") { id } }`, `{}`)
		require.Equal(t, http.StatusOK, r.status, "attempt %d: %s", i, r.body)
	}
	r = mut(`mutation { createProject(name: "`+unique("other-")+`") { id } }`, `{}`)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Contains(t, r.header.Get("RateLimit"), `"login-ip";r=0;t=`)
	// Queries are not login attempts.
	require.Equal(t, http.StatusOK, e.query(t, meQuery, "X-Forwarded-For", ip).status)
}

func TestRedisDownPolicy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "redis://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	e := startEdge(t, `
redis: {url: "`+dead+`", timeout: 100ms}
rate_limit:
  login: {field: Mutation.createProject, account_argument: name}
`)
	// General limits fail open (and say so in a metric)...
	r := e.query(t, meQuery)
	require.Equal(t, http.StatusOK, r.status, r.body)
	// ...login fails closed.
	r = e.query(t, `{"query":"mutation { createProject(name: \"x\") { id } }"}`)
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
	require.Equal(t, "RATE_LIMIT_UNAVAILABLE", r.code)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	m := e.do(t, http.MethodGet, "/metrics", "")
	require.Contains(t, m.body, `ratelimit_decisions_total{outcome="fail_open"} 1`)
	require.Contains(t, m.body, `ratelimit_decisions_total{outcome="fail_closed"} 1`)
	// APQ without Redis: the client is told to send the query.
	hash := apq.Hash("{ me { name } }")
	r = e.query(t, `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"`+hash+`"}}}`)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", r.code)
}

func TestCSRFPrevention(t *testing.T) {
	e := startEdge(t, `{}`)
	get := "/graphql?query=" + url.QueryEscape("{ me { name } }")
	for _, tc := range []struct {
		name   string
		method string
		target string
		body   string
		hdr    []string
		status int
		code   string
	}{
		{"GET without a header", http.MethodGet, get, "", nil, 400, "CSRF_ERROR"},
		{"GET with text/plain", http.MethodGet, get, "", []string{"Content-Type", "text/plain"}, 400, "CSRF_ERROR"},
		{"POST text/plain", http.MethodPost, "/graphql", meQuery, []string{"Content-Type", "text/plain;charset=utf-8"}, 400, "CSRF_ERROR"},
		{"POST form", http.MethodPost, "/graphql", meQuery, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, "CSRF_ERROR"},
		{"POST without Content-Type", http.MethodPost, "/graphql", meQuery, []string{"Content-Type", ""}, 400, "CSRF_ERROR"},
		{"GET with apollo-require-preflight", http.MethodGet, get, "", []string{"Apollo-Require-Preflight", "true"}, 200, ""},
		{"GET with x-apollo-operation-name", http.MethodGet, get, "", []string{"X-Apollo-Operation-Name", "Me"}, 200, ""},
		{"GET with a bearer token", http.MethodGet, get, "", []string{"Authorization", "Bearer abc"}, 200, ""},
		{"GET with application/json", http.MethodGet, get, "", []string{"Content-Type", "application/json"}, 200, ""},
		{"POST application/json", http.MethodPost, "/graphql", meQuery, nil, 200, ""},
		{"POST text/plain with the header", http.MethodPost, "/graphql", meQuery, []string{"Content-Type", "text/plain", "Apollo-Require-Preflight", "1"}, 415, "UNSUPPORTED_MEDIA_TYPE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.fetches.Load()
			r := e.do(t, tc.method, tc.target, tc.body, tc.hdr...)
			require.Equal(t, tc.status, r.status, r.body)
			require.Equal(t, tc.code, r.code, r.body)
			if tc.code != "" {
				require.Equal(t, before, e.fetches.Load())
			}
		})
	}
}

func TestCORSAndSecurityHeaders(t *testing.T) {
	e := startEdge(t, `
cors:
  allow_origins: ["https://app.example.com"]
security_headers: {hsts_max_age: 24h}
`)
	pre := e.do(t, http.MethodOptions, "/graphql", "", "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type, authorization")
	require.Equal(t, http.StatusNoContent, pre.status)
	require.Equal(t, "https://app.example.com", pre.header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", pre.header.Get("Access-Control-Allow-Credentials"))
	require.Contains(t, pre.header.Get("Access-Control-Allow-Methods"), "POST")
	require.Contains(t, pre.header.Get("Access-Control-Allow-Headers"), "authorization")
	require.Contains(t, pre.header.Get("Access-Control-Allow-Headers"), "apollo-require-preflight")
	require.Equal(t, "600", pre.header.Get("Access-Control-Max-Age"))
	require.Contains(t, pre.header.Values("Vary"), "Origin")

	evil := e.do(t, http.MethodOptions, "/graphql", "", "Origin", "https://evil.example",
		"Access-Control-Request-Method", "POST")
	require.Equal(t, http.StatusForbidden, evil.status)
	require.Empty(t, evil.header.Get("Access-Control-Allow-Origin"))

	r := e.query(t, meQuery, "Origin", "https://app.example.com", "Authorization", "Bearer x")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "https://app.example.com", r.header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, r.header.Get("Access-Control-Expose-Headers"), "RateLimit")
	require.Equal(t, "private, no-store", r.header.Get("Cache-Control"))
	r = e.query(t, meQuery, "Origin", "https://evil.example")
	require.Equal(t, http.StatusOK, r.status) // served, but the browser may not read it
	require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))

	for _, path := range []string{"/graphql", "/health", "/"} {
		h := e.do(t, http.MethodGet, path, "").header
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
		require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), path)
		require.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
		require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'", path)
		require.Equal(t, "max-age=86400; includeSubDomains", h.Get("Strict-Transport-Security"), path)
	}
}

func TestGraphiQLKeepsItsPolicyInDev(t *testing.T) {
	e := startEdge(t, `profile: dev`)
	r := e.do(t, http.MethodGet, "/", "", "Accept", "text/html")
	require.Equal(t, http.StatusOK, r.status)
	csp := r.header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'")
	require.Contains(t, csp, "connect-src 'self'")
	require.Equal(t, "DENY", r.header.Get("X-Frame-Options"))
	// GraphiQL's own requests (POST application/json) pass CSRF prevention.
	r = e.query(t, `{"query":"{ __schema { queryType { name } } }"}`, "Accept", "application/json, multipart/mixed")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, `"Query"`)
}

func TestAutomaticPersistedQueries(t *testing.T) {
	e := startEdge(t, `
redis: {url: "${REDIS_URL}"}
apq: {ttl: 1h, max_query_bytes: 200}
`)
	q := "{ me { name } } # " + unique("") // a query Redis has never seen
	hash := apq.Hash(q)
	ext := `"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}`

	r := e.query(t, `{`+ext+`}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", r.code)
	require.Contains(t, r.body, "PersistedQueryNotFound") // Apollo Client reads the message
	require.Zero(t, e.fetches.Load())

	r = e.query(t, `{"query":`+strconv.Quote(q)+`,`+ext+`}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"me":{"name":"Ada"}}`, string(r.data))

	rdb := redis.NewClient(mustRedis(t))
	ttl, err := rdb.TTL(context.Background(), e.prefix+"apq:"+hash).Result()
	require.NoError(t, err)
	require.True(t, ttl > 59*time.Minute && ttl <= time.Hour, ttl)

	r = e.query(t, `{`+ext+`}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"me":{"name":"Ada"}}`, string(r.data))

	// GET with APQ (what Apollo Client's useGETForHashedQueries sends).
	params := url.Values{"extensions": {`{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}`}}
	r = e.do(t, http.MethodGet, "/graphql?"+params.Encode(), "", "Apollo-Require-Preflight", "true")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"me":{"name":"Ada"}}`, string(r.data))

	// A hash that is not the query's.
	r = e.query(t, `{"query":"{ me { name } }",`+ext+`}`)
	require.Equal(t, http.StatusBadRequest, r.status, r.body)
	require.Equal(t, "PERSISTED_QUERY_HASH_MISMATCH", r.code)
	// Malformed extensions.
	r = e.query(t, `{"extensions":{"persistedQuery":{"version":2,"sha256Hash":"`+hash+`"}}}`)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "BAD_REQUEST", r.code)
	r = e.query(t, `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`)
	require.Equal(t, http.StatusBadRequest, r.status)

	// Over max_query_bytes: executed, not stored.
	big := "{ me { name } } #" + strings.Repeat("x", 200) + unique("")
	bigExt := `"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + apq.Hash(big) + `"}}`
	require.Equal(t, http.StatusOK, e.query(t, `{"query":`+strconv.Quote(big)+`,`+bigExt+`}`).status)
	require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", e.query(t, `{`+bigExt+`}`).code)

	// A query that fails validation is not stored.
	bad := "{ nope } # " + unique("")
	badExt := `"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + apq.Hash(bad) + `"}}`
	require.Equal(t, "GRAPHQL_VALIDATION_FAILED", e.query(t, `{"query":`+strconv.Quote(bad)+`,`+badExt+`}`).code)
	require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", e.query(t, `{`+badExt+`}`).code)
}

func TestAPQWithoutRedisIsNotSupported(t *testing.T) {
	e := startEdge(t, `{}`)
	r := e.query(t, `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"`+apq.Hash("{ me { name } }")+`"}}}`)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "PERSISTED_QUERY_NOT_SUPPORTED", r.code)
}

func TestTrustedDocumentsSafelist(t *testing.T) {
	const body = "query Me { me { name } }"
	manifest := filepath.Join(t.TempDir(), "persisted-query-manifest.json")
	require.NoError(t, os.WriteFile(manifest, []byte(`{"format":"apollo-persisted-query-manifest","version":1,"operations":[
		{"id":"`+apq.Hash(body)+`","body":"`+body+`","name":"Me","type":"query"},
		{"id":"me-v2","body":"query MeAgain { me { name } }","name":"MeAgain","type":"query"}]}`), 0o600))
	e := startEdge(t, `
redis: {url: "${REDIS_URL}"}
persisted_queries: {manifest: "`+manifest+`", mode: safelist}
`)
	ok := func(r reply) {
		t.Helper()
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.JSONEq(t, `{"me":{"name":"Ada"}}`, string(r.data))
	}
	// By APQ hash (Apollo Client's persisted-queries link with the manifest).
	ok(e.query(t, `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"`+apq.Hash(body)+`"}}}`))
	// By documentId (GraphQL Codegen's client preset).
	ok(e.query(t, `{"documentId":"me-v2"}`))
	ok(e.do(t, http.MethodGet, "/graphql?documentId=me-v2", "", "Apollo-Require-Preflight", "true"))
	// The listed body itself.
	ok(e.query(t, `{"query":"`+body+`"}`))

	before := e.fetches.Load()
	for _, req := range []string{
		`{"query":"{ me { name } }"}`,
		`{"query":"{ me { name } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + apq.Hash("{ me { name } }") + `"}}}`,
	} {
		r := e.query(t, req)
		require.Equal(t, http.StatusBadRequest, r.status, r.body)
		require.Equal(t, "PERSISTED_QUERY_NOT_IN_LIST", r.code)
	}
	r := e.query(t, `{"documentId":"unknown"}`)
	require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", r.code)
	r = e.query(t, `{"documentId":"me-v2","query":"{ me { name } }"}`)
	require.Equal(t, "PERSISTED_QUERY_HASH_MISMATCH", r.code)
	require.Equal(t, before, e.fetches.Load())
}

func TestBadManifestIsRefusedAtStart(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "m.json")
	require.NoError(t, os.WriteFile(manifest, []byte(`{"format":"other","operations":[{"id":"a"}]}`), 0o600))
	c, err := config.Parse([]byte(`persisted_queries: {manifest: "`+manifest+`"}`), nil)
	require.NoError(t, err)
	sdl, err := os.ReadFile("plan/testdata/basic/supergraph.graphql")
	require.NoError(t, err)
	cfg := router.ConfigFrom(c)
	cfg.SupergraphFile, cfg.SupergraphSDL = "", string(sdl)
	_, err = router.New(context.Background(), cfg)
	require.ErrorContains(t, err, "apollo-persisted-query-manifest")
	require.ErrorContains(t, err, "operations[0]: id and body are required")
}

func mustRedis(t *testing.T) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(testenv.Stack(t).RedisURL)
	require.NoError(t, err)
	return o
}
