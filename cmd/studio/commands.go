package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/devstack"
	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/internal/serve"
	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/router/compose"
	"github.com/studio-platform/studio/router/config"
	"github.com/studio-platform/studio/router/limits"
	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/transport"
	"github.com/studio-platform/studio/subgraphs/ai"
	aistore "github.com/studio-platform/studio/subgraphs/ai/store"
	"github.com/studio-platform/studio/subgraphs/compliance"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/documents"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	docstore "github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/identity"
	"github.com/studio-platform/studio/subgraphs/identity/sso"
	"github.com/studio-platform/studio/subgraphs/kit"
	"github.com/studio-platform/studio/subgraphs/policy"
)

func runRouter(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	configFile := fs.String("config", "", "router config file (YAML, ${ENV} expanded; see README \"Running in public\"); flags override it")
	profile := fs.String("profile", config.ProfilePublic, "public (introspection, GraphiQL and query plans off) or dev (on); without --config")
	sgFile := fs.String("supergraph", "schema/supergraph.graphql", "supergraph SDL file")
	listen := fs.String("listen", "127.0.0.1:4000", "listen address")
	jwks := fs.String("jwks", os.Getenv("JWKS_URL"), "JWKS URL for bearer tokens (empty: tokens are only forwarded)")
	redisURL := fs.String("redis", os.Getenv("REDIS_URL"), "Redis shared by the replicas for rate limits and APQ (empty: both off)")
	maxExec := fs.Int("max-executions", 0, "operations executing at once (default 16 per CPU)")
	dedupIn := fs.Bool("dedup-requests", false, "identical query requests in flight share one execution")
	dedupOut := fs.Bool("dedup-subgraph-requests", false, "identical subgraph query requests in flight share one request")
	h2c := fs.Bool("subgraph-h2c", false, "HTTP/2 without TLS to http:// subgraphs (all of them must accept it)")
	hidePlans := fs.Bool("hide-query-plans", false, "ignore the X-Studio-Query-Plan header (the public profile's default)")
	introspection := fs.Bool("introspection", false, "answer __schema and __type (default: on in dev, off in public)")
	graphiql := fs.Bool("graphiql", false, "serve GraphiQL (default: on in dev, off in public)")
	queryPlans := fs.Bool("query-plans", false, "honour X-Studio-Query-Plan (default: on in dev, off in public)")
	csrf := fs.Bool("csrf", true, "refuse requests a browser could send cross-site without a preflight (off only for conformance suites that GET without headers)")
	labels := fs.String("override-labels", "", "comma-separated progressive-override labels to switch on")
	policyURL := fs.String("policy-url", os.Getenv("POLICY_URL"), "GraphQL URL asked for @policy decisions (empty: every @policy is denied)")
	lim := limits.Defaults()
	maxTokens := fs.Int("max-tokens", lim.MaxTokens, "most lexical tokens in a document (0: no limit)")
	maxDepth := fs.Int("max-depth", lim.MaxDepth, "deepest field nesting of an operation (0: no limit)")
	maxAliases := fs.Int("max-aliases", lim.MaxAliases, "most aliases in an operation, fragments expanded (0: no limit)")
	maxRootFields := fs.Int("max-root-fields", lim.MaxRootFields, "most root fields in an operation, fragments expanded (0: no limit)")
	maxFields := fs.Int("max-fields", lim.MaxFields, "most fields in an operation, fragments expanded (0: no limit)")
	maxDirectives := fs.Int("max-directives", lim.MaxDirectives, "most directives on one field, fragment or operation (0: no limit)")
	maxWidth := fs.Int("max-selection-width", lim.MaxWidth, "most selections written in one selection set (0: no limit)")
	maxCost := fs.Float64("max-cost", lim.MaxCost, "highest estimated cost (@cost/@listSize demand control) of an operation (0: no limit)")
	listSize := fs.Int("default-list-size", lim.DefaultListSize, "list size the cost estimate assumes without @listSize")
	planBudget := fs.Int("planning-budget", plan.DefaultMaxSteps, "most planning steps for one operation")
	forward := fs.String("forward-headers", "", "comma-separated request headers forwarded to subgraphs (besides Authorization, traceparent, tracestate, X-Request-Id)")
	reqTimeout := fs.Duration("request-timeout", router.DefaultRequestTimeout, "bound on one GraphQL request")
	sgTimeout := fs.Duration("subgraph-timeout", transport.DefaultTimeout, "bound on one subgraph request")
	accessLog := fs.Bool("access-log", true, "log one JSON line per GraphQL request (method, status, duration, operation, ids, bytes, client IP)")
	reloadEvery := fs.Duration("reload-interval", 2*time.Second, "how often the supergraph file is checked for changes (0: only on SIGHUP)")
	sgInFlight := fs.Int("subgraph-max-in-flight", 0, "requests in flight to each subgraph (default 3/4 of --max-executions)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var c *config.Config
	if *configFile != "" {
		if set["profile"] {
			return errors.New("--profile and --config: set the profile in the config file")
		}
		var err error
		if c, err = config.Load(*configFile, os.LookupEnv); err != nil {
			return err
		}
	} else {
		c = config.Default(*profile)
	}
	// Flags given on the command line win over the file.
	for name, apply := range map[string]func(){
		"supergraph":              func() { c.Supergraph = *sgFile },
		"listen":                  func() { c.Listen = *listen },
		"max-executions":          func() { c.Execution.MaxExecutions = *maxExec },
		"dedup-requests":          func() { c.Execution.DedupRequests = *dedupIn },
		"dedup-subgraph-requests": func() { c.Execution.DedupSubgraphRequests = *dedupOut },
		"subgraph-h2c":            func() { c.Execution.SubgraphH2C = *h2c },
		"hide-query-plans":        func() { c.Features.QueryPlans = ptr(!*hidePlans) },
		"introspection":           func() { c.Features.Introspection = introspection },
		"graphiql":                func() { c.Features.GraphiQL = graphiql },
		"query-plans":             func() { c.Features.QueryPlans = queryPlans },
		"csrf":                    func() { c.CSRF.Enabled = csrf },
		"override-labels":         func() { c.Execution.OverrideLabels = splitList(*labels) },
		"max-tokens":              func() { c.Limits.MaxTokens = maxTokens },
		"max-depth":               func() { c.Limits.MaxDepth = maxDepth },
		"max-aliases":             func() { c.Limits.MaxAliases = maxAliases },
		"max-root-fields":         func() { c.Limits.MaxRootFields = maxRootFields },
		"max-fields":              func() { c.Limits.MaxFields = maxFields },
		"max-directives":          func() { c.Limits.MaxDirectives = maxDirectives },
		"max-selection-width":     func() { c.Limits.MaxSelectionWidth = maxWidth },
		"max-cost":                func() { c.Limits.MaxCost = maxCost },
		"default-list-size":       func() { c.Limits.DefaultListSize = listSize },
		"planning-budget":         func() { c.Limits.PlanningBudget = planBudget },
		"forward-headers":         func() { c.Resilience.ForwardHeaders = splitList(*forward) },
		"request-timeout":         func() { c.Resilience.RequestTimeout = *reqTimeout },
		"subgraph-timeout":        func() { c.Resilience.SubgraphTimeout = *sgTimeout },
		"subgraph-max-in-flight":  func() { c.Resilience.SubgraphMaxInFlight = *sgInFlight },
	} {
		if set[name] {
			apply()
		}
	}
	if set["jwks"] || c.JWKSURL == "" {
		c.JWKSURL = *jwks
	}
	if set["policy-url"] || c.PolicyURL == "" {
		c.PolicyURL = *policyURL
	}
	if set["redis"] || c.Redis.URL == "" {
		c.Redis.URL = *redisURL
	}
	if c.SubgraphURLs == nil {
		c.SubgraphURLs = map[string]string{}
	}
	for name, u := range subgraphURLsFromEnv(os.Environ()) {
		c.SubgraphURLs[name] = u
	}
	if err := c.Validate(); err != nil {
		return err
	}
	log := newLogger(false)
	tp, shutdownTracing, err := router.NewTracerProvider(ctx, "studio-router")
	if err != nil {
		return err
	}
	defer func() { _ = shutdownTracing(context.WithoutCancel(ctx)) }()
	ropts := []router.Option{router.WithLogger(log), router.WithTracerProvider(tp)}
	if *accessLog {
		ropts = append(ropts, router.WithAccessLog(log))
	}
	r, err := router.New(ctx, router.ConfigFrom(c), ropts...)
	if err != nil {
		return err
	}
	defer r.Close()
	if *reloadEvery > 0 {
		go r.Watch(ctx, *reloadEvery)
	}
	go r.ReloadOn(ctx, syscall.SIGHUP)
	srv := r.Server(c.Listen)
	return serve.Run(ctx, srv, serve.WithLogger(log), serve.WithOnListen(func(a net.Addr) {
		log.Info("router listening", "graphql", "http://"+a.String()+"/graphql", "supergraph", c.Supergraph, "profile", c.Profile)
	}))
}

func ptr[T any](v T) *T { return &v }

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// subgraphURLsFromEnv reads SUBGRAPH_URL_<NAME>=url overrides of routing URLs.
func subgraphURLsFromEnv(env []string) map[string]string {
	out := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if name, found := strings.CutPrefix(k, "SUBGRAPH_URL_"); ok && found && v != "" {
			out[strings.ToLower(name)] = v
		}
	}
	return out
}

func runSubgraph(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("name the subgraph: identity, compliance, documents, policy or ai")
	}
	name := args[0]
	fs := flag.NewFlagSet("subgraph", flag.ContinueOnError)
	listen := fs.String("listen", "", "listen address (default: the port of its routing_url in supergraph.yaml)")
	config := fs.String("config", "supergraph.yaml", "supergraph.yaml, for the default port")
	seed := fs.Bool("seed", false, "load the demo data")
	jwks := fs.String("jwks", os.Getenv("JWKS_URL"), "identity's JWKS URL (compliance, documents, policy, ai)")
	natsURL := fs.String("nats", os.Getenv("NATS_URL"), "NATS JetStream server the outbox relay publishes events to (empty: events wait in the outbox)")
	redisURL := fs.String("redis", os.Getenv("REDIS_URL"), "Redis holding identity's sessions (required: tokens of ended sessions are refused) and policy's decision cache")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *redisURL == "" {
		return errors.New("subgraph: REDIS_URL (or --redis) is required: every request's session is checked in Redis")
	}
	sessions, err := auth.OpenSessions(*redisURL)
	if err != nil {
		return err
	}
	defer sessions.Close()
	log := newLogger(false).With("service", name)
	addr := *listen
	if addr == "" {
		addrs, err := subgraphAddrs(*config)
		if err != nil {
			return err
		}
		addr = addrs[name]
	}
	dbURL := os.Getenv("DATABASE_URL")
	evs := kit.WithEvents(kit.Events{NatsURL: *natsURL})
	sess := kit.WithSessions(sessions)
	var handler http.Handler
	var seeder func(context.Context) error
	var srvOpts []serve.ServerOption
	switch name {
	case identity.Name:
		public := os.Getenv(sso.EnvPublicURL)
		if public == "" {
			public = "http://" + addr
		}
		svc, err := identity.New(ctx, identity.Config{DatabaseURL: dbURL, RedisURL: *redisURL, PublicURL: public, OIDC: sso.ProvidersFromEnv(os.Getenv)},
			kit.WithLogger(log), evs, sess)
		if err != nil {
			return err
		}
		defer svc.Close()
		handler, seeder = svc.Handler(), svc.Seed
	case compliance.Name:
		svc, err := compliance.New(ctx, compliance.Config{DatabaseURL: dbURL, JWKSURL: *jwks, Neo4jURL: os.Getenv("NEO4J_URL")}, kit.WithLogger(log), evs, sess)
		if err != nil {
			return err
		}
		defer svc.Close()
		handler, seeder = svc.Handler(), svc.Seed
	case documents.Name:
		svc, err := documents.New(ctx, documents.Config{DatabaseURL: dbURL, JWKSURL: *jwks, S3: s3FromEnv()}, kit.WithLogger(log), evs, sess)
		if err != nil {
			return err
		}
		defer svc.Close()
		handler, seeder, srvOpts = svc.Handler(), svc.Seed, svc.ServerOptions()
	case policy.Name:
		svc, err := policy.New(ctx, policy.Config{DatabaseURL: dbURL, JWKSURL: *jwks, RedisURL: *redisURL}, kit.WithLogger(log), evs, sess)
		if err != nil {
			return err
		}
		defer svc.Close()
		handler, seeder = svc.Handler(), svc.Seed
	case ai.Name:
		svc, err := ai.New(ctx, ai.Config{DatabaseURL: dbURL, JWKSURL: *jwks, Neo4jURL: os.Getenv("NEO4J_URL")}, kit.WithLogger(log), evs, sess)
		if err != nil {
			return err
		}
		defer svc.Close()
		handler, seeder = svc.Handler(), svc.Seed
	default:
		return fmt.Errorf("unknown subgraph %q (identity, compliance, documents, policy, ai)", name)
	}
	if *seed {
		if err := seeder(ctx); err != nil {
			return err
		}
	}
	srv := serve.NewServer(addr, handler, srvOpts...)
	return serve.Run(ctx, srv, serve.WithLogger(log), serve.WithOnListen(func(a net.Addr) {
		log.Info("subgraph listening", "graphql", "http://"+a.String()+"/graphql")
	}))
}

func runCompose(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("compose", flag.ContinueOnError)
	config := fs.String("config", "supergraph.yaml", "subgraphs to compose")
	out := fs.String("out", "schema/supergraph.graphql", "output file (- for stdout)")
	check := fs.Bool("check", false, "fail when the output file is out of date instead of writing it")
	reference := fs.String("reference", "", "compare our composition with reference supergraphs: DIR/<case>/{<subgraph>.graphql,supergraph.graphql}")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *reference != "" {
		return compareReference(*reference)
	}
	sdl, err := composeFile(*config)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := os.Stdout.WriteString(sdl)
		return err
	}
	old, _ := os.ReadFile(*out)
	if bytes.Equal(old, []byte(sdl)) {
		return nil
	}
	if *check {
		return fmt.Errorf("%s is out of date: run studio compose", *out)
	}
	return os.WriteFile(*out, []byte(sdl), 0o644)
}

func composeFile(config string) (string, error) {
	cfg, err := compose.LoadConfig(config)
	if err != nil {
		return "", err
	}
	sdl, err := compose.ComposeConfig(cfg, filepath.Dir(config))
	if err != nil {
		return "", err
	}
	return sdl + "\n", nil
}

func compareReference(dir string) error {
	rep, err := compose.CompareReference(dir)
	if err != nil {
		return err
	}
	fmt.Printf("identical: %d\nsemantically equal: %d\ndifferent: %d %v\nfailed: %d %v\nmatching %d of %d\n",
		len(rep.Identical), len(rep.Semantic), len(rep.Different), rep.Different, len(rep.Failed), rep.Failed, rep.Matching(), rep.Total())
	if rep.Matching() != rep.Total() {
		return fmt.Errorf("%d of %d cases differ", rep.Total()-rep.Matching(), rep.Total())
	}
	return nil
}

// subgraphAddrs returns each subgraph's listen address: the host:port of its routing_url.
func subgraphAddrs(config string) (map[string]string, error) {
	cfg, err := compose.LoadConfig(config)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, sg := range cfg.Subgraphs {
		u, err := url.Parse(sg.RoutingURL)
		if err != nil {
			return nil, fmt.Errorf("%s: routing_url of %s: %w", config, name, err)
		}
		out[name] = u.Host
	}
	return out, nil
}

func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	// Opening a service applies its embedded migrations.
	id, err := identity.New(ctx, identity.Config{DatabaseURL: dbURL})
	if err != nil {
		return err
	}
	id.Close()
	comp, err := compliance.New(ctx, compliance.Config{DatabaseURL: dbURL, JWKSURL: "http://localhost/.well-known/jwks.json"})
	if err != nil {
		return err
	}
	comp.Close()
	// documents needs no object storage to migrate: the kit alone applies its migrations.
	docs, err := kit.Open(ctx, kit.Config{Name: documents.Name, DatabaseURL: dbURL, Schema: docstore.Schema, Migrations: docstore.Migrations()})
	if err != nil {
		return err
	}
	docs.Close()
	// ai needs neither Neo4j nor NATS to migrate either.
	aiSvc, err := kit.Open(ctx, kit.Config{Name: ai.Name, DatabaseURL: dbURL, Schema: aistore.Schema, Migrations: aistore.Migrations()})
	if err != nil {
		return err
	}
	aiSvc.Close()
	pol, err := policy.New(ctx, policy.Config{DatabaseURL: dbURL, JWKSURL: "http://localhost/.well-known/jwks.json"})
	if err != nil {
		return err
	}
	pol.Close()
	return nil
}

func runStack(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stack", flag.ContinueOnError)
	data := fs.String("data", ".data", "data folder of the infrastructure")
	fast := fs.Bool("fast-unsafe", false, "run PostgreSQL without fsync (throwaway test data only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := []devstack.Option{devstack.WithLogger(newLogger(true))}
	if *fast {
		opts = append(opts, devstack.WithFastUnsafePostgres())
	}
	return devstack.RunWith(ctx, *data, fs.Args(), opts...)
}

func runDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	data := fs.String("data", ".data", "data folder (reused across runs)")
	config := fs.String("config", "supergraph.yaml", "subgraphs")
	sgFile := fs.String("supergraph", "schema/supergraph.graphql", "composed supergraph (rewritten when the subgraph schemas changed)")
	routerAddr := fs.String("listen", ":4000", "router listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(true)
	sdl, err := composeFile(*config)
	if err != nil {
		return err
	}
	if old, _ := os.ReadFile(*sgFile); !bytes.Equal(old, []byte(sdl)) {
		if err := os.WriteFile(*sgFile, []byte(sdl), 0o644); err != nil {
			return err
		}
		log.Info("supergraph recomposed", "file", *sgFile)
	}
	addrs, err := subgraphAddrs(*config)
	if err != nil {
		return err
	}
	stack, err := devstack.Start(ctx, *data, devstack.WithLogger(log))
	if err != nil {
		return err
	}
	defer stack.Close()
	p, err := platform.Start(ctx, platform.Config{
		DatabaseURL:    stack.DatabaseURL,
		RedisURL:       stack.RedisURL,
		NatsURL:        stack.NatsURL,
		Neo4jURL:       stack.Neo4jURL,
		SupergraphFile: *sgFile,
		RouterAddr:     *routerAddr,
		IdentityAddr:   addrs[identity.Name],
		ComplianceAddr: addrs[compliance.Name],
		DocumentsAddr:  addrs[documents.Name],
		S3:             objects.Config{URL: stack.S3URL, AccessKey: stack.S3AccessKey, SecretKey: stack.S3SecretKey},
		PolicyAddr:     addrs[policy.Name],
		AIAddr:         addrs[ai.Name],
		Seed:           true,
		RouterEdge:     devEdge(stack.RedisURL),
	}, platform.WithLogger(log), platform.WithIdentityConfig(func(c *identity.Config) {
		if u := os.Getenv(sso.EnvPublicURL); u != "" {
			c.PublicURL = u
		}
		c.OIDC = sso.ProvidersFromEnv(os.Getenv)
	}))
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Printf(`
Studio Platform is running.

  GraphiQL     http://localhost%s/
  GraphQL      http://localhost%s/graphql
  identity     %s/graphql
  compliance   %s/graphql
  documents    %s/graphql
  policy       %s/graphql
  ai           %s/graphql  (answers' tokens on NATS subjects ai.chat.<sessionId>, stream AI_CHAT)
  PostgreSQL   %s
  Redis        %s
  NATS         %s
  Neo4j        %s
  MinIO (S3)   %s  (access key %s, secret key in %s)

Demo login (organization %q):
  mutation { login(email: %q, password: %q) { accessToken } }
  then send the header  Authorization: Bearer <accessToken>  and ask
  { me { email projects { name owner { email } controls { code title } } } }

Ctrl-C stops everything.
`, portOf(*routerAddr), portOf(*routerAddr), p.IdentityURL, p.ComplianceURL, p.DocumentsURL, p.PolicyURL, p.AIURL, stack.DatabaseURL, stack.RedisURL, stack.NatsURL,
		stack.Neo4jURL, stack.S3URL, stack.S3AccessKey, filepath.Join(*data, "minio", "credentials"),
		demo.OrgName, demo.DemoUser.Email, demo.Password)
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// devEdge is the dev profile's edge: the public defaults (CSRF prevention,
// rate limits, APQ) on the stack's Redis, and CORS for a local web app.
func devEdge(redisURL string) config.Edge {
	e := config.Default(config.ProfileDev).Edge
	e.Redis.URL = redisURL
	e.CORS.AllowOrigins = []string{"http://localhost:3000"}
	return e
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return ":" + port
}

// s3FromEnv reads S3_URL, S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET (the
// documents' bucket; default documents.DefaultBucket).
func s3FromEnv() objects.Config {
	return objects.Config{URL: os.Getenv(devstack.EnvS3URL), AccessKey: os.Getenv(devstack.EnvS3AccessKey),
		SecretKey: os.Getenv(devstack.EnvS3SecretKey), Bucket: os.Getenv("S3_BUCKET")}
}
