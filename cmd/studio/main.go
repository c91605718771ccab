// Command studio is the one binary of Studio Platform:
//
//	studio dev        everything in one process (infrastructure, subgraphs, router)
//	studio router     the federation router for any supergraph file
//	studio subgraph   one subgraph (identity | compliance | documents | policy | ai)
//	studio compose    compose supergraph.yaml into a supergraph SDL
//	studio migrate    apply every subgraph's database migrations
//	studio stack      run a command with the dev infrastructure started (used by make test)
//	studio events     the event stream: ensure it, replay a consumer, read dead letters
//	studio graph      rebuild the compliance graph in Neo4j from PostgreSQL
//	studio keys       rotate and retire identity's token-signing keys
//
// main only wires: each command parses its flags and calls a composition root.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"dev", "start PostgreSQL, Redis, NATS, Neo4j, MinIO, every subgraph and the router", runDev},
		{"router", "serve a supergraph: studio router --supergraph FILE --listen HOST:PORT", runRouter},
		{"subgraph", "serve one subgraph: studio subgraph NAME [--listen HOST:PORT]", runSubgraph},
		{"compose", "compose supergraph.yaml into a supergraph SDL", runCompose},
		{"migrate", "apply every subgraph's database migrations (DATABASE_URL)", runMigrate},
		{"stack", "run a command with the dev infrastructure: studio stack [--data DIR] -- CMD...", runStack},
		{"events", "event stream: studio events stream | replay CONSUMER | dead-letters CONSUMER", runEvents},
		{"graph", "compliance graph in Neo4j: studio graph rebuild [--org ID] (from PostgreSQL)", runGraph},
		{"keys", "token-signing keys: studio keys list | rotate [--activate-after D] | retire KID", runKeys},
	}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, args[1:])
		if err == nil || errors.Is(err, flag.ErrHelp) { // -h: the flag package printed the usage
			return 0
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "studio %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "studio: unknown command %q\n\n", args[0])
	usage()
	return 2
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: studio COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", c.name, c.summary)
	}
}

// newLogger logs text for people (dev) and JSON for machines (LOG_FORMAT=json, the default elsewhere).
func newLogger(text bool) *slog.Logger {
	switch os.Getenv("LOG_FORMAT") {
	case "json":
		text = false
	case "text":
		text = true
	}
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if os.Getenv("LOG_LEVEL") == "debug" {
		opts.Level = slog.LevelDebug
	}
	if text {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
