package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func startNATS(ctx context.Context, st *Stack, cfg *config, dir string) (string, error) {
	store := filepath.Join(dir, "nats")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return "", fmt.Errorf("create store folder: %w", err)
	}
	port, err := stablePort(filepath.Join(store, "port"))
	if err != nil {
		return "", err
	}
	opts := &server.Options{
		ServerName: "devstack",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   store,
		NoSigs:     true,
		HTTPPort:   0,
	}
	timeout := cfg.startTimout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	// The stable port can be taken between choosing it and binding it (another
	// process starting a stack at the same moment): then take any free port.
	ns, err := runNATS(opts, cfg, min(5*time.Second, timeout))
	if err != nil {
		opts.Port = server.RANDOM_PORT
		if ns, err = runNATS(opts, cfg, timeout); err != nil {
			return "", err
		}
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return "", fmt.Errorf("embedded nats-server started without JetStream")
	}
	st.addCloser(func() error {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil
	})
	cfg.log.Info("devstack: nats started", "url", ns.ClientURL(), "store", store)
	return ns.ClientURL(), nil
}

func runNATS(opts *server.Options, cfg *config, timeout time.Duration) (*server.Server, error) {
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	ns.SetLoggerV2(natsLogger{cfg.log}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(timeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats-server not ready for connections within %s", timeout)
	}
	return ns, nil
}

// natsLogger forwards nats-server warnings and errors to slog; notices are debug.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Warnf(format string, v ...any) { l.log.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any) {
	l.log.Error("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Errorf(format string, v ...any) {
	l.log.Error("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Debugf(string, ...any) {}
func (l natsLogger) Tracef(string, ...any) {}
