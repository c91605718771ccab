package vectors_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/ai/vectors"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const dims = 256

func open(t testing.TB) *vectors.Store {
	t.Helper()
	drv, err := projection.OpenDriver(testenv.Neo4j(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = drv.Close(context.Background()) })
	s, err := vectors.New(context.Background(), drv, "test-random/256", dims)
	require.NoError(t, err)
	return s
}

func unit(r *rand.Rand) []float32 {
	v := make([]float32, dims)
	var n float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		n += float64(v[i]) * float64(v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func cosine(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d
}

// chunks returns n random chunks of project (attached to evidence when set).
func chunks(r *rand.Rand, n int, project, evidence string) []vectors.Chunk {
	doc, job := uuid.NewString(), uuid.NewString()
	out := make([]vectors.Chunk, n)
	for i := range out {
		out[i] = vectors.Chunk{ID: uuid.NewString(), DocumentID: doc, ProjectID: project, EvidenceID: evidence, Filename: "f.txt",
			Position: i, Text: fmt.Sprintf("chunk %d", i), JobID: job, Embedding: unit(r)}
	}
	return out
}

func upsert(t testing.TB, s *vectors.Store, org string, cs []vectors.Chunk) {
	t.Helper()
	for start := 0; start < len(cs); start += vectors.MaxBatch {
		require.NoError(t, s.Upsert(context.Background(), org, cs[start:min(start+vectors.MaxBatch, len(cs))]))
	}
}

// Search is exact within its scope and never crosses organizations or
// projects; a reprocessed document keeps only its latest job's chunks.
func TestSearchIsExactAndScoped(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	r := rand.New(rand.NewPCG(1, 2))
	org, other, project, evidence := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	mine := chunks(r, 50, project, evidence)
	upsert(t, s, org, mine)
	upsert(t, s, other, chunks(r, 50, project, evidence))  // same project and evidence ids, another organization
	upsert(t, s, org, chunks(r, 50, uuid.NewString(), "")) // another project

	q := unit(r)
	best := mine[0]
	for _, c := range mine {
		if cosine(c.Embedding, q) > cosine(best.Embedding, q) {
			best = c
		}
	}
	for _, scope := range []vectors.Scope{{OrgID: org, ProjectID: project}, {OrgID: org, EvidenceID: evidence}} {
		hits, err := s.Search(ctx, scope, q, 5)
		require.NoError(t, err)
		require.Len(t, hits, 5)
		require.Equal(t, best.ID, hits[0].ChunkID, "the most similar chunk first")
		require.InDelta(t, cosine(best.Embedding, q), hits[0].Score, 1e-4)
		ids := map[string]bool{}
		for _, c := range mine {
			ids[c.ID] = true
		}
		for _, h := range hits {
			require.True(t, ids[h.ChunkID], "only the scope's chunks")
		}
	}

	// Reprocessing: the new job's chunks replace the old ones.
	again := chunks(r, 3, project, evidence)
	for i := range again {
		again[i].DocumentID = mine[0].DocumentID
	}
	upsert(t, s, org, again)
	require.NoError(t, s.KeepJob(ctx, org, mine[0].DocumentID, again[0].JobID))
	n, err := s.Count(ctx, org, mine[0].DocumentID)
	require.NoError(t, err)
	require.Equal(t, 3, n)
}

// BenchmarkSearch compares, on one project's chunks among many other
// organizations' (docs/architecture.md has the figures):
//
//   - Neo4jExact: the scope's chunks through the (orgId, projectId) index,
//     ranked by vector.similarity.cosine (what the ai subgraph uses);
//
//   - Neo4jANN: the native vector index (top candidates over every tenant),
//     filtered to the scope afterwards, with its recall against Exact;
//
//   - PostgresExact: the same exact ranking in PostgreSQL 15 without
//     pgvector (float4[] and unnest), for the choice of store.
//
//     studio stack -- go test -run '^$' -bench Search -benchtime 20x ./subgraphs/ai/vectors/
func BenchmarkSearch(b *testing.B) {
	const project, others = 2000, 18000
	ctx := context.Background()
	s := open(b)
	r := rand.New(rand.NewPCG(3, 4))
	org, proj := uuid.NewString(), uuid.NewString()
	mine := chunks(r, project, proj, "")
	upsert(b, s, org, mine)
	var rest []vectors.Chunk
	for range others / 1000 {
		cs := chunks(r, 1000, uuid.NewString(), "")
		upsert(b, s, uuid.NewString(), cs)
		rest = append(rest, cs...)
	}
	scope := vectors.Scope{OrgID: org, ProjectID: proj}
	queries := make([][]float32, 20)
	for i := range queries {
		queries[i] = unit(r)
	}

	b.Run("Neo4jExact", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			_, err := s.Search(ctx, scope, queries[i%len(queries)], 6)
			require.NoError(b, err)
		}
	})
	b.Run("Neo4jANN", func(b *testing.B) {
		found, want := 0, 0
		for i := 0; b.Loop(); i++ {
			q := queries[i%len(queries)]
			ann, err := s.SearchANN(ctx, scope, q, 6, 600)
			require.NoError(b, err)
			exact, err := s.Search(ctx, scope, q, 6)
			require.NoError(b, err)
			ids := map[string]bool{}
			for _, h := range exact {
				ids[h.ChunkID] = true
			}
			for _, h := range ann {
				if ids[h.ChunkID] {
					found++
				}
			}
			want += len(exact)
		}
		b.ReportMetric(float64(found)/float64(want), "recall")
	})
	b.Run("PostgresExact", func(b *testing.B) {
		pool, err := pgxpool.New(ctx, testenv.Database(b))
		require.NoError(b, err)
		defer pool.Close()
		_, err = pool.Exec(ctx, `CREATE TABLE chunks (org_id uuid, project_id uuid, id uuid, embedding float4[]);
			CREATE INDEX ON chunks (org_id, project_id)`)
		require.NoError(b, err)
		rows := make([][]any, 0, project+others)
		for _, c := range mine {
			rows = append(rows, []any{org, proj, c.ID, c.Embedding})
		}
		for _, c := range rest {
			rows = append(rows, []any{uuid.NewString(), c.ProjectID, c.ID, c.Embedding})
		}
		_, err = pool.CopyFrom(ctx, pgx.Identifier{"chunks"}, []string{"org_id", "project_id", "id", "embedding"}, pgx.CopyFromRows(rows))
		require.NoError(b, err)
		_, err = pool.Exec(ctx, "ANALYZE chunks")
		require.NoError(b, err)
		for i := 0; b.Loop(); i++ {
			rs, err := pool.Query(ctx, `SELECT id::text FROM chunks c WHERE org_id = $1 AND project_id = $2
				ORDER BY (SELECT sum(a * b) FROM unnest(c.embedding, $3::float4[]) AS t(a, b)) DESC LIMIT 6`, org, proj, queries[i%len(queries)])
			require.NoError(b, err)
			ids, err := pgx.CollectRows(rs, pgx.RowTo[string])
			require.NoError(b, err)
			require.Len(b, ids, 6)
		}
	})
}
