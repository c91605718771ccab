package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/studio-platform/studio/internal/events"
)

const eventsUsage = `usage: studio events SUBCOMMAND [flags]   (NATS_URL or --nats)

  stream                       create the STUDIO stream, or update it if its settings differ
  replay CONSUMER              delete the durable consumer: it re-reads the stream from the start
                               (clear its projection and its processed events first)
  dead-letters CONSUMER        print its dead letters as JSON lines, oldest first
                               [--after SEQ] [--limit N (at most 100)]`

func runEvents(ctx context.Context, args []string) error {
	return eventsCmd(ctx, args, os.Stdout, os.Stderr)
}

func eventsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, eventsUsage) }
	natsURL := fs.String("nats", os.Getenv("NATS_URL"), "NATS server URL")
	after := fs.Uint64("after", 0, "dead-letters: stream sequence to start after")
	limit := fs.Int("limit", 20, "dead-letters: how many")
	if len(args) == 0 {
		fs.Usage()
		return errors.New("name a subcommand")
	}
	sub, rest := args[0], args[1:]
	var consumer string
	if sub == "replay" || sub == "dead-letters" {
		if len(rest) == 0 || rest[0] == "" || rest[0][0] == '-' {
			fs.Usage()
			return fmt.Errorf("%s: name the consumer", sub)
		}
		consumer, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	switch sub {
	case "stream", "replay", "dead-letters":
	case "-h", "--help", "help":
		fs.Usage()
		return nil
	default:
		fs.Usage()
		return fmt.Errorf("unknown subcommand %q", sub)
	}
	if *natsURL == "" {
		return errors.New("NATS_URL or --nats is required")
	}
	nc, err := nats.Connect(*natsURL, nats.Name("studio events"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	opts := []events.Option{events.WithLogger(newLogger(true))}
	switch sub {
	case "stream":
		_, err = events.EnsureStream(ctx, js, opts...)
		return err
	case "replay":
		return events.Replay(ctx, js, consumer, opts...)
	default:
		page, err := events.DeadLetters(ctx, js, consumer, *after, *limit, opts...)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, dl := range page {
			if err := enc.Encode(dl); err != nil {
				return err
			}
		}
		return nil
	}
}
