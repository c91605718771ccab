package flight_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/router/flight"
)

// The first caller going away does not cancel the call for the others.
func TestFirstCallerLeavingDoesNotCancelTheOthers(t *testing.T) {
	var g flight.Group[string]
	var calls atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	fn := func(ctx context.Context) (string, error) {
		calls.Add(1)
		close(started)
		select {
		case <-release:
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	first, cancelFirst := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, _, err := g.Do(first, "k", fn)
		firstErr <- err
	}()
	<-started
	second := make(chan string, 1)
	go func() {
		v, shared, err := g.Do(context.Background(), "k", fn)
		if err != nil || !shared {
			v = "unexpected"
		}
		second <- v
	}()
	require.Eventually(t, func() bool { return g.Waiters("k") == 2 }, 5*time.Second, time.Millisecond)
	cancelFirst()
	require.ErrorIs(t, <-firstErr, context.Canceled)
	close(release)
	require.Equal(t, "done", <-second)
	require.EqualValues(t, 1, calls.Load())
}

// The last caller going away cancels the call.
func TestLastCallerLeavingCancelsTheCall(t *testing.T) {
	var g flight.Group[int]
	cancelled := make(chan error, 1)
	started := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _, err := g.Do(ctx, "k", func(c context.Context) (int, error) {
			close(started)
			<-c.Done()
			cancelled <- c.Err()
			return 0, c.Err()
		})
		require.ErrorIs(t, err, context.Canceled)
	})
	<-started
	cancel()
	wg.Wait()
	require.True(t, errors.Is(<-cancelled, context.Canceled))
	// A new caller starts a fresh call.
	v, shared, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err)
	require.False(t, shared)
	require.Equal(t, 7, v)
}

// The call keeps the first caller's deadline.
func TestCallKeepsTheDeadline(t *testing.T) {
	var g flight.Group[bool]
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	has, _, err := g.Do(ctx, "k", func(c context.Context) (bool, error) {
		_, ok := c.Deadline()
		return ok, nil
	})
	require.NoError(t, err)
	require.True(t, has)
}
