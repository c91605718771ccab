package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/studio-platform/studio/subgraphs/compliance"
	"github.com/studio-platform/studio/subgraphs/compliance/graphfeed"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
)

// runGraph: studio graph rebuild [--org ID] — replaces the compliance graph
// in Neo4j with PostgreSQL's rows (one organization, or every organization
// that has compliance rows) and syncs the framework catalog.
func runGraph(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "rebuild" {
		return errors.New("usage: studio graph rebuild [--org ID]   (DATABASE_URL, NEO4J_URL)")
	}
	fs := flag.NewFlagSet("graph rebuild", flag.ContinueOnError)
	org := fs.String("org", "", "organization id (default: every organization with compliance rows)")
	neo4jURL := fs.String("neo4j", os.Getenv("NEO4J_URL"), "Neo4j URL")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" || *neo4jURL == "" {
		return errors.New("DATABASE_URL and NEO4J_URL (or --neo4j) are required")
	}
	// Opening the service applies the migrations; it serves nothing here.
	svc, err := compliance.New(ctx, compliance.Config{DatabaseURL: dbURL, JWKSURL: "http://localhost/.well-known/jwks.json"})
	if err != nil {
		return err
	}
	defer svc.Close()
	p, err := projection.Open(ctx, *neo4jURL)
	if err != nil {
		return err
	}
	defer p.Close(context.WithoutCancel(ctx))
	if err := graphfeed.SyncCatalog(ctx, svc.Store(), p); err != nil {
		return err
	}
	orgs := []string{*org}
	if *org == "" {
		if orgs, err = graphfeed.Organizations(ctx, svc.Store()); err != nil {
			return err
		}
	}
	for _, o := range orgs {
		if err := graphfeed.Rebuild(ctx, svc.Store(), p, o); err != nil {
			return err
		}
		fmt.Printf("rebuilt the compliance graph of organization %s\n", o)
	}
	return nil
}
