package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
)

func TestEventsCommand(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	require.NoError(t, err)
	go ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	ctx := context.Background()
	var out, errs bytes.Buffer
	nats := "--nats=" + ns.ClientURL()

	require.NoError(t, eventsCmd(ctx, []string{"stream", nats}, &out, &errs))
	require.NoError(t, eventsCmd(ctx, []string{"stream", nats}, &out, &errs))
	require.NoError(t, eventsCmd(ctx, []string{"dead-letters", "projection", nats, "--limit", "5"}, &out, &errs))
	require.Empty(t, out.String())
	require.NoError(t, eventsCmd(ctx, []string{"replay", "projection", nats}, &out, &errs))

	require.ErrorContains(t, eventsCmd(ctx, []string{"replay", nats}, &out, &errs), "name the consumer")
	require.ErrorContains(t, eventsCmd(ctx, []string{"dead-letters", "Not Valid", nats}, &out, &errs), "consumer name")
	require.ErrorContains(t, eventsCmd(ctx, []string{"nonsense", nats}, &out, &errs), "unknown subcommand")
	require.ErrorContains(t, eventsCmd(ctx, []string{"stream", "--nats="}, &out, &errs), "NATS_URL")
	require.Equal(t, 0, run([]string{"events", "--help"}))
}
