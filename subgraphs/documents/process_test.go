package documents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/events"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/documents"
	"github.com/studio-platform/studio/subgraphs/documents/graph"
	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/documents/pdfgen"
	"github.com/studio-platform/studio/subgraphs/documents/process"
	"github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/internal/eventtest"
	"github.com/studio-platform/studio/subgraphs/internal/gqltest"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// startProcessing runs the subgraph with workers (workers < 0: none) on a
// queue of the test's own.
func startProcessing(t *testing.T, workers int, pcfg process.Config) *env {
	t.Helper()
	pcfg.Queue = "t" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	return startWith(t, documents.Config{Workers: workers, Processing: pcfg})
}

// progressOf collects the progress messages of every job.
type progressOf struct {
	mu   sync.Mutex
	msgs []process.Progress
	on   func(process.Progress)
}

func subscribeProgress(t *testing.T, natsURL string, on func(process.Progress)) *progressOf {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	p := &progressOf{on: on}
	_, err = nc.Subscribe(process.ProgressRoot+".>", func(m *nats.Msg) {
		var pr process.Progress
		if json.Unmarshal(m.Data, &pr) != nil {
			return
		}
		p.mu.Lock()
		p.msgs = append(p.msgs, pr)
		p.mu.Unlock()
		if p.on != nil {
			p.on(pr)
		}
	})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	return p
}

func (p *progressOf) of(doc string) []process.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []process.Progress
	for _, m := range p.msgs {
		if m.DocumentID == doc {
			out = append(out, m)
		}
	}
	return out
}

// waitJob polls the document's latest job until it is in state.
func (e *env) waitJob(t *testing.T, org, docID string, state model.JobState) *model.ProcessingJob {
	t.Helper()
	var job *model.ProcessingJob
	require.Eventually(t, func() bool {
		conns, err := e.svc.Store().JobsByDocumentIDs(context.Background(), org, []kit.PageKey{{ID: docID, Page: kit.Page{Limit: 1}}})
		require.NoError(t, err)
		if len(conns[0].Nodes) == 0 {
			return false
		}
		job = conns[0].Nodes[0]
		return job.State == state
	}, 60*time.Second, 20*time.Millisecond, "job of %s never %s (last: %+v)", docID, state, job)
	return job
}

func uploadBytes(t *testing.T, e *env, tok, name string, body []byte) document {
	t.Helper()
	var out struct {
		UploadDocument document `json:"uploadDocument"`
	}
	gqltest.Upload(t, e.url, tok, uploadMutation, map[string]any{"projectId": uuid.NewString()}, name, bytes.NewReader(body)).Decode(t, &out)
	return out.UploadDocument
}

func TestProcessingChunksText(t *testing.T) {
	e := startProcessing(t, 1, process.Config{ChunkSize: 200, Overlap: 40})
	prog := subscribeProgress(t, e.natsURL, nil)
	org := uuid.NewString()
	tok := e.token(t, org, uuid.NewString())
	ctx := context.Background()

	var md strings.Builder
	md.WriteString("# Access control policy\n\n")
	for i := range 12 {
		md.WriteString("Section " + string(rune('A'+i)) + ": access to production systems is granted by ticket and reviewed every quarter. ")
	}
	d := uploadBytes(t, e, tok, "policy.md", []byte(md.String()))
	job := e.waitJob(t, org, d.ID, model.JobStateSucceeded)
	require.Equal(t, 100, job.Progress)
	chunks, err := e.svc.Store().Chunks(ctx, org, d.ID, 100)
	require.NoError(t, err)
	require.Greater(t, len(chunks), 5)
	for i, c := range chunks {
		require.Equal(t, i, c.Position)
		require.LessOrEqual(t, len([]rune(c.Content)), 200)
	}
	require.True(t, strings.HasPrefix(chunks[0].Content, "# Access control policy"))
	require.Contains(t, chunks[len(chunks)-1].Content, "Section L")
	docs, err := e.svc.Store().DocumentsByIDs(ctx, org, []string{d.ID})
	require.NoError(t, err)
	require.Equal(t, model.DocumentStatusProcessed, docs[0].Status)

	// The hand-off to ai: document.processed with the chunk ids.
	ev, _ := eventtest.Wait(t, e.natsURL, store.SubjectDocumentProcessed, 30*time.Second,
		func(ev store.ProcessedEvent) bool { return ev.ID == d.ID })
	require.Len(t, ev.ChunkIDs, len(chunks))
	require.Equal(t, chunks[0].ID, ev.ChunkIDs[0])

	// Progress went 0 → 100, ending SUCCEEDED.
	require.Eventually(t, func() bool {
		ps := prog.of(d.ID)
		return len(ps) > 0 && ps[len(ps)-1].State == string(model.JobStateSucceeded)
	}, 10*time.Second, 10*time.Millisecond)
	ps := prog.of(d.ID)
	require.Equal(t, 0, ps[0].Progress)
	require.Equal(t, 100, ps[len(ps)-1].Progress)
	for i := 1; i < len(ps); i++ {
		require.GreaterOrEqual(t, ps[i].Progress, ps[i-1].Progress)
	}

	// HTML: text without markup or scripts.
	h := uploadBytes(t, e, tok, "backups.html", []byte(`<!doctype html><html><head><title>Backups</title><style>p{color:red}</style>
		<script>var secret = 1;</script></head><body><h1>Backup policy</h1><p>Backups run <b>nightly</b> and are restored monthly.</p></body></html>`))
	e.waitJob(t, org, h.ID, model.JobStateSucceeded)
	chunks, err = e.svc.Store().Chunks(ctx, org, h.ID, 10)
	require.NoError(t, err)
	require.Len(t, chunks, 1)
	require.Contains(t, chunks[0].Content, "Backup policy")
	require.Contains(t, chunks[0].Content, "Backups run nightly and are restored monthly.")
	require.NotContains(t, chunks[0].Content, "secret")
	require.NotContains(t, chunks[0].Content, "color")

	// Re-run: a new job, the chunks replaced (not duplicated).
	var re struct {
		ReprocessDocument struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"reprocessDocument"`
	}
	postOK(t, e, tok, `mutation($id: ID!) { reprocessDocument(id: $id) { id state } }`, map[string]any{"id": h.ID}, &re)
	require.Equal(t, "QUEUED", re.ReprocessDocument.State)
	require.Eventually(t, func() bool {
		jobs, err := e.svc.Store().JobsByIDs(ctx, org, []string{re.ReprocessDocument.ID})
		require.NoError(t, err)
		return jobs[0] != nil && jobs[0].State == model.JobStateSucceeded
	}, 60*time.Second, 20*time.Millisecond)
	again, err := e.svc.Store().Chunks(ctx, org, h.ID, 10)
	require.NoError(t, err)
	require.Len(t, again, 1)
	require.Equal(t, chunks[0].Content, again[0].Content)
}

// TestWorkerKilledMidJob: the worker holding a job dies (its context is
// cancelled after the job's first progress event); the queue redelivers the
// job after the ack wait and another worker finishes it.
func TestWorkerKilledMidJob(t *testing.T) {
	pcfg := process.Config{AckWait: 2 * time.Second, Heartbeat: 500 * time.Millisecond}
	e := startProcessing(t, -1, pcfg) // no worker in the service: the test runs them
	org := uuid.NewString()
	tok := e.token(t, org, uuid.NewString())

	js := jetStream(t, e.natsURL)
	dying, kill := context.WithCancel(context.Background())
	defer kill()
	subscribeProgress(t, e.natsURL, func(p process.Progress) {
		if p.State == string(model.JobStateRunning) {
			kill()
		}
	})
	first := pcfg
	first.Queue = e.queue
	first.BeforeExtract = func(ctx context.Context, _ string) error { <-ctx.Done(); return ctx.Err() } // a long job
	w1 := process.New(e.svc.Store(), e.svc.Bucket(), js, first)
	done1 := make(chan error, 1)
	go func() { done1 <- w1.Run(dying) }()

	d := uploadBytes(t, e, tok, "notes.txt", []byte("Incident response: page the on-call engineer within five minutes."))
	select {
	case err := <-done1:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("the first worker was never killed")
	}
	jobs, err := e.svc.Store().JobsByDocumentIDs(context.Background(), org, []kit.PageKey{{ID: d.ID, Page: kit.Page{Limit: 1}}})
	require.NoError(t, err)
	require.Equal(t, model.JobStateRunning, jobs[0].Nodes[0].State, "left running by the dead worker")

	second := pcfg
	second.Queue = e.queue
	w2 := process.New(e.svc.Store(), e.svc.Bucket(), js, second)
	ctx, cancel := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- w2.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done2 })
	job := e.waitJob(t, org, d.ID, model.JobStateSucceeded)
	require.Equal(t, 2, job.Attempts)
	chunks, err := e.svc.Store().Chunks(context.Background(), org, d.ID, 10)
	require.NoError(t, err)
	require.Len(t, chunks, 1)
	require.Contains(t, chunks[0].Content, "on-call engineer")
}

// TestPoisonDocument: a document whose stored bytes no longer match its
// recorded sha256 fails at once: job and document FAILED, the error visible
// through the API, the message on the dead-letter subject.
func TestPoisonDocument(t *testing.T) {
	e := startProcessing(t, -1, process.Config{})
	org := uuid.NewString()
	tok := e.token(t, org, uuid.NewString())
	d := uploadBytes(t, e, tok, "a.txt", []byte("the original text"))
	// Tamper with the object behind the row.
	_, err := e.svc.Bucket().Put(context.Background(), objects.Key(org, d.ID), strings.NewReader("tampered!"), -1, 1<<20,
		func([]byte) (string, error) { return objects.TypeText, nil })
	require.NoError(t, err)

	js := jetStream(t, e.natsURL)
	w := process.New(e.svc.Store(), e.svc.Bucket(), js, process.Config{Queue: e.queue})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	job := e.waitJob(t, org, d.ID, model.JobStateFailed)
	require.Equal(t, 1, job.Attempts, "poison is not retried")
	require.Contains(t, *job.Error, "hash")
	var out struct {
		Document struct {
			Status string `json:"status"`
			Jobs   struct {
				Nodes []struct {
					State string  `json:"state"`
					Error *string `json:"error"`
				} `json:"nodes"`
			} `json:"jobs"`
		} `json:"document"`
	}
	postOK(t, e, tok, `query($id: ID!) { document(id: $id) { status jobs { nodes { state error } } } }`, map[string]any{"id": d.ID}, &out)
	require.Equal(t, "FAILED", out.Document.Status)
	require.Equal(t, "FAILED", out.Document.Jobs.Nodes[0].State)
	require.Contains(t, *out.Document.Jobs.Nodes[0].Error, "hash")

	// The dead letter, with its reason.
	names := process.QueueNames(e.queue)
	stream, err := js.Stream(context.Background(), events.DefaultStream)
	require.NoError(t, err)
	cons, err := stream.OrderedConsumer(context.Background(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{names.DeadLetters}})
	require.NoError(t, err)
	msg, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
	require.NoError(t, err)
	var jm store.JobEvent
	require.NoError(t, json.Unmarshal(msg.Data(), &jm))
	require.Equal(t, job.ID, jm.ID)
	require.Contains(t, msg.Headers().Get(events.HeaderDeadReason), "hash")
	require.Equal(t, org, msg.Headers().Get(events.HeaderOrganization))
}

func jetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

func TestSplit(t *testing.T) {
	require.Empty(t, process.Split("   ", 10, 2))
	text := strings.Repeat("word ", 100) // 500 characters
	cs := process.Split(text, 100, 20)
	require.Greater(t, len(cs), 5)
	for i, c := range cs {
		require.Equal(t, i, c.Position)
		require.LessOrEqual(t, len(c.Content), 100)
		if i > 0 {
			require.Less(t, c.StartChar, cs[i-1].StartChar+100, "overlap")
		}
	}
	require.Len(t, process.Split("é"+strings.Repeat("x", 9), 10, 0), 1, "characters, not bytes")
	_ = graph.Limits{}
	_ = testenv.Stack
}

// TestProcessingExtractsPDF: a multi-page PDF written in the test (fpdf) is
// processed into chunks holding every page's text in order; a file that only
// looks like a PDF fails as poison.
func TestProcessingExtractsPDF(t *testing.T) {
	e := startProcessing(t, 1, process.Config{ChunkSize: 400, Overlap: 80})
	org := uuid.NewString()
	tok := e.token(t, org, uuid.NewString())
	ctx := context.Background()

	doc := pdfgen.Doc{Title: "Information security policy"}
	for p := 1; p <= 3; p++ {
		doc.Pages = append(doc.Pages, append([]string{fmt.Sprintf("Marker of page %d.", p)}, pdfgen.Paragraphs("access control", p, 4)...))
	}
	var buf bytes.Buffer
	require.NoError(t, pdfgen.Write(&buf, doc))
	d := uploadBytes(t, e, tok, "security.pdf", buf.Bytes())
	require.Equal(t, objects.TypePDF, d.ContentType)
	e.waitJob(t, org, d.ID, model.JobStateSucceeded)
	chunks, err := e.svc.Store().Chunks(ctx, org, d.ID, 100)
	require.NoError(t, err)
	require.Greater(t, len(chunks), 2)
	var all []string
	for _, c := range chunks {
		all = append(all, strings.Join(strings.Fields(c.Content), " "))
	}
	text := strings.Join(all, " ")
	require.True(t, strings.HasPrefix(text, "Information security policy Marker of page 1."), text[:80])
	last := -1
	for p := 1; p <= 3; p++ {
		i := strings.Index(text, fmt.Sprintf("Marker of page %d.", p))
		require.Greater(t, i, last, "page %d in order", p)
		last = i
		require.Contains(t, text, fmt.Sprintf("%d.4 Access control: the owner reviews access control every quarter", p))
	}

	bad := uploadBytes(t, e, tok, "broken.pdf", []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"))
	job := e.waitJob(t, org, bad.ID, model.JobStateFailed)
	require.Equal(t, 1, job.Attempts, "poison is not retried")
	require.Contains(t, *job.Error, "PDF")
}
