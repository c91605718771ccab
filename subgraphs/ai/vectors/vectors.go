// Package vectors keeps the embeddings of document chunks in Neo4j and
// searches them:
//
//	(:Chunk {orgId, id, documentId, projectId, evidenceId, filename, position,
//	         text, jobId, model, embedding})
//
// unique per (orgId, id), with a range index on (orgId, projectId) and
// (orgId, evidenceId) and a native vector index (cosine) on embedding.
// Search is exact within its scope: the scope's chunks are matched through
// the range index and ranked by vector.similarity.cosine, so an
// organization's query never sees another's chunks and never misses its own
// (the vector index is approximate and global: a top-k over every tenant's
// chunks, filtered afterwards, can come back short). SearchANN uses the
// vector index, for the measurement in docs/architecture.md.
package vectors

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Limits.
const (
	MaxK     = 100  // hits of one search
	MaxBatch = 500  // chunks of one Upsert
	MaxText  = 8192 // bytes of a chunk's text
	MaxDims  = 4096 // embedding dimensions
	MaxIDLen = 200  // ids
)

// ErrInvalid is wrapped by every error about a caller's input.
var ErrInvalid = errors.New("vectors: invalid input")

// Index is the name of the vector index.
const Index = "ai_chunk_embedding"

// Store reads and writes chunk embeddings.
type Store struct {
	drv   neo4j.DriverWithContext
	model string
	dims  int
}

// New returns a store on drv for embeddings of model (a name such as
// "offline-hashed-ngrams/256": chunks of other models are ignored)
// with dims dimensions, creating the constraint and indexes. The vector
// index takes the dimensions of the first model that creates it; a later
// model of other dimensions still searches exactly (Search) but not with
// SearchANN.
func New(ctx context.Context, drv neo4j.DriverWithContext, model string, dims int) (*Store, error) {
	if model == "" || dims <= 0 || dims > MaxDims {
		return nil, fmt.Errorf("%w: model %q, %d dimensions", ErrInvalid, model, dims)
	}
	s := &Store{drv: drv, model: model, dims: dims}
	stmts := []string{
		"CREATE CONSTRAINT ai_chunk_org_id IF NOT EXISTS FOR (c:Chunk) REQUIRE (c.orgId, c.id) IS UNIQUE",
		"CREATE INDEX ai_chunk_project IF NOT EXISTS FOR (c:Chunk) ON (c.orgId, c.projectId)",
		"CREATE INDEX ai_chunk_evidence IF NOT EXISTS FOR (c:Chunk) ON (c.orgId, c.evidenceId)",
		"CREATE INDEX ai_chunk_document IF NOT EXISTS FOR (c:Chunk) ON (c.orgId, c.documentId)",
		fmt.Sprintf("CREATE VECTOR INDEX %s IF NOT EXISTS FOR (c:Chunk) ON (c.embedding) OPTIONS {indexConfig: {`vector.dimensions`: %d, `vector.similarity_function`: 'cosine'}}", Index, dims),
	}
	for _, stmt := range stmts {
		if _, err := neo4j.ExecuteQuery(ctx, drv, stmt, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithWritersRouting()); err != nil {
			var nerr *neo4j.Neo4jError
			if errors.As(err, &nerr) && strings.HasSuffix(nerr.Title(), "AlreadyExists") {
				continue
			}
			return nil, fmt.Errorf("vectors: create schema (%s): %w", stmt, err)
		}
	}
	if _, err := neo4j.ExecuteQuery(ctx, drv, "CALL db.awaitIndexes(60)", nil, neo4j.EagerResultTransformer); err != nil {
		return nil, fmt.Errorf("vectors: await indexes: %w", err)
	}
	return s, nil
}

// Model is the embedding model the store reads and writes.
func (s *Store) Model() string { return s.model }

// Chunk is a chunk of a document's text with its embedding.
type Chunk struct {
	ID, DocumentID, ProjectID string
	EvidenceID                string // "" when the document is attached to no evidence
	Filename                  string
	Position                  int
	Text                      string
	JobID                     string
	Embedding                 []float32
}

// Upsert writes chunks of organization org (MERGE by id: idempotent).
func (s *Store) Upsert(ctx context.Context, org string, chunks []Chunk) error {
	if err := checkID("organization id", org); err != nil {
		return err
	}
	if len(chunks) > MaxBatch {
		return fmt.Errorf("%w: %d chunks (at most %d)", ErrInvalid, len(chunks), MaxBatch)
	}
	rows := make([]map[string]any, len(chunks))
	for i, c := range chunks {
		for _, id := range []string{c.ID, c.DocumentID, c.ProjectID, c.JobID} {
			if err := checkID("chunk field", id); err != nil {
				return err
			}
		}
		if len(c.Text) > MaxText || len(c.Embedding) != s.dims {
			return fmt.Errorf("%w: chunk %s: %d bytes of text, %d dimensions (want %d)", ErrInvalid, c.ID, len(c.Text), len(c.Embedding), s.dims)
		}
		var ev any
		if c.EvidenceID != "" {
			ev = c.EvidenceID
		}
		rows[i] = map[string]any{"id": c.ID, "documentId": c.DocumentID, "projectId": c.ProjectID, "evidenceId": ev,
			"filename": c.Filename, "position": c.Position, "text": c.Text, "jobId": c.JobID, "embedding": c.Embedding}
	}
	_, err := neo4j.ExecuteQuery(ctx, s.drv, `
UNWIND $rows AS row
MERGE (c:Chunk {orgId: $org, id: row.id})
SET c.documentId = row.documentId, c.projectId = row.projectId, c.evidenceId = row.evidenceId, c.filename = row.filename,
    c.position = row.position, c.text = row.text, c.jobId = row.jobId, c.model = $model
WITH c, row
CALL db.create.setNodeVectorProperty(c, 'embedding', row.embedding)`,
		map[string]any{"org": org, "rows": rows, "model": s.model}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithWritersRouting())
	if err != nil {
		return fmt.Errorf("vectors: upsert: %w", err)
	}
	return nil
}

// KeepJob deletes the chunks of document doc of org written by any job but
// jobID (a reprocessed document's chunks replace the earlier ones).
func (s *Store) KeepJob(ctx context.Context, org, doc, jobID string) error {
	for _, id := range []string{org, doc, jobID} {
		if err := checkID("id", id); err != nil {
			return err
		}
	}
	_, err := neo4j.ExecuteQuery(ctx, s.drv, `MATCH (c:Chunk {orgId: $org, documentId: $doc}) WHERE c.jobId <> $job DETACH DELETE c`,
		map[string]any{"org": org, "doc": doc, "job": jobID}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithWritersRouting())
	if err != nil {
		return fmt.Errorf("vectors: delete stale chunks: %w", err)
	}
	return nil
}

// Scope is what a search looks at: one project of an organization, or one
// evidence item's documents.
type Scope struct {
	OrgID      string
	ProjectID  string
	EvidenceID string // set: only chunks of documents attached to this evidence
}

// Hit is a chunk found by a search, with its cosine similarity (-1 to 1).
type Hit struct {
	ChunkID, DocumentID, ProjectID, EvidenceID, Filename string
	Position                                             int
	Text                                                 string
	Score                                                float64
}

// Search returns the k chunks of the scope most similar to vec, best first
// (exact: every chunk of the scope is compared).
func (s *Store) Search(ctx context.Context, scope Scope, vec []float32, k int) ([]Hit, error) {
	params, err := s.params(scope, vec, k)
	if err != nil {
		return nil, err
	}
	match := "MATCH (c:Chunk {orgId: $org, projectId: $project})"
	if scope.EvidenceID != "" {
		match = "MATCH (c:Chunk {orgId: $org, evidenceId: $evidence})"
	}
	return s.hits(ctx, match+`
WHERE c.model = $model
WITH c, vector.similarity.cosine(c.embedding, $vec) AS score
ORDER BY score DESC, c.id LIMIT $k`+hitReturn, params)
}

// SearchANN is Search through the vector index: the candidates best over
// every organization's chunks, filtered to the scope. It can return fewer
// than k hits when other tenants' chunks fill the candidates.
func (s *Store) SearchANN(ctx context.Context, scope Scope, vec []float32, k, candidates int) ([]Hit, error) {
	params, err := s.params(scope, vec, k)
	if err != nil {
		return nil, err
	}
	params["candidates"] = max(candidates, k)
	return s.hits(ctx, `
CALL db.index.vector.queryNodes($index, $candidates, $vec) YIELD node AS c, score
WHERE c.orgId = $org AND c.model = $model AND ($evidence = '' AND c.projectId = $project OR $evidence <> '' AND c.evidenceId = $evidence)
WITH c, score ORDER BY score DESC, c.id LIMIT $k`+hitReturn, params)
}

// hitReturn turns Neo4j's cosine score, (1 + cos) / 2 in [0, 1], back into
// the cosine similarity.
const hitReturn = `
RETURN c.id AS id, c.documentId AS documentId, c.projectId AS projectId, coalesce(c.evidenceId, '') AS evidenceId,
  c.filename AS filename, c.position AS position, c.text AS text, 2 * score - 1 AS score`

func (s *Store) params(scope Scope, vec []float32, k int) (map[string]any, error) {
	if err := checkID("organization id", scope.OrgID); err != nil {
		return nil, err
	}
	if scope.ProjectID == "" && scope.EvidenceID == "" {
		return nil, fmt.Errorf("%w: a project or an evidence id is required", ErrInvalid)
	}
	if len(scope.ProjectID) > MaxIDLen || len(scope.EvidenceID) > MaxIDLen {
		return nil, fmt.Errorf("%w: id longer than %d bytes", ErrInvalid, MaxIDLen)
	}
	if k <= 0 || k > MaxK || len(vec) != s.dims {
		return nil, fmt.Errorf("%w: k %d (1 to %d), %d dimensions (want %d)", ErrInvalid, k, MaxK, len(vec), s.dims)
	}
	return map[string]any{"org": scope.OrgID, "project": scope.ProjectID, "evidence": scope.EvidenceID, "model": s.model,
		"vec": vec, "k": k, "index": Index}, nil
}

func (s *Store) hits(ctx context.Context, cypher string, params map[string]any) ([]Hit, error) {
	res, err := neo4j.ExecuteQuery(ctx, s.drv, cypher, params, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithReadersRouting())
	if err != nil {
		return nil, fmt.Errorf("vectors: search: %w", err)
	}
	out := make([]Hit, 0, len(res.Records))
	for _, r := range res.Records {
		m := r.AsMap()
		h := Hit{}
		h.ChunkID, _ = m["id"].(string)
		h.DocumentID, _ = m["documentId"].(string)
		h.ProjectID, _ = m["projectId"].(string)
		h.EvidenceID, _ = m["evidenceId"].(string)
		h.Filename, _ = m["filename"].(string)
		h.Text, _ = m["text"].(string)
		h.Score, _ = m["score"].(float64)
		pos, _ := m["position"].(int64)
		h.Position = int(pos)
		out = append(out, h)
	}
	return out, nil
}

// Count returns how many chunks of document doc of org are stored (tests, tools).
func (s *Store) Count(ctx context.Context, org, doc string) (int, error) {
	res, err := neo4j.ExecuteQuery(ctx, s.drv, `MATCH (c:Chunk {orgId: $org, documentId: $doc}) RETURN count(c) AS n`,
		map[string]any{"org": org, "doc": doc}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithReadersRouting())
	if err != nil {
		return 0, fmt.Errorf("vectors: count: %w", err)
	}
	n, _ := res.Records[0].AsMap()["n"].(int64)
	return int(n), nil
}

func checkID(what, id string) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("%w: %s must be 1 to %d bytes", ErrInvalid, what, MaxIDLen)
	}
	return nil
}
