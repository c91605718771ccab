// Package serve runs an http.Server until its context is cancelled or the
// process receives SIGTERM/SIGINT, then shuts it down gracefully.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Option configures Run.
type Option func(*config)

type config struct {
	listener        net.Listener
	shutdownTimeout time.Duration
	signals         []os.Signal
	logger          *slog.Logger
	onListen        func(net.Addr)
}

// WithListener serves on l instead of listening on srv.Addr.
func WithListener(l net.Listener) Option { return func(c *config) { c.listener = l } }

// WithShutdownTimeout bounds the graceful shutdown (default 15s); connections
// still open afterwards are closed.
func WithShutdownTimeout(d time.Duration) Option { return func(c *config) { c.shutdownTimeout = d } }

// WithSignals sets the signals that stop the server (default SIGTERM, SIGINT);
// no arguments disables signal handling.
func WithSignals(sigs ...os.Signal) Option { return func(c *config) { c.signals = sigs } }

// WithLogger logs start and stop (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithOnListen is called with the bound address once the server accepts
// connections (useful with ":0").
func WithOnListen(fn func(net.Addr)) Option { return func(c *config) { c.onListen = fn } }

// Run serves srv until ctx is done, a stop signal arrives or serving fails,
// then calls srv.Shutdown bounded by the shutdown timeout. It returns nil after
// a clean shutdown, the serve error if serving failed, or the shutdown error
// (wrapping context.DeadlineExceeded) when connections outlived the timeout.
func Run(ctx context.Context, srv *http.Server, opts ...Option) error {
	cfg := config{
		shutdownTimeout: 15 * time.Second,
		signals:         []os.Signal{syscall.SIGTERM, os.Interrupt},
		logger:          slog.Default(),
	}
	for _, o := range opts {
		o(&cfg)
	}

	ln := cfg.listener
	if ln == nil {
		addr := srv.Addr
		if addr == "" {
			addr = ":http"
		}
		var err error
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("serve: listen %s: %w", addr, err)
		}
	}

	if len(cfg.signals) > 0 {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, cfg.signals...)
		defer stop()
	}

	serveErr := make(chan error, 1)
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		serveErr <- err
	}()
	cfg.logger.Info("http server listening", "addr", ln.Addr().String())
	if cfg.onListen != nil {
		cfg.onListen(ln.Addr())
	}

	select {
	case err := <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil // someone else shut it down
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	cfg.logger.Info("http server shutting down", "addr", ln.Addr().String(), "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-serveErr
		return fmt.Errorf("serve: graceful shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	cfg.logger.Info("http server stopped", "addr", ln.Addr().String())
	return nil
}
