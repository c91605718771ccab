// Package documents is the composition root of the documents subgraph:
// files of a project (bytes in S3-compatible object storage, metadata in
// PostgreSQL), uploaded with the GraphQL multipart request spec or through
// presigned URLs, every query scoped by the caller's organization. New wires
// the store, the bucket, the token verifier (identity's JWKS by default) and
// the resolvers on the subgraph kit (subgraphs/kit).
package documents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/health"
	"github.com/studio-platform/studio/internal/serve"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/documents/graph"
	"github.com/studio-platform/studio/subgraphs/documents/graph/generated"
	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/loaders"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/documents/pdfgen"
	"github.com/studio-platform/studio/subgraphs/documents/process"
	"github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Name is the subgraph's name (in supergraph.yaml, metrics, logs).
const Name = "documents"

// DefaultBucket is the bucket of the documents' bytes.
const DefaultBucket = "studio-documents"

// multipartOverhead is what a multipart request may carry besides its file
// (operations, map, part headers).
const multipartOverhead = 1 << 20

// UploadTimeout bounds a multipart request (an upload) when served by
// serve.NewServer with Service.ServerOptions.
const UploadTimeout = 10 * time.Minute

// Config configures the documents subgraph.
type Config struct {
	// DatabaseURL is the Postgres URL; documents keeps its tables in schema "documents".
	DatabaseURL string
	// JWKSURL is identity's JWKS (…/.well-known/jwks.json), used to verify
	// access tokens. Not needed when WithVerifier is given.
	JWKSURL string
	// S3 is the object storage (S3_URL, S3_ACCESS_KEY, S3_SECRET_KEY);
	// Bucket defaults to DefaultBucket.
	S3 objects.Config
	// Limits bound uploads (zero fields keep their defaults).
	Limits graph.Limits
	// Workers is how many processing workers run in the service (with
	// kit.WithEvents and a NATS URL): default 1; negative for none (a
	// separate process runs them, or a test does).
	Workers int
	// Processing tunes the workers (zero fields keep their defaults).
	Processing process.Config
	// SkipGenerated turns off the consumer that stores the ai subgraph's
	// policy drafts as documents (process.StoreGenerated): for a deployment
	// without ai, and for tests, whose processes share one NATS server and
	// would store each other's drafts.
	SkipGenerated bool
}

// Option configures New: kit.WithLogger, kit.WithQueryTracer, kit.WithVerifier
// (default: auth.NewJWKSVerifier(cfg.JWKSURL)), kit.WithLimits, kit.WithMount,
// kit.WithEvents.
type Option = kit.Option

// Service is a running documents subgraph.
type Service struct {
	*kit.Service
	store       *store.Store
	bucket      *objects.Bucket
	resolver    *graph.Resolver
	uploadBytes int64
}

// New opens the database (applying migrations) and the bucket (creating it
// when missing) and builds the HTTP handler. Close releases it.
func New(ctx context.Context, cfg Config, opts ...Option) (_ *Service, err error) {
	if cfg.S3.Bucket == "" {
		cfg.S3.Bucket = DefaultBucket
	}
	kcfg := kit.Config{Name: Name, DatabaseURL: cfg.DatabaseURL, Schema: store.Schema, Migrations: store.Migrations()}
	errs := []error{kcfg.Validate()}
	if cfg.JWKSURL == "" && !kit.HasVerifier(opts...) {
		errs = append(errs, errors.New("documents: JWKSURL is required (or kit.WithVerifier)"))
	}
	if cfg.S3.URL == "" {
		errs = append(errs, errors.New("documents: S3 URL is required (S3_URL)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	bucket, err := objects.Open(ctx, cfg.S3)
	if err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	limits := cfg.Limits.WithDefaults()
	res := &graph.Resolver{Objects: bucket, Limits: limits}
	opts = append(opts, kit.WithMount(func(ctx context.Context, m *kit.Mount) (func(), error) {
		m.Check(health.Check{Name: "s3", Fn: bucket.Ping})
		if m.JetStream != nil {
			feed := process.NewFeed(m.JetStream)
			if err := feed.EnsureStream(ctx); err != nil {
				return nil, err
			}
			res.Progress = feed // before Serve returns: no request reads it yet
		}
		return startProcessing(ctx, cfg, m, bucket)
	}))
	svc, err := kit.Open(ctx, kcfg, opts...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()
	st := store.New(svc.DB())
	res.Store, res.Loaders = st, loaders.New(st)
	api := kit.API{
		Schema:         generated.NewExecutableSchema(generated.Config{Resolvers: res}),
		Loaders:        res.Loaders,
		MaxUploadBytes: limits.MaxBytes + multipartOverhead,
	}
	if cfg.JWKSURL != "" {
		api.Verifier = auth.NewJWKSVerifier(cfg.JWKSURL)
	}
	if err := svc.Serve(ctx, api); err != nil {
		return nil, err
	}
	return &Service{Service: svc, store: st, bucket: bucket, resolver: res, uploadBytes: api.MaxUploadBytes}, nil
}

// startProcessing runs the job forwarder and cfg.Workers workers on the
// events' JetStream connection until the returned cleanup.
func startProcessing(ctx context.Context, cfg Config, m *kit.Mount, bucket *objects.Bucket) (func(), error) {
	if m.JetStream == nil {
		m.Log.Warn("documents: no NATS: documents are stored but not processed")
		return nil, nil
	}
	pcfg := cfg.Processing
	if pcfg.Log == nil {
		pcfg.Log = m.Log
	}
	w := process.New(store.New(m.DB), bucket, m.JetStream, pcfg)
	if _, err := w.EnsureStream(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Forward(runCtx, m.EventOptions...); err != nil {
			m.Log.Error("documents: job forwarder stopped", "error", err)
		}
	})
	if !cfg.SkipGenerated {
		wg.Go(func() {
			if err := w.StoreGenerated(runCtx, m.EventOptions...); err != nil {
				m.Log.Error("documents: generated documents consumer stopped", "error", err)
			}
		})
	}
	workers := cfg.Workers
	if workers == 0 {
		workers = 1
	}
	for range max(workers, 0) {
		wg.Go(func() {
			if err := w.Run(runCtx); err != nil {
				m.Log.Error("documents: worker stopped", "error", err)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}, nil
}

// ServerOptions are serve.NewServer's options for the service: multipart
// requests (uploads) get the document limit and UploadTimeout instead of
// the JSON bodies' 4 MiB and 20 s.
func (s *Service) ServerOptions() []serve.ServerOption {
	return []serve.ServerOption{serve.WithUploads(s.uploadBytes, UploadTimeout)}
}

// Seed stores the demo's policy PDF (demo.PolicyDocumentID), written now
// with pdfgen, linked to its evidence, through the upload path: its first
// processing job is queued and the worker extracts and chunks it. It does
// nothing when the document exists.
func (s *Service) Seed(ctx context.Context) error {
	docs, err := s.store.DocumentsByIDs(ctx, demo.OrgID, []string{demo.PolicyDocumentID})
	if err != nil {
		return fmt.Errorf("documents: seed: %w", err)
	}
	if len(docs) > 0 && docs[0] != nil {
		return nil
	}
	var pdf bytes.Buffer
	if err := pdfgen.Write(&pdf, pdfgen.Doc{Title: demo.PolicyDocumentTitle, Pages: demo.PolicyDocumentPages()}); err != nil {
		return fmt.Errorf("documents: seed: %w", err)
	}
	evidence := demo.PolicyDocumentEvidenceID
	d := &model.Document{ID: demo.PolicyDocumentID, OrgID: demo.OrgID, ProjectID: demo.ProjectID, EvidenceID: &evidence,
		UploadedByID: demo.DemoUser.ID, Filename: demo.PolicyDocumentFilename}
	if _, err := s.resolver.Put(ctx, d, &pdf, int64(pdf.Len())); err != nil {
		return fmt.Errorf("documents: seed: %w", err)
	}
	return nil
}

// Store returns the service's store (for tests and tools).
func (s *Service) Store() *store.Store { return s.store }

// Bucket returns the service's bucket (for tests and tools).
func (s *Service) Bucket() *objects.Bucket { return s.bucket }
