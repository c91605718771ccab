package documents_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/documents"
	"github.com/studio-platform/studio/subgraphs/documents/graph"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/internal/eventtest"
	"github.com/studio-platform/studio/subgraphs/internal/gqltest"
	"github.com/studio-platform/studio/subgraphs/kit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type env struct {
	queue   string
	url     string
	svc     *documents.Service
	signer  *auth.Signer
	natsURL string
	db      string
}

func start(t *testing.T, limits graph.Limits) *env {
	t.Helper()
	return startWith(t, documents.Config{Limits: limits, Workers: -1})
}

// startWith runs the subgraph with cfg (database, bucket and verifier filled in).
func startWith(t *testing.T, cfg documents.Config) *env {
	t.Helper()
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	signer := auth.NewSigner("test", key, "studio-test")
	db := testenv.Database(t)
	s3 := testenv.Bucket(t)
	nats := testenv.Stack(t).NatsURL
	cfg.DatabaseURL = db
	cfg.SkipGenerated = true // other packages' tests' ai drafts are on the shared NATS
	cfg.S3 = objects.Config{URL: s3.URL, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket}
	if cfg.Processing.Queue == "" {
		cfg.Processing.Queue = "t" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	}
	svc, err := documents.New(ctx, cfg, kit.WithVerifier(signer), kit.WithEvents(kit.Events{NatsURL: nats}))
	require.NoError(t, err)
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return &env{queue: cfg.Processing.Queue, url: srv.URL + "/graphql", svc: svc, signer: signer, natsURL: nats, db: db}
}

// token signs an access token for a user of org.
func (e *env) token(t *testing.T, org, user string) string {
	t.Helper()
	tok, err := e.signer.Sign(auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: user, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		OrgID:            org,
	})
	require.NoError(t, err)
	return tok
}

const uploadMutation = `mutation($in: UploadDocumentInput!) {
  uploadDocument(input: $in) { id filename contentType size sha256 status project { id } evidence { id } uploadedBy { id }
    jobs { nodes { id state progress } } }
}`

type document struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	Sha256      string `json:"sha256"`
	Status      string `json:"status"`
	Project     struct {
		ID string `json:"id"`
	} `json:"project"`
	Evidence *struct {
		ID string `json:"id"`
	} `json:"evidence"`
	UploadedBy struct {
		ID string `json:"id"`
	} `json:"uploadedBy"`
	Jobs struct {
		Nodes []struct {
			ID       string `json:"id"`
			State    string `json:"state"`
			Progress int    `json:"progress"`
		} `json:"nodes"`
	} `json:"jobs"`
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// requireNothingLeft asserts org has no document, pending upload or object.
func (e *env) requireNothingLeft(t *testing.T, org string) {
	t.Helper()
	docs, pending, err := e.svc.Store().Counts(context.Background(), org)
	require.NoError(t, err)
	require.Zero(t, docs, "documents rows")
	require.Zero(t, pending, "pending_uploads rows")
	keys, err := e.svc.Bucket().Keys(context.Background(), "", 10)
	require.NoError(t, err)
	require.Empty(t, keys, "objects in the bucket")
}

func reason(t *testing.T, r gqltest.Response) (code, reason string) {
	t.Helper()
	require.Len(t, r.Errors, 1, "errors: %+v", r.Errors)
	rs, _ := r.Errors[0].Extensions["reason"].(string)
	return r.Errors[0].Code(), rs
}

func TestUploadMultipart(t *testing.T) {
	e := start(t, graph.Limits{})
	org, user, project, evidence := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	tok := e.token(t, org, user)
	body := []byte("# Access policy\n\nEvery access to production is reviewed quarterly.\n")

	var out struct {
		UploadDocument document `json:"uploadDocument"`
	}
	gqltest.Upload(t, e.url, tok, uploadMutation, map[string]any{"projectId": project, "evidenceId": evidence},
		"dir/access.md", bytes.NewReader(body)).Decode(t, &out)
	d := out.UploadDocument
	require.Equal(t, "access.md", d.Filename, "path stripped")
	require.Equal(t, objects.TypeMarkdown, d.ContentType)
	require.Equal(t, int64(len(body)), d.Size)
	require.Equal(t, sum(body), d.Sha256)
	require.Equal(t, "UPLOADED", d.Status)
	require.Equal(t, project, d.Project.ID)
	require.Equal(t, evidence, d.Evidence.ID)
	require.Equal(t, user, d.UploadedBy.ID)
	require.Len(t, d.Jobs.Nodes, 1)
	require.Equal(t, "QUEUED", d.Jobs.Nodes[0].State)

	// The bytes are in the bucket, under the organization.
	rc, err := e.svc.Bucket().Open(context.Background(), objects.Key(org, d.ID))
	require.NoError(t, err)
	stored, err := io.ReadAll(rc)
	require.NoError(t, err)
	rc.Close()
	require.Equal(t, body, stored)

	// The event went through the outbox to NATS.
	ev, evOrg := eventtest.Wait(t, e.natsURL, store.SubjectDocumentUploaded, 20*time.Second,
		func(ev store.DocumentEvent) bool { return ev.ID == d.ID })
	require.Equal(t, org, evOrg)
	require.Equal(t, d.Sha256, ev.SHA256)

	// Project.documents and Evidence.documents (entities), and document(id).
	var ents struct {
		Entities []struct {
			Documents struct {
				TotalCount int `json:"totalCount"`
				Nodes      []struct {
					ID string `json:"id"`
				} `json:"nodes"`
			} `json:"documents"`
		} `json:"_entities"`
	}
	q := `query($r: [_Any!]!) { _entities(representations: $r) {
		... on Project { documents { totalCount nodes { id } } } ... on Evidence { documents { totalCount nodes { id } } } } }`
	reps := []map[string]any{{"__typename": "Project", "id": project}, {"__typename": "Evidence", "id": evidence}}
	gqltest.Post(t, e.url, tok, q, map[string]any{"r": reps}).Decode(t, &ents)
	for _, ent := range ents.Entities {
		require.Equal(t, 1, ent.Documents.TotalCount)
		require.Equal(t, d.ID, ent.Documents.Nodes[0].ID)
	}

	// Another organization sees nothing.
	other := e.token(t, uuid.NewString(), uuid.NewString())
	gqltest.Post(t, e.url, other, q, map[string]any{"r": reps}).Decode(t, &ents)
	for _, ent := range ents.Entities {
		require.Zero(t, ent.Documents.TotalCount)
	}
	var one struct {
		Document *document `json:"document"`
	}
	gqltest.Post(t, e.url, other, `query($id: ID!) { document(id: $id) { id } }`, map[string]any{"id": d.ID}).Decode(t, &one)
	require.Nil(t, one.Document)
	gqltest.Post(t, e.url, tok, `query($id: ID!) { document(id: $id) { id } }`, map[string]any{"id": d.ID}).Decode(t, &one)
	require.Equal(t, d.ID, one.Document.ID)
	r := gqltest.Post(t, e.url, other, `mutation($id: ID!) { reprocessDocument(id: $id) { id } }`, map[string]any{"id": d.ID})
	require.Equal(t, []string{kit.CodeNotFound}, r.Codes())

	// Without a token: nothing stored.
	r = gqltest.Upload(t, e.url, "", uploadMutation, map[string]any{"projectId": project}, "a.txt", strings.NewReader("hello"))
	require.Equal(t, []string{kit.CodeUnauthenticated}, r.Codes())
}

func TestUploadRefusals(t *testing.T) {
	const limit = 64 << 10
	e := start(t, graph.Limits{MaxBytes: limit})
	org := uuid.NewString()
	tok := e.token(t, org, uuid.NewString())
	project := uuid.NewString()
	for _, tc := range []struct {
		name, filename string
		body           []byte
		reason         string
	}{
		{"oversized", "big.txt", bytes.Repeat([]byte("a"), limit+1), graph.ReasonTooLarge},
		{"zip", "policy.pdf", append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0}, 100)...), graph.ReasonUnsupportedType},
		{"binary named text", "notes.txt", []byte{0, 1, 2, 3, 0xff, 0xfe, 7, 8}, graph.ReasonUnsupportedType},
		{"latin-1 text", "notes.txt", []byte("caf\xe9 cr\xe8me"), graph.ReasonUnsupportedType},
		{"empty", "empty.txt", nil, graph.ReasonEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gqltest.Upload(t, e.url, tok, uploadMutation, map[string]any{"projectId": project}, tc.filename, bytes.NewReader(tc.body))
			code, rs := reason(t, r)
			require.Equal(t, kit.CodeBadUserInput, code, "%+v", r.Errors)
			require.Equal(t, tc.reason, rs, "%+v", r.Errors)
			e.requireNothingLeft(t, org)
		})
	}
	// Bad ids: every problem at once.
	r := gqltest.Upload(t, e.url, tok, uploadMutation, map[string]any{"projectId": "nope", "evidenceId": strings.Repeat("x", 100)}, "a.txt", strings.NewReader("hi"))
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
	require.Contains(t, r.Errors[0].Message, "projectId")
	require.Contains(t, r.Errors[0].Message, "evidenceId")
	e.requireNothingLeft(t, org)
}

// TestUploadDatabaseRefuses: the object is written first; when PostgreSQL
// refuses the row, the object is removed.
func TestUploadDatabaseRefuses(t *testing.T) {
	e := start(t, graph.Limits{})
	org := uuid.NewString()
	tok := e.token(t, org, uuid.NewString())
	_, err := e.svc.DB().Pool().Exec(context.Background(), `
		CREATE FUNCTION refuse_document() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused by test'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON documents FOR EACH ROW EXECUTE FUNCTION refuse_document();`)
	require.NoError(t, err)
	r := gqltest.Upload(t, e.url, tok, uploadMutation, map[string]any{"projectId": uuid.NewString()}, "a.txt", strings.NewReader("hello"))
	require.Equal(t, []string{kit.CodeInternal}, r.Codes())
	e.requireNothingLeft(t, org)

	// The presigned path too: the object PUT, completeUpload refused by the database.
	ticket := requestUpload(t, e, tok, "b.txt", 5)
	put(t, ticket.URL, []byte("hello"))
	r = gqltest.Post(t, e.url, tok, completeMutation, map[string]any{"id": ticket.DocumentID})
	require.Equal(t, []string{kit.CodeInternal}, r.Codes())
	e.requireNothingLeft(t, org)
}

type ticket struct {
	DocumentID string `json:"documentId"`
	URL        string `json:"url"`
}

const completeMutation = `mutation($id: ID!) { completeUpload(documentId: $id) { id filename contentType size sha256 status } }`

func requestUpload(t *testing.T, e *env, tok, filename string, size int) ticket {
	t.Helper()
	var out struct {
		RequestUpload ticket `json:"requestUpload"`
	}
	gqltest.Post(t, e.url, tok, `mutation($in: RequestUploadInput!) { requestUpload(input: $in) { documentId url expiresAt } }`,
		map[string]any{"in": map[string]any{"filename": filename, "size": size, "projectId": uuid.NewString()}}).Decode(t, &out)
	return out.RequestUpload
}

func put(t *testing.T, url string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "PUT: %s", raw)
}

func TestPresignedUpload(t *testing.T) {
	e := start(t, graph.Limits{MaxBytes: 1 << 20})
	org := uuid.NewString()
	tok := e.token(t, org, uuid.NewString())
	body := []byte("<!doctype html><html><body><h1>Backups</h1><p>Nightly.</p></body></html>")

	tk := requestUpload(t, e, tok, "backups.html", len(body))
	// Completing before the PUT: nothing there yet, and the ticket stays valid.
	code, rs := reason(t, gqltest.Post(t, e.url, tok, completeMutation, map[string]any{"id": tk.DocumentID}))
	require.Equal(t, kit.CodeBadUserInput, code)
	require.Equal(t, graph.ReasonNotUploaded, rs)
	put(t, tk.URL, body)
	// Another organization cannot complete it.
	other := e.token(t, uuid.NewString(), uuid.NewString())
	require.Equal(t, []string{kit.CodeNotFound}, gqltest.Post(t, e.url, other, completeMutation, map[string]any{"id": tk.DocumentID}).Codes())
	var out struct {
		CompleteUpload document `json:"completeUpload"`
	}
	gqltest.Post(t, e.url, tok, completeMutation, map[string]any{"id": tk.DocumentID}).Decode(t, &out)
	require.Equal(t, tk.DocumentID, out.CompleteUpload.ID)
	require.Equal(t, objects.TypeHTML, out.CompleteUpload.ContentType)
	require.Equal(t, sum(body), out.CompleteUpload.Sha256)
	require.Equal(t, int64(len(body)), out.CompleteUpload.Size)
	// Completed once only.
	require.Equal(t, []string{kit.CodeNotFound}, gqltest.Post(t, e.url, tok, completeMutation, map[string]any{"id": tk.DocumentID}).Codes())

	// Refusals delete the object and the pending upload.
	org2 := uuid.NewString()
	tok2 := e.token(t, org2, uuid.NewString())
	for _, tc := range []struct {
		name     string
		announce int
		body     []byte
		reason   string
	}{
		{"more than announced", 4, []byte("hello world"), graph.ReasonSizeMismatch},
		{"disallowed type", 8, []byte("\x7fELF\x02\x01\x01\x00"), graph.ReasonUnsupportedType},
		{"over the limit", 1 << 20, bytes.Repeat([]byte("x"), 1<<20+1), graph.ReasonTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := requestUpload(t, e, tok2, "f.txt", tc.announce)
			put(t, tk.URL, tc.body)
			code, rs := reason(t, gqltest.Post(t, e.url, tok2, completeMutation, map[string]any{"id": tk.DocumentID}))
			require.Equal(t, kit.CodeBadUserInput, code)
			require.Equal(t, tc.reason, rs)
			docs, pending, err := e.svc.Store().Counts(context.Background(), org2)
			require.NoError(t, err)
			require.Zero(t, docs)
			require.Zero(t, pending)
			keys, err := e.svc.Bucket().Keys(context.Background(), objects.Key(org2, ""), 10)
			require.NoError(t, err)
			require.Empty(t, keys)
		})
	}
	// Announcing too much is refused up front.
	r := gqltest.Post(t, e.url, tok2, `mutation($in: RequestUploadInput!) { requestUpload(input: $in) { documentId } }`,
		map[string]any{"in": map[string]any{"filename": "x.pdf", "size": 1<<20 + 1, "projectId": uuid.NewString()}})
	code, rs = reason(t, r)
	require.Equal(t, kit.CodeBadUserInput, code)
	require.Equal(t, graph.ReasonTooLarge, rs)
}

// TestPutStreamsWithLimit: a write of unknown length past the limit fails
// mid-stream and leaves nothing; the hash is computed while streaming.
func TestPutStreamsWithLimit(t *testing.T) {
	s3 := testenv.Bucket(t)
	ctx := context.Background()
	b, err := objects.Open(ctx, objects.Config{URL: s3.URL, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket})
	require.NoError(t, err)
	text := func([]byte) (string, error) { return objects.TypeText, nil }
	big := io.LimitReader(repeatReader('z'), 3*objects.PartSize) // multipart: three parts' worth
	_, err = b.Put(ctx, "k/over", big, -1, 2*objects.PartSize+10, text)
	require.ErrorIs(t, err, objects.ErrTooLarge)
	keys, err := b.Keys(ctx, "", 10)
	require.NoError(t, err)
	require.Empty(t, keys)

	w, err := b.Put(ctx, "k/ok", io.LimitReader(repeatReader('z'), objects.PartSize+5), -1, 2*objects.PartSize, text)
	require.NoError(t, err)
	require.Equal(t, int64(objects.PartSize+5), w.Size)
	require.Equal(t, sum(bytes.Repeat([]byte("z"), objects.PartSize+5)), w.SHA256)
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		head, name, want string
	}{
		{"%PDF-1.4\n%âãÏÓ\n", "x.bin", objects.TypePDF},
		{"hello", "notes.txt", objects.TypeText},
		{"hello", "README.md", objects.TypeMarkdown},
		{"# Title\n\ntext", "notes", objects.TypeMarkdown},
		{"<!DOCTYPE html><p>x", "a.txt", objects.TypeHTML},
		{"\x89PNG\r\n\x1a\n", "a.txt", objects.TypePNG},
		{"\xff\xd8\xff\xe0", "a.png", objects.TypeJPEG},
		{"PK\x03\x04", "a.pdf", "application/zip"},
		{"caf\xe9", "a.txt", "application/octet-stream"},
		{"h\xc3\xa9" + strings.Repeat("a", 508) + "\xc3", "a.txt", objects.TypeText}, // rune cut at the end of the head
	} {
		require.Equal(t, tc.want, objects.Sniff([]byte(tc.head), tc.name), fmt.Sprintf("%q", tc.head))
	}
}

func postOK(t *testing.T, e *env, tok, query string, vars map[string]any, out any) {
	t.Helper()
	gqltest.Post(t, e.url, tok, query, vars).Decode(t, out)
}
