package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether port can be bound on 127.0.0.1 right now.
func portFree(port int) bool {
	if port <= 0 || port > 65535 {
		return false
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// stablePort returns the port recorded in file when it is still free, otherwise a new
// free port, which it records. This keeps URLs stable across restarts of `make dev`.
func stablePort(file string) (int, error) {
	if b, err := os.ReadFile(file); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && portFree(p) {
			return p, nil
		}
	}
	p, err := freePort()
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(file, []byte(strconv.Itoa(p)+"\n"), 0o644); err != nil {
		return 0, fmt.Errorf("record port: %w", err)
	}
	return p, nil
}

// runAs describes the OS user a server process runs as. A nil *runAs means the
// current user.
type runAs struct {
	name     string
	uid, gid int
}

func (r *runAs) sysProcAttr(deathSig syscall.Signal) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: deathSig}
	if r != nil {
		a.Credential = &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.gid), Groups: []uint32{}}
	}
	return a
}

// chown gives path to the run-as user (no-op for the current user).
func (r *runAs) chown(path string) error {
	if r == nil {
		return nil
	}
	if err := os.Lchown(path, r.uid, r.gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, r.name, err)
	}
	return nil
}

// postgresUser returns the user PostgreSQL must run as: "postgres" when this process
// is root (PostgreSQL refuses to run as root), otherwise nil (the current user).
func postgresUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as the unprivileged user \"postgres\", which was not found (install it with `apt-get install -y postgresql-15`): %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("postgres gid %q: %w", u.Gid, err)
	}
	return &runAs{name: u.Username, uid: uid, gid: gid}, nil
}

// canReach reports whether user r can search (traverse into) dir, checked by the
// kernel itself (access(2) as that user), so ACLs and every ancestor count.
func canReach(ctx context.Context, r *runAs, dir string) bool {
	if r == nil {
		return true
	}
	testBin, err := exec.LookPath("test")
	if err != nil {
		testBin = "/usr/bin/test"
	}
	cmd := exec.CommandContext(ctx, testBin, "-x", dir)
	cmd.Dir = "/"
	cmd.SysProcAttr = r.sysProcAttr(syscall.SIGKILL)
	return cmd.Run() == nil
}

// command builds a command running as r with cwd dir, Pdeathsig and output appended
// to logFile (if non-empty).
func command(ctx context.Context, r *runAs, dir, logFile string, name string, args ...string) (*exec.Cmd, func(), error) {
	var cmd *exec.Cmd
	if ctx != nil {
		cmd = exec.CommandContext(ctx, name, args...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Dir = dir
	cmd.SysProcAttr = r.sysProcAttr(syscall.SIGKILL)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	done := func() {}
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("open log: %w", err)
		}
		cmd.Stdout, cmd.Stderr = f, f
		done = func() { _ = f.Close() }
	}
	return cmd, done, nil
}

// process is a started server child process.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been waited for
	err    error         // wait result, valid after exited is closed
}

func startProcess(cmd *exec.Cmd, onExit func()) (*process, error) {
	if err := cmd.Start(); err != nil {
		onExit()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		onExit()
		close(p.exited)
	}()
	return p, nil
}

// stop sends sig, waits up to grace, then kills.
func (p *process) stop(sig os.Signal, grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", filepath.Base(p.cmd.Path), err)
	}
	return p.wait(grace)
}

// wait waits up to grace for the process to exit, then kills it.
func (p *process) wait(grace time.Duration) error {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("%s did not stop within %s, killed", filepath.Base(p.cmd.Path), grace)
}
