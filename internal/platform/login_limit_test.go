package platform_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/router/config"
	"github.com/studio-platform/studio/subgraphs/demo"
)

// Twenty password guesses as aliases of login in one request: without a
// limit the one alias without an error would be the password. With the
// public edge, the request is refused as a whole before identity sees it,
// and the right password alone still works afterwards.
func TestLoginGuessesAsAliasesAreRefused(t *testing.T) {
	edge := config.Default(config.ProfilePublic).Edge
	edge.Redis.URL = testenv.Stack(t).RedisURL
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	edge.Redis.KeyPrefix = "test:" + hex.EncodeToString(b) + ":" // a fresh quota for the demo account
	p, err := platform.Start(context.Background(), platform.Config{
		DatabaseURL:    testenv.Database(t),
		SupergraphFile: "../../schema/supergraph.graphql",
		RouterAddr:     "127.0.0.1:0",
		IdentityAddr:   "127.0.0.1:0",
		ComplianceAddr: "127.0.0.1:0",
		DocumentsAddr:  "127.0.0.1:0",
		S3:             testS3(t),
		PolicyAddr:     "127.0.0.1:0",
		Seed:           true,
		RouterEdge:     edge,
	})
	require.NoError(t, err)
	t.Cleanup(p.Close)

	post := func(query string) (int, http.Header, string) {
		req, err := http.NewRequest(http.MethodPost, p.RouterURL+"/graphql", strings.NewReader(`{"query":`+strconv.Quote(query)+`}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, string(body)
	}
	var guesses strings.Builder
	guesses.WriteString("mutation {")
	for i := range 19 {
		fmt.Fprintf(&guesses, " g%d: login(email: %q, password: \"guess-%d\") { accessToken }", i, demo.DemoUser.Email, i)
	}
	fmt.Fprintf(&guesses, " g19: login(email: %q, password: %q) { accessToken } }", demo.DemoUser.Email, demo.Password)

	status, hdr, body := post(guesses.String())
	require.Equal(t, http.StatusTooManyRequests, status, body)
	require.Contains(t, body, `"code":"LOGIN_RATE_LIMITED"`)
	require.NotContains(t, body, "accessToken")
	require.NotContains(t, body, `"data"`)
	require.NotEmpty(t, hdr.Get("Retry-After"))
	require.Contains(t, hdr.Get("RateLimit-Policy"), `"login-account";q=10;w=900`)

	status, _, body = post(fmt.Sprintf(`mutation { login(email: %q, password: %q) { accessToken } }`, demo.DemoUser.Email, demo.Password))
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"accessToken":"`)

	// Wrong guesses one at a time: the burst (5) is the account's budget.
	for i := range 4 {
		status, _, body = post(fmt.Sprintf(`mutation { login(email: %q, password: "wrong-%d") { accessToken } }`, demo.DemoUser.Email, i))
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, "UNAUTHENTICATED")
	}
	status, _, body = post(fmt.Sprintf(`mutation { login(email: %q, password: %q) { accessToken } }`, demo.DemoUser.Email, demo.Password))
	require.Equal(t, http.StatusTooManyRequests, status, body)
	require.NotContains(t, body, "accessToken")
}
