package serve

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNewServerUploadLimit: JSON bodies keep DefaultMaxBodyBytes; with
// WithUploads, multipart bodies have their own, larger limit and deadline.
func TestNewServerUploadLimit(t *testing.T) {
	var deadline time.Duration
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, ok := r.Context().Deadline(); ok {
			deadline = time.Until(d)
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	post := func(t *testing.T, srv *http.Server, ct string, n int, chunked bool) int {
		t.Helper()
		ts := httptest.NewServer(srv.Handler)
		defer ts.Close()
		var body io.Reader = bytes.NewReader(make([]byte, n))
		if chunked {
			body = io.MultiReader(body) // no length: sent chunked
		}
		resp, err := http.Post(ts.URL, ct, body)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	const form = "multipart/form-data; boundary=x"
	plain := NewServer("", h)
	uploads := NewServer("", h, WithUploads(3*DefaultMaxBodyBytes, time.Hour))
	over := DefaultMaxBodyBytes + 1
	for _, chunked := range []bool{false, true} {
		require.Equal(t, http.StatusRequestEntityTooLarge, post(t, plain, "application/json", over, chunked))
		require.Equal(t, http.StatusRequestEntityTooLarge, post(t, plain, form, over, chunked))
		require.Equal(t, http.StatusRequestEntityTooLarge, post(t, uploads, "application/json", over, chunked))
		require.Equal(t, http.StatusOK, post(t, uploads, form, over, chunked))
		require.Greater(t, deadline, DefaultRequestTimeout, "the upload deadline")
		require.Equal(t, http.StatusRequestEntityTooLarge, post(t, uploads, form, 3*DefaultMaxBodyBytes+1, chunked))
	}
	require.Equal(t, http.StatusOK, post(t, uploads, "application/json", 10, false))
	require.LessOrEqual(t, deadline, DefaultRequestTimeout, "JSON requests keep the default deadline")
}
