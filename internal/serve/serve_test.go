package serve

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var quiet = WithLogger(slog.New(slog.DiscardHandler))

// start runs Run in the background and returns the base URL and Run's result.
func start(t *testing.T, ctx context.Context, h http.Handler, opts ...Option) (string, <-chan error) {
	t.Helper()
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: h, ReadHeaderTimeout: time.Second}
	opts = append([]Option{quiet, WithOnListen(func(a net.Addr) { addrCh <- a })}, opts...)
	go func() { done <- Run(ctx, srv, opts...) }()
	select {
	case a := <-addrCh:
		return "http://" + a.String(), done
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}
	return "", nil
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestRunStopsOnContextAndDrainsInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	url, done := start(t, ctx, mux)
	require.Equal(t, "ok", get(t, url+"/ok"))

	slow := make(chan string, 1)
	go func() { slow <- get(t, url+"/slow") }()
	<-entered
	cancel()
	// Shutdown waits for the in-flight request; new connections are refused.
	require.Eventually(t, func() bool {
		_, err := http.Get(url + "/ok")
		return err != nil
	}, 5*time.Second, 5*time.Millisecond)
	close(release)
	require.Equal(t, "finished", <-slow)
	require.NoError(t, wait(t, done))
}

func TestRunStopsOnSIGTERM(t *testing.T) {
	url, done := start(t, context.Background(), http.NotFoundHandler())
	_ = get(t, url)
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	require.NoError(t, wait(t, done))
}

func TestRunShutdownTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	url, done := start(t, ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}), WithShutdownTimeout(50*time.Millisecond))
	go func() {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	err := wait(t, done)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	err = Run(context.Background(), &http.Server{Addr: ln.Addr().String(), ReadHeaderTimeout: time.Second}, quiet)
	require.ErrorContains(t, err, "listen")
}

func TestRunWithListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	url, done := start(t, ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}), WithListener(ln), WithSignals())
	require.Equal(t, "http://"+ln.Addr().String(), url)
	require.Equal(t, "hello", get(t, url))
	cancel()
	require.NoError(t, wait(t, done))
}
