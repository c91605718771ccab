package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/studio-platform/studio/subgraphs/identity"
)

const keysUsage = `usage: studio keys list | rotate [--activate-after 10m] | retire KID   (DATABASE_URL)`

// runKeys: studio keys — identity's token-signing keys. rotate adds a key
// that is published at once and signs from --activate-after on; retire takes
// a replaced key out of the JWKS now (replaced keys are also retired
// automatically once no valid token can carry them); list shows them.
// Running identity replicas pick changes up within their reload interval.
func runKeys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New(keysUsage)
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	activateAfter := fs.Duration("activate-after", 10*time.Minute,
		"when the new key starts signing: later than identity's key reload interval (30s) and the verifiers' key refresh (5m), so no verifier meets the new kid before its JWKS has it")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	// Opening the service applies identity's migrations; it serves nothing here.
	svc, err := identity.New(ctx, identity.Config{DatabaseURL: dbURL})
	if err != nil {
		return err
	}
	defer svc.Close()
	return keysCommand(ctx, svc, args[0], fs.Args(), *activateAfter, os.Stdout)
}

func keysCommand(ctx context.Context, svc *identity.Service, cmd string, args []string, activateAfter time.Duration, out io.Writer) error {
	switch {
	case cmd == "rotate" && len(args) == 0:
		kid, err := svc.RotateKey(ctx, activateAfter)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "new signing key %s: published now, signs from %s\n", kid, time.Now().Add(activateAfter).UTC().Format(time.RFC3339))
	case cmd == "retire" && len(args) == 1:
		if err := svc.RetireKey(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(out, "signing key %s retired: out of the JWKS now\n", args[0])
	case cmd == "list" && len(args) == 0:
	default:
		return errors.New(keysUsage)
	}
	keys, err := svc.SigningKeys(ctx)
	if err != nil {
		return err
	}
	for i, k := range keys {
		state := "published"
		switch {
		case i == 0:
			state = "active"
		case k.ActivatesAt.After(time.Now()):
			state = "next"
		}
		fmt.Fprintf(out, "%s\t%-9s\tactivates %s\tcreated %s\n", k.Kid, state,
			k.ActivatesAt.UTC().Format(time.RFC3339), k.CreatedAt.UTC().Format(time.RFC3339))
	}
	return nil
}
