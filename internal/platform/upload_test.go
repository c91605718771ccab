package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/router/config"
	"github.com/studio-platform/studio/router/upload"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/documents/pdfgen"
)

// uploadLimit is the router's file limit in these tests (the documents
// subgraph's own is 200 MiB).
const uploadLimit = 6 << 20

// startUploads starts the platform with the router's CSRF prevention on and
// a file limit of uploadLimit.
func startUploads(t *testing.T) *graph {
	t.Helper()
	on := true
	p, err := platform.Start(context.Background(), testConfig(t), platform.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		platform.WithRouterConfig(func(c *router.Config) {
			c.Uploads = &upload.Limits{MaxFileBytes: uploadLimit, MaxFiles: 2}
			c.Edge.CSRF = config.CSRF{Enabled: &on, RequiredHeaders: []string{"apollo-require-preflight"}}
		}))
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return &graph{p: p}
}

// sandwich uploads two files with an identity mutation between them: three
// subgraph requests in sequence, documents, identity, documents.
func sandwich() map[string]any {
	return map[string]any{
		"query": `mutation($a: UploadDocumentInput!, $b: UploadDocumentInput!) {
			a: uploadDocument(input: $a) { filename } x: logout(refreshToken: "none") b: uploadDocument(input: $b) { filename } }`,
		"variables": map[string]any{"a": map[string]any{"projectId": demo.ProjectID, "file": nil}, "b": map[string]any{"projectId": demo.ProjectID, "file": nil}},
	}
}

// part is one file of a multipart request.
type part struct {
	key, filename string
	body          io.Reader
}

// multipartPost sends a GraphQL multipart request to the router, streaming
// the files from a pipe (the client holds no copy), and returns the status
// and the decoded body.
func multipartPost(t testing.TB, url string, header http.Header, operations any, fileMap map[string][]string, files ...part) (int, gqlResponse) {
	t.Helper()
	ops, err := json.Marshal(operations)
	require.NoError(t, err)
	m, err := json.Marshal(fileMap)
	require.NoError(t, err)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("operations", string(ops))
		if err == nil {
			err = mw.WriteField("map", string(m))
		}
		for _, f := range files {
			if err != nil {
				break
			}
			var w io.Writer
			if w, err = mw.CreateFormFile(f.key, f.filename); err == nil {
				_, err = io.Copy(w, f.body)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", pr)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = pr.CloseWithError(io.ErrClosedPipe) // the writer stops if the router answered early
	var out gqlResponse
	require.NoError(t, json.Unmarshal(raw, &out), "status %d: %s", resp.StatusCode, raw)
	return resp.StatusCode, out
}

const uploadDocumentMutation = `mutation Upload($in: UploadDocumentInput!) {
  uploadDocument(input: $in) { id filename contentType size sha256 status project { id } uploadedBy { email } }
}`

func uploadOperations(input map[string]any) map[string]any {
	input["file"] = nil
	return map[string]any{"query": uploadDocumentMutation, "operationName": "Upload", "variables": map[string]any{"in": input}}
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func errCode(r gqlResponse) string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// stored is what the demo organization has in PostgreSQL and MinIO.
type stored struct {
	docs, pending int
	keys          []string
}

func storedNow(t *testing.T, g *graph) stored {
	t.Helper()
	var s stored
	var err error
	s.docs, s.pending, err = g.p.Documents.Store().Counts(context.Background(), demo.OrgID)
	require.NoError(t, err)
	s.keys, err = g.p.Documents.Bucket().Keys(context.Background(), "", 100)
	require.NoError(t, err)
	return s
}

// requireNothingNew asserts that no document row, pending upload or object
// was added since before.
func requireNothingNew(t *testing.T, g *graph, before stored) {
	t.Helper()
	require.Equal(t, before, storedNow(t, g), "rows and objects")
}

// TestUploadThroughRouter: GraphQL multipart requests through the real
// router to the real documents subgraph, MinIO and PostgreSQL: a file is
// streamed and stored; an oversized file (the router's limit) gets 413, a
// disallowed one the subgraph's BAD_USER_INPUT, and neither leaves anything;
// uploads are refused outside mutations, past the file count, when not
// streamable, and without the CSRF header or a token.
func TestUploadThroughRouter(t *testing.T) {
	g := startUploads(t)
	tok := g.login(t, demo.DemoUser.Email)
	url := g.p.RouterURL
	in := func() map[string]any { return map[string]any{"projectId": demo.ProjectID} }
	one := map[string][]string{"0": {"variables.in.file"}}

	before := storedNow(t, g) // the demo's policy document
	require.Len(t, before.keys, 1)
	t.Run("disallowed type leaves nothing", func(t *testing.T) {
		status, r := multipartPost(t, url, bearer(tok), uploadOperations(in()), one,
			part{"0", "tool.exe", bytes.NewReader(append([]byte("MZ\x90\x00"), bytes.Repeat([]byte{0}, 4096)...))})
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "BAD_USER_INPUT", errCode(r), "%+v", r.Errors)
		require.Equal(t, "UNSUPPORTED_TYPE", r.Errors[0].Extensions["reason"])
		requireNothingNew(t, g, before)
	})

	t.Run("oversized file: 413, nothing left", func(t *testing.T) {
		status, r := multipartPost(t, url, bearer(tok), uploadOperations(in()), one,
			part{"0", "big.txt", io.LimitReader(repeat('a'), uploadLimit+1)})
		require.Equal(t, http.StatusRequestEntityTooLarge, status, "%+v", r.Errors)
		require.Equal(t, upload.CodeTooLarge, errCode(r))
		require.Nil(t, r.Data)
		requireNothingNew(t, g, before)
	})

	t.Run("stored through the router", func(t *testing.T) {
		body := "# Access policy\n\nProduction access is reviewed every quarter.\n"
		status, r := multipartPost(t, url, bearer(tok), uploadOperations(in()), one, part{"0", "access.md", strings.NewReader(body)})
		require.Equal(t, http.StatusOK, status)
		require.Empty(t, r.Errors)
		var d struct {
			ID, Filename, ContentType, Status string
			Size                              int
			Project                           struct{ ID string }
			UploadedBy                        struct{ Email string }
		}
		require.NoError(t, json.Unmarshal(r.Data["uploadDocument"], &d))
		require.Equal(t, "access.md", d.Filename)
		require.Equal(t, "text/markdown", d.ContentType)
		require.Equal(t, len(body), d.Size)
		require.Equal(t, demo.ProjectID, d.Project.ID)
		require.Equal(t, demo.DemoUser.Email, d.UploadedBy.Email, "joined from identity by the router")
		rc, err := g.p.Documents.Bucket().Open(context.Background(), demo.OrgID+"/"+d.ID)
		require.NoError(t, err)
		stored, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		require.Equal(t, body, string(stored))
	})

	t.Run("refusals before anything runs", func(t *testing.T) {
		before := storedNow(t, g)
		small := func() part { return part{"0", "a.txt", strings.NewReader("hello")} }
		for _, tc := range []struct {
			name   string
			header http.Header
			ops    any
			m      map[string][]string
			files  []part
			status int
			code   string
		}{
			{"query", bearer(tok), map[string]any{"query": `{ __typename }`, "variables": map[string]any{"f": nil}},
				map[string][]string{"0": {"variables.f"}}, []part{small()}, http.StatusBadRequest, upload.CodeNotMutation},
			{"too many files", bearer(tok), uploadOperations(in()),
				map[string][]string{"0": {"variables.in.file"}, "1": {"variables.x"}, "2": {"variables.y"}}, []part{small()}, http.StatusBadRequest, upload.CodeTooManyFiles},
			{"path to nothing", bearer(tok), uploadOperations(in()), map[string][]string{"0": {"variables.in.nope"}}, []part{small()}, http.StatusBadRequest, upload.CodeInvalid},
			{"batched", bearer(tok), uploadOperations(in()), map[string][]string{"0": {"0.variables.in.file"}}, []part{small()}, http.StatusBadRequest, upload.CodeInvalid},
			{"one file to two subgraph requests", bearer(tok), sandwich(), map[string][]string{"0": {"variables.a.file", "variables.b.file"}},
				[]part{small()}, http.StatusBadRequest, upload.CodeCannotStream},
			{"files out of the plan's order", bearer(tok), sandwich(), map[string][]string{"0": {"variables.b.file"}, "1": {"variables.a.file"}},
				[]part{small(), {"1", "b.txt", strings.NewReader("b")}}, http.StatusBadRequest, upload.CodeCannotStream},
			{"no CSRF header, no token", nil, uploadOperations(in()), one, []part{small()}, http.StatusBadRequest, "CSRF_ERROR"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, r := multipartPost(t, url, tc.header, tc.ops, tc.m, tc.files...)
				require.Equal(t, tc.status, status, "%+v", r.Errors)
				require.Equal(t, tc.code, errCode(r), "%+v", r.Errors)
			})
		}
		requireNothingNew(t, g, before)

		// With the preflight header and no token, the request passes CSRF
		// prevention and reaches the subgraph, which wants a user.
		status, r := multipartPost(t, url, http.Header{"Apollo-Require-Preflight": {"true"}}, uploadOperations(in()), one, small())
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "UNAUTHENTICATED", errCode(r), "%+v", r.Errors)
	})

	t.Run("two files to two subgraph requests, in order", func(t *testing.T) {
		status, r := multipartPost(t, url, bearer(tok), sandwich(), map[string][]string{"0": {"variables.a.file"}, "1": {"variables.b.file"}},
			part{"0", "one.txt", strings.NewReader("first")}, part{"1", "two.txt", strings.NewReader("second")})
		require.Equal(t, http.StatusOK, status)
		require.JSONEq(t, `{"filename":"one.txt"}`, string(r.Data["a"]), "%+v", r.Errors)
		require.JSONEq(t, `{"filename":"two.txt"}`, string(r.Data["b"]), "%+v", r.Errors)
	})

	t.Run("two files in one subgraph request", func(t *testing.T) {
		ops := map[string]any{
			"query": `mutation($a: UploadDocumentInput!, $b: UploadDocumentInput!) { a: uploadDocument(input: $a) { filename } b: uploadDocument(input: $b) { filename } }`,
			"variables": map[string]any{"a": map[string]any{"projectId": demo.ProjectID, "file": nil},
				"b": map[string]any{"projectId": demo.ProjectID, "file": nil}}}
		status, r := multipartPost(t, url, bearer(tok), ops, map[string][]string{"x": {"variables.a.file"}, "y": {"variables.b.file"}},
			part{"x", "one.txt", strings.NewReader("first")}, part{"y", "two.txt", strings.NewReader("second")})
		require.Equal(t, http.StatusOK, status)
		require.Empty(t, r.Errors)
		require.JSONEq(t, `{"filename":"one.txt"}`, string(r.Data["a"]))
		require.JSONEq(t, `{"filename":"two.txt"}`, string(r.Data["b"]))
	})
}

// TestUploadedPDFIsProcessed is issue 10's acceptance: a 5 MB PDF (text
// pages and a scanned-like image, written in the test) uploaded through the
// router with the multipart spec ends as a PROCESSED document whose chunks
// hold its text.
func TestUploadedPDFIsProcessed(t *testing.T) {
	g := startUploads(t)
	tok := g.login(t, demo.DemoUser.Email)
	doc := pdfgen.Doc{Title: "Access control policy", PadBytes: 5_000_000}
	for p := 1; p <= 20; p++ {
		doc.Pages = append(doc.Pages, append([]string{fmt.Sprintf("Section %d of the access control policy.", p)}, pdfgen.Paragraphs("production access", p, 6)...))
	}
	var pdf bytes.Buffer
	require.NoError(t, pdfgen.Write(&pdf, doc))
	require.Greater(t, pdf.Len(), 5_000_000)
	require.Less(t, pdf.Len(), uploadLimit)

	status, r := multipartPost(t, g.p.RouterURL, bearer(tok), uploadOperations(map[string]any{"projectId": demo.ProjectID, "filename": "access-control.pdf"}),
		map[string][]string{"0": {"variables.in.file"}}, part{"0", "scan.pdf", bytes.NewReader(pdf.Bytes())})
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, r.Errors)
	var d struct{ ID, ContentType string }
	require.NoError(t, json.Unmarshal(r.Data["uploadDocument"], &d))
	require.Equal(t, "application/pdf", d.ContentType)

	var out struct {
		Document struct {
			Status string
			Jobs   struct{ Nodes []struct{ State string } }
		}
	}
	require.Eventually(t, func() bool {
		resp := g.post(t, tok, `query($id: ID!) { document(id: $id) { status jobs(first: 1) { nodes { state } } } }`, map[string]any{"id": d.ID})
		require.Empty(t, resp.Errors)
		require.NoError(t, json.Unmarshal(resp.Data["document"], &out.Document))
		return out.Document.Status == "PROCESSED" || out.Document.Status == "FAILED"
	}, 60*time.Second, 50*time.Millisecond)
	require.Equal(t, "PROCESSED", out.Document.Status, "%+v", out)
	chunks, err := g.p.Documents.Store().Chunks(context.Background(), demo.OrgID, d.ID, 500)
	require.NoError(t, err)
	require.Greater(t, len(chunks), 10)
	var text strings.Builder
	for _, c := range chunks {
		text.WriteString(strings.Join(strings.Fields(c.Content), " ") + " ")
	}
	for _, want := range []string{"Access control policy", "Section 1 of the access control policy.", "Section 20 of the access control policy.",
		"20.6 Production access: the owner reviews production access every quarter"} {
		require.Contains(t, text.String(), want)
	}
}

// TestDemoPolicyDocument: the seed's policy PDF is in the demo project,
// linked to its evidence, and processed by the worker into chunks.
func TestDemoPolicyDocument(t *testing.T) {
	g := startUploads(t)
	tok := g.login(t, demo.DemoUser.Email)
	q := `query($id: ID!) { project(id: $id) { documents { nodes { id filename contentType status evidence { id } } } } }`
	type doc struct {
		ID, Filename, ContentType, Status string
		Evidence                          struct{ ID string }
	}
	var out struct {
		Documents struct{ Nodes []doc }
	}
	require.Eventually(t, func() bool {
		resp := g.post(t, tok, q, map[string]any{"id": demo.ProjectID})
		require.Empty(t, resp.Errors)
		require.NoError(t, json.Unmarshal(resp.Data["project"], &out))
		return len(out.Documents.Nodes) == 1 && out.Documents.Nodes[0].Status == "PROCESSED"
	}, 60*time.Second, 50*time.Millisecond, "%+v", out)
	require.Equal(t, doc{ID: demo.PolicyDocumentID, Filename: demo.PolicyDocumentFilename, ContentType: "application/pdf", Status: "PROCESSED",
		Evidence: struct{ ID string }{demo.PolicyDocumentEvidenceID}}, out.Documents.Nodes[0])
	chunks, err := g.p.Documents.Store().Chunks(context.Background(), demo.OrgID, demo.PolicyDocumentID, 100)
	require.NoError(t, err)
	require.NotEmpty(t, chunks)
	var text strings.Builder
	for _, c := range chunks {
		text.WriteString(strings.Join(strings.Fields(c.Content), " ") + " ")
	}
	require.Contains(t, text.String(), "Every production account is reviewed every quarter")
	require.NoError(t, g.p.Documents.Seed(context.Background()), "seeding again changes nothing")
	chunks2, err := g.p.Documents.Store().Chunks(context.Background(), demo.OrgID, demo.PolicyDocumentID, 100)
	require.NoError(t, err)
	require.Equal(t, chunks, chunks2)
}
