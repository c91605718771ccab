package devstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

const redisInstallHint = "sudo apt-get install -y redis-server"

// findRedis returns the redis-server binary, installing the package with apt-get when
// it is missing and this process is root (and installs are allowed).
func findRedis(ctx context.Context, cfg *config) (string, error) {
	lookup := func() (string, error) {
		if p, err := exec.LookPath("redis-server"); err == nil {
			return p, nil
		}
		for _, p := range []string{"/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"} {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
		return "", exec.ErrNotFound
	}
	if p, err := lookup(); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("redis-server not found on PATH; install it with `%s` (or set %s)", redisInstallHint, EnvRedisURL)
	}
	if !cfg.install {
		return "", fmt.Errorf("redis-server not found on PATH; install it with `apt-get install -y redis-server` (or set %s)", EnvRedisURL)
	}
	if err := aptInstall(ctx, cfg, func() bool { _, err := lookup(); return err == nil }, "redis-server"); err != nil {
		return "", err
	}
	p, err := lookup()
	if err != nil {
		return "", fmt.Errorf("redis-server still not found after apt-get install: %w", err)
	}
	cfg.log.Info("devstack: installed redis-server", "path", p)
	return p, nil
}

// aptInstall installs packages with apt-get (this process must be root) unless done()
// reports them present once the machine-wide lock is held: several processes may get
// here at once (parallel test binaries), one installs.
func aptInstall(ctx context.Context, cfg *config, done func() bool, pkgs ...string) error {
	unlock, err := lockFile(ctx, filepath.Join(os.TempDir(), "studio-devstack-apt.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if done() {
		return nil
	}
	cfg.log.Warn("devstack: missing system packages; installing them: apt-get update && apt-get install -y " + strings.Join(pkgs, " "))
	for _, args := range [][]string{
		{"-o", "DPkg::Lock::Timeout=300", "update"},
		append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends"}, pkgs...),
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tailString(string(out), 2000))
		}
	}
	return nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func startRedis(ctx context.Context, st *Stack, cfg *config, dir string) (string, error) {
	bin, err := findRedis(ctx, cfg)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.startTimout)
	defer cancel()
	major := redisMajorVersion(ctx, bin)

	data := filepath.Join(dir, "redis")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return "", fmt.Errorf("create data folder: %w", err)
	}
	logFile := filepath.Join(data, "redis.log")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := stablePort(filepath.Join(data, "port"))
		if err != nil {
			return "", err
		}
		args := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--dir", data,
			"--daemonize", "no",
			"--protected-mode", "yes",
			"--appendonly", "yes",
			"--save", "60 1",
		}
		if major >= 7 {
			// Exit on SIGTERM (Close, or Pdeathsig when this process dies) even when
			// the final save fails, e.g. because the data folder was already deleted.
			args = append(args, "--shutdown-on-sigterm", "force")
		}
		cmd, done, err := command(nil, nil, data, logFile, bin, args...)
		if err != nil {
			return "", err
		}
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
		proc, err := startProcess(cmd, done)
		if err != nil {
			return "", err
		}
		redisURL := "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
		err = poll(ctx, proc.exited, func(ctx context.Context) error { return redisPing(ctx, redisURL) })
		if err != nil {
			select {
			case <-proc.exited:
				lastErr = fmt.Errorf("redis-server exited: %w\n%s", err, tail(logFile, 2000))
				_ = os.Remove(filepath.Join(data, "port"))
				continue
			default:
			}
			_ = proc.stop(syscall.SIGKILL, 5*time.Second)
			return "", fmt.Errorf("%w\n%s", err, tail(logFile, 2000))
		}
		st.addCloser(func() error {
			// SIGTERM makes redis persist and exit.
			if err := proc.stop(syscall.SIGTERM, 30*time.Second); err != nil {
				return fmt.Errorf("stop redis: %w", err)
			}
			return nil
		})
		cfg.log.Info("devstack: redis started", "port", port, "data", data)
		return redisURL, nil
	}
	return "", lastErr
}

func redisPing(ctx context.Context, redisURL string) error {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return err
	}
	return nil
}

// redisMajorVersion parses `redis-server --version` ("Redis server v=7.0.15 ..."); 0
// when unknown.
func redisMajorVersion(ctx context.Context, bin string) int {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(out), "v=")
	if !ok {
		return 0
	}
	major, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}
