package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// RunWith starts the stack under dir, runs args as a command with DATABASE_URL,
// REDIS_URL and NATS_URL exported (stdin, stdout and stderr passed through), then
// closes the stack. A failing command is reported as its *exec.ExitError (use
// errors.As to read the exit code). Cancelling ctx sends SIGINT to the command and
// kills it 10s later.
//
// The embedded NATS server lives in this process, so it is reachable by the command
// only while RunWith runs.
func RunWith(ctx context.Context, dir string, args []string, opts ...Option) (err error) {
	if len(args) == 0 {
		return errors.New("devstack: RunWith: no command given")
	}
	st, err := Start(ctx, dir, opts...)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), st.Env()...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr
		}
		return fmt.Errorf("devstack: run %s: %w", args[0], err)
	}
	return nil
}
