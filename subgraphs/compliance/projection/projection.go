// Package projection keeps the compliance graph in Neo4j, a projection of the
// compliance subgraph's PostgreSQL rows (PostgreSQL stays the system of record):
//
//	(:Framework)-[:HAS]->(:Requirement)<-[:SATISFIES]-(:Control)-[:SUPPORTED_BY]->(:Evidence)
//	(:Project)-[:HAS_CONTROL]->(:Control)
//
// Frameworks and requirements are a catalog shared by every organization. Projects,
// controls and evidence carry an orgId property, are unique per (orgId, id), and every
// statement that touches them matches on orgId: one organization's events and queries
// never reach another's nodes.
//
// The graph is kept in step by events (one idempotent Upsert/Delete/Map method per event
// kind, MERGE throughout, stale versions ignored) and can be replaced from a snapshot of
// the PostgreSQL rows with Rebuild; both paths run the same statements, so the graph
// built by events equals the one rebuilt from the same rows (Dump gives a canonical text
// of an organization's graph to compare).
//
// Evidence is current when its status is ACCEPTED and it has not expired (no expiry, or
// an expiry after now). The queries answer: controls without current evidence, what a
// given evidence's expiry would affect, controls that satisfy requirements of two
// frameworks at once, and coverage per framework.
package projection

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Limits on inputs.
const (
	MaxIDLen       = 200  // ids, codes and keys
	MaxTextLen     = 2000 // titles and names
	MaxBatch       = 5000 // rows of one kind in a snapshot
	MaxLinks       = 1000 // requirement ids of a control, control ids of an evidence
	DefaultPageLen = 50
	MaxPageLen     = 500
)

// ErrInvalid is wrapped by every error about a caller's input.
var ErrInvalid = errors.New("projection: invalid input")

// Projector writes and queries the compliance graph.
type Projector struct {
	drv   neo4j.DriverWithContext
	owned bool // Close closes drv
	db    string
	now   func() time.Time
}

// Option configures a Projector.
type Option func(*Projector)

// WithDatabase selects the Neo4j database (default: the server's default database).
func WithDatabase(name string) Option { return func(p *Projector) { p.db = name } }

// WithClock sets the clock that decides whether evidence has expired (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(p *Projector) {
		if now != nil {
			p.now = now
		}
	}
}

// Open connects to the Neo4j server at rawURL (bolt:// or neo4j://, credentials in the
// URL's user info, e.g. bolt://neo4j:secret@host:7687; none means no auth), checks the
// connection and creates the constraints and indexes.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Projector, error) {
	drv, err := OpenDriver(rawURL)
	if err != nil {
		return nil, err
	}
	p, err := New(ctx, drv, opts...)
	if err != nil {
		_ = drv.Close(ctx)
		return nil, err
	}
	p.owned = true
	return p, nil
}

// New uses an existing driver (not closed by Close), checks the connection and creates
// the constraints and indexes.
func New(ctx context.Context, drv neo4j.DriverWithContext, opts ...Option) (*Projector, error) {
	p := &Projector{drv: drv, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	if err := drv.VerifyConnectivity(ctx); err != nil {
		return nil, fmt.Errorf("projection: connect to neo4j: %w", err)
	}
	if err := p.ensureSchema(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Close closes the driver when Open created it.
func (p *Projector) Close(ctx context.Context) error {
	if !p.owned {
		return nil
	}
	return p.drv.Close(ctx)
}

func parseURL(rawURL string) (string, neo4j.AuthToken, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", neo4j.AuthToken{}, fmt.Errorf("%w: neo4j URL: %w", ErrInvalid, err)
	}
	switch u.Scheme {
	case "bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc":
	default:
		return "", neo4j.AuthToken{}, fmt.Errorf("%w: neo4j URL scheme %q (want bolt:// or neo4j://)", ErrInvalid, u.Scheme)
	}
	auth := neo4j.NoAuth()
	if u.User != nil {
		pw, _ := u.User.Password()
		auth = neo4j.BasicAuth(u.User.Username(), pw, "")
		u.User = nil
	}
	return u.String(), auth, nil
}

// schema: uniqueness constraints (their indexes serve the MERGEs) and orgId indexes for
// the organization-wide scans. Community Edition supports both.
var schema = []string{
	"CREATE CONSTRAINT framework_id IF NOT EXISTS FOR (f:Framework) REQUIRE f.id IS UNIQUE",
	"CREATE CONSTRAINT requirement_id IF NOT EXISTS FOR (r:Requirement) REQUIRE r.id IS UNIQUE",
	"CREATE CONSTRAINT project_org_id IF NOT EXISTS FOR (p:Project) REQUIRE (p.orgId, p.id) IS UNIQUE",
	"CREATE CONSTRAINT control_org_id IF NOT EXISTS FOR (c:Control) REQUIRE (c.orgId, c.id) IS UNIQUE",
	"CREATE CONSTRAINT evidence_org_id IF NOT EXISTS FOR (e:Evidence) REQUIRE (e.orgId, e.id) IS UNIQUE",
	"CREATE INDEX project_org IF NOT EXISTS FOR (p:Project) ON (p.orgId)",
	"CREATE INDEX control_org IF NOT EXISTS FOR (c:Control) ON (c.orgId)",
	"CREATE INDEX evidence_org IF NOT EXISTS FOR (e:Evidence) ON (e.orgId)",
}

func (p *Projector) ensureSchema(ctx context.Context) error {
	for _, stmt := range schema {
		if _, err := neo4j.ExecuteQuery(ctx, p.drv, stmt, nil, neo4j.EagerResultTransformer, p.queryConfig(neo4j.ExecuteQueryWithWritersRouting())); err != nil {
			// Two processes creating the same schema at once: the loser sees the winner's
			// (EquivalentSchemaRuleAlreadyExists, ConstraintAlreadyExists, ...).
			var nerr *neo4j.Neo4jError
			if errors.As(err, &nerr) && strings.HasSuffix(nerr.Title(), "AlreadyExists") {
				continue
			}
			return fmt.Errorf("projection: create schema (%s): %w", stmt, err)
		}
	}
	if _, err := neo4j.ExecuteQuery(ctx, p.drv, "CALL db.awaitIndexes(60)", nil, neo4j.EagerResultTransformer, p.queryConfig()); err != nil {
		return fmt.Errorf("projection: await indexes: %w", err)
	}
	return nil
}

func (p *Projector) queryConfig(more ...neo4j.ExecuteQueryConfigurationOption) neo4j.ExecuteQueryConfigurationOption {
	return func(c *neo4j.ExecuteQueryConfiguration) {
		if p.db != "" {
			c.Database = p.db
		}
		for _, o := range more {
			o(c)
		}
	}
}

func (p *Projector) session(ctx context.Context, mode neo4j.AccessMode) neo4j.SessionWithContext {
	return p.drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: p.db, AccessMode: mode})
}

// write runs fn in one write transaction (retried by the driver on transient errors).
func (p *Projector) write(ctx context.Context, fn func(tx neo4j.ManagedTransaction) error) error {
	s := p.session(ctx, neo4j.AccessModeWrite)
	defer s.Close(ctx)
	_, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) { return nil, fn(tx) })
	if err != nil {
		return fmt.Errorf("projection: %w", err)
	}
	return nil
}

// read runs a query and returns every record.
func (p *Projector) read(ctx context.Context, cypher string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := neo4j.ExecuteQuery(ctx, p.drv, cypher, params, neo4j.EagerResultTransformer, p.queryConfig(neo4j.ExecuteQueryWithReadersRouting()))
	if err != nil {
		return nil, fmt.Errorf("projection: %w", err)
	}
	return res.Records, nil
}

func run(ctx context.Context, tx neo4j.ManagedTransaction, cypher string, params map[string]any) error {
	res, err := tx.Run(ctx, cypher, params)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}
