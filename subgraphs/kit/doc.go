// Package kit is the subgraph kit: what every gqlgen subgraph shares, so that
// a new subgraph is its schema, its resolvers and its store.
//
// A composition root (subgraphs/<name>/<name>.go) is:
//
//	svc, err := kit.Open(ctx, kit.Config{Name: Name, DatabaseURL: url, Schema: store.Schema, Migrations: store.Migrations()}, opts...)
//	st := store.New(svc.DB())                      // pgx store on the subgraph's own schema
//	res := &graph.Resolver{Store: st, Loaders: loaders.New(st)}
//	err = svc.Serve(ctx, kit.API{Schema: generated.NewExecutableSchema(generated.Config{Resolvers: res}),
//		Loaders: res.Loaders, Verifier: auth.NewJWKSVerifier(jwksURL)})
//
// and the kit gives it:
//
//   - Wiring (Open, Serve; options WithLogger, WithQueryTracer, WithVerifier,
//     WithSessions (tokens of ended sessions refused: auth.CheckSessions),
//     WithLimits): /graphql (POST, GET) behind auth.Middleware and the loader
//     middleware, GET /health, GET /ready (postgres ping), GET /metrics
//     (Prometheus), extra routes (API.Routes).
//   - The store: Open creates the schema and applies the embedded migrations
//     (internal/pg, once, under an advisory lock).
//   - Per-request dataloaders (NewLoaders, NewLoader; graph-gophers/dataloader/v7),
//     one set per request and organization, batches bounded by Limits.MaxBatch
//     and collected for Limits.LoaderWait. A resolver whose request did not go
//     through the loader middleware gets ErrNoLoaders, answered as a logged
//     INTERNAL_SERVER_ERROR: never a silent fallback to one query per parent.
//   - Entity resolvers in one line (FindMany): claims → ids → one store call
//     scoped by the caller's organization; Order, Group and UUIDs put rows back
//     in key order and drop malformed ids.
//   - Errors classified once, at the edge, into extensions.code: resolvers
//     return *Error (BadInput, NotFound, Errorf, ErrUnauthenticated,
//     ErrForbidden) for what the client may see; anything else is logged and
//     answered as INTERNAL_SERVER_ERROR "internal error", so internals never
//     leak. Panics are recovered per request the same way.
//   - Input limits (Input, Max* constants): every string argument is bounded
//     and all problems of one input come back as one BAD_USER_INPUT error.
//   - Events (internal/events): every subgraph's schema has the outbox (Open
//     applies events.Migrations after the subgraph's own), so a write appends
//     its event in its own transaction; WithEvents(Events{NatsURL}) connects
//     to NATS at Serve, ensures the STUDIO stream and runs the outbox relay on
//     a small pool of its own without the query tracers (SQL-counting tests
//     count only requests), with a "nats" readiness check.
//   - A seam for shared machinery (WithMount): a MountFunc gets the store, the
//     logger, the metrics registry, the mux, the readiness checks and (with
//     WithEvents) the JetStream handle for consumers once the store is open,
//     and returns a cleanup that Close runs.
package kit
