package ai_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/internal/jobs"
	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/ai"
	"github.com/studio-platform/studio/subgraphs/ai/assistant"
	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/ai/provider/providertest"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
	"github.com/studio-platform/studio/subgraphs/documents"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/documents/process"
	"github.com/studio-platform/studio/subgraphs/internal/gqltest"
	"github.com/studio-platform/studio/subgraphs/kit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is the ai subgraph with the documents subgraph (whose processed
// documents it embeds) on one database, NATS, Neo4j and MinIO.
type env struct {
	url     string // ai's /graphql
	docsURL string // documents' /graphql
	svc     *ai.Service
	graph   *projection.Projector
	signer  *auth.Signer
	natsURL string
	db      string
	neo4j   string
}

// newEnv starts documents and ai (with p, or the offline provider when nil)
// for the test and its subtests: starting them is the slow part.
func newEnv(t *testing.T, p provider.Provider) *env {
	t.Helper()
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	signer := auth.NewSigner("test", key, "studio-test")
	db := testenv.Database(t)
	natsURL := testenv.Stack(t).NatsURL
	neo := testenv.Neo4j(t)
	s3 := testenv.Bucket(t)
	evs := kit.WithEvents(kit.Events{NatsURL: natsURL})

	docs, err := documents.New(ctx, documents.Config{DatabaseURL: db,
		S3:         objects.Config{URL: s3.URL, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket},
		Processing: documentsQueue()}, kit.WithVerifier(signer), evs)
	require.NoError(t, err)
	docSrv := httptest.NewServer(docs.Handler())

	svc, err := ai.New(ctx, ai.Config{DatabaseURL: db, Neo4jURL: neo, Provider: p, Jobs: jobs.Config{Queue: testQueue()}},
		kit.WithVerifier(signer), evs)
	require.NoError(t, err)
	srv := httptest.NewServer(svc.Handler())

	g, err := projection.Open(ctx, neo)
	require.NoError(t, err)
	t.Cleanup(func() {
		srv.Close()
		docSrv.Close()
		svc.Close()
		docs.Close()
		_ = g.Close(context.Background())
	})
	return &env{url: srv.URL + "/graphql", docsURL: docSrv.URL + "/graphql", svc: svc, graph: g, signer: signer, natsURL: natsURL,
		db: db, neo4j: neo}
}

// testQueue names a work queue of this test's own: the tests of several
// packages share one NATS server.
func testQueue() string { return "aitest" + strings.ReplaceAll(uuid.NewString()[:8], "-", "") }

func documentsQueue() process.Config { return process.Config{Queue: testQueue()} }

// token signs an access token for user of org.
func (e *env) token(t *testing.T, org, user string) string {
	t.Helper()
	tok, err := e.signer.Sign(auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: user, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		OrgID:            org,
	})
	require.NoError(t, err)
	return tok
}

// tenant is an organization with a project, a control and its evidence in
// the compliance graph, and a user.
type tenant struct {
	org, user, project, control, evidence string
	token                                 string
}

func (e *env) tenant(t *testing.T) tenant {
	t.Helper()
	ctx := context.Background()
	tn := tenant{org: uuid.NewString(), user: uuid.NewString(), project: uuid.NewString(), control: uuid.NewString(), evidence: uuid.NewString()}
	tn.token = e.token(t, tn.org, tn.user)
	require.NoError(t, e.graph.UpsertProject(ctx, tn.org, projection.Project{ID: tn.project, Name: "Readiness", Version: 1}))
	require.NoError(t, e.graph.UpsertControl(ctx, tn.org, projection.Control{ID: tn.control, ProjectID: tn.project, Code: "AC-02",
		Title: "Single sign-on with multi-factor authentication", Status: "IMPLEMENTED", RequirementIDs: []string{}, Version: 1}))
	require.NoError(t, e.graph.UpsertEvidence(ctx, tn.org, projection.Evidence{ID: tn.evidence, Title: "Identity provider MFA policy export",
		Status: "ACCEPTED", ControlIDs: []string{tn.control}, Version: 1}))
	return tn
}

const policyText = `# Access control policy

Multi-factor authentication is required for every administrator login to the production environment.
Access rights are reviewed every quarter by the system owner and removed within one business day of a departure.

Backups of customer databases are encrypted and copied nightly to a second region.
`

// uploadPolicy uploads policyText as a document of tn's project attached
// to its evidence and waits until ai has embedded its chunks.
func (e *env) uploadPolicy(t *testing.T, tn tenant) string {
	t.Helper()
	var out struct {
		UploadDocument struct {
			ID string `json:"id"`
		} `json:"uploadDocument"`
	}
	gqltest.Upload(t, e.docsURL, tn.token, `mutation($in: UploadDocumentInput!) { uploadDocument(input: $in) { id } }`,
		map[string]any{"projectId": tn.project, "evidenceId": tn.evidence}, "access-policy.md", strings.NewReader(policyText)).Decode(t, &out)
	doc := out.UploadDocument.ID
	require.Eventually(t, func() bool {
		n, err := e.svc.Assistant().Vectors().Count(context.Background(), tn.org, doc)
		return err == nil && n > 0
	}, 60*time.Second, 50*time.Millisecond, "the document's chunks embedded")
	return doc
}

// tokenEvents reads the events of answer messageID of session sessionID
// from the AI_CHAT stream (from its start, as a client resuming would),
// until its done or error event.
func (e *env) tokenEvents(t *testing.T, sessionID, messageID string) []assistant.TokenEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(e.natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cons, err := js.OrderedConsumer(ctx, assistant.ChatStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{assistant.ChatSubject(sessionID)}})
	require.NoError(t, err)
	var out []assistant.TokenEvent
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		require.NoError(t, err, "after %d events", len(out))
		var ev assistant.TokenEvent
		require.NoError(t, json.Unmarshal(msg.Data(), &ev))
		if ev.MessageID != messageID {
			continue // an earlier answer of the session
		}
		out = append(out, ev)
		if ev.Type != assistant.EventToken {
			return out
		}
	}
}

const sendMutation = `mutation($in: SendChatMessageInput!) {
  sendChatMessage(input: $in) {
    message { id role content author { id } }
    answer { id role content model promptTokens completionTokens
      citations { ref kind chunkId document { id } control { id } evidence { id } quote } }
  }
}`

type citation struct {
	Ref      string `json:"ref"`
	Kind     string `json:"kind"`
	ChunkID  string `json:"chunkId"`
	Document *struct {
		ID string `json:"id"`
	} `json:"document"`
	Control *struct {
		ID string `json:"id"`
	} `json:"control"`
	Evidence *struct {
		ID string `json:"id"`
	} `json:"evidence"`
	Quote string `json:"quote"`
}

type sent struct {
	SendChatMessage struct {
		Message struct {
			ID, Role, Content string
			Author            struct{ ID string }
		}
		Answer struct {
			ID, Role, Content, Model       string
			PromptTokens, CompletionTokens int
			Citations                      []citation
		}
	}
}

func (e *env) startSession(t *testing.T, tn tenant) string {
	t.Helper()
	var s struct {
		StartChatSession struct {
			ID, Title, StreamSubject string
			Project                  struct{ ID string }
		}
	}
	gqltest.Post(t, e.url, tn.token, `mutation($in: StartChatSessionInput!) { startChatSession(input: $in) { id title streamSubject project { id } } }`,
		map[string]any{"in": map[string]any{"projectId": tn.project, "title": "MFA questions"}}).Decode(t, &s)
	require.Equal(t, "MFA questions", s.StartChatSession.Title)
	require.Equal(t, tn.project, s.StartChatSession.Project.ID)
	require.Equal(t, assistant.ChatSubject(s.StartChatSession.ID), s.StartChatSession.StreamSubject)
	return s.StartChatSession.ID
}

// ask sends question in session and checks what every provider's answer
// has: both messages stored, the tokens on NATS adding up to the stored
// answer, then done with its id.
func (e *env) ask(t *testing.T, tn tenant, session, question string) sent {
	t.Helper()
	var out sent
	gqltest.Post(t, e.url, tn.token, sendMutation, map[string]any{"in": map[string]any{"sessionId": session, "content": question}}).Decode(t, &out)
	q, a := out.SendChatMessage.Message, out.SendChatMessage.Answer
	require.Equal(t, "USER", q.Role)
	require.Equal(t, question, q.Content)
	require.Equal(t, tn.user, q.Author.ID)
	require.Equal(t, "ASSISTANT", a.Role)
	require.NotEmpty(t, a.Content)
	require.Positive(t, a.CompletionTokens)

	evs := e.tokenEvents(t, session, a.ID)
	var text strings.Builder
	for i, ev := range evs {
		require.Equal(t, i+1, ev.Seq)
		require.Equal(t, a.ID, ev.MessageID)
		if ev.Type == assistant.EventToken {
			text.WriteString(ev.Delta)
		}
	}
	require.Greater(t, len(evs), 2, "the answer came as several tokens")
	require.Equal(t, assistant.EventDone, evs[len(evs)-1].Type)
	require.Equal(t, a.Content, text.String(), "the tokens on NATS make up the stored answer")

	var msgs struct {
		ChatSession struct {
			Messages struct {
				TotalCount int
				Nodes      []struct{ ID, Role, Content string }
			}
		}
	}
	gqltest.Post(t, e.url, tn.token, `query($id: ID!) { chatSession(id: $id) { messages(first: 100) { totalCount nodes { id role content } } } }`,
		map[string]any{"id": session}).Decode(t, &msgs)
	nodes := msgs.ChatSession.Messages.Nodes
	require.GreaterOrEqual(t, len(nodes), 2)
	require.Equal(t, q.ID, nodes[len(nodes)-2].ID)
	require.Equal(t, a.ID, nodes[len(nodes)-1].ID)
	require.Equal(t, a.Content, nodes[len(nodes)-1].Content)
	return out
}

func chatAnswerIsGroundedStoredAndStreamed(t *testing.T, e *env) {
	tn := e.tenant(t)
	doc := e.uploadPolicy(t, tn)
	session := e.startSession(t, tn)

	out := e.ask(t, tn, session, "Is multi-factor authentication required for administrators?")
	a := out.SendChatMessage.Answer
	require.True(t, strings.HasPrefix(a.Content, provider.OfflineDisclaimer), a.Content)
	require.Equal(t, "offline/"+provider.OfflineChatModel, a.Model)
	var chunk *citation
	for i, c := range a.Citations {
		if c.Kind == "CHUNK" {
			chunk = &a.Citations[i]
			break
		}
	}
	require.NotNil(t, chunk, "the answer cites the document: %+v", a.Citations)
	require.Equal(t, doc, chunk.Document.ID)
	require.Equal(t, tn.evidence, chunk.Evidence.ID, "the chunk's document is attached to the evidence")
	require.Contains(t, chunk.Quote, "Multi-factor authentication is required for every administrator")
	require.Contains(t, a.Content, "["+chunk.Ref+"]")

	// A follow-up in the same session sees the history and is stored after it.
	e.ask(t, tn, session, "How often are access rights reviewed?")
}

func otherOrganizationsSeeNothing(t *testing.T, e *env) {
	tn := e.tenant(t)
	session := e.startSession(t, tn)
	other := e.tenant(t)

	var got struct {
		ChatSession  *struct{ ID string }
		ChatSessions struct{ TotalCount int }
	}
	gqltest.Post(t, e.url, other.token, `query($id: ID!) { chatSession(id: $id) { id } chatSessions { totalCount } }`,
		map[string]any{"id": session}).Decode(t, &got)
	require.Nil(t, got.ChatSession)
	require.Zero(t, got.ChatSessions.TotalCount)

	r := gqltest.Post(t, e.url, other.token, sendMutation, map[string]any{"in": map[string]any{"sessionId": session, "content": "hello"}})
	require.Equal(t, []string{kit.CodeNotFound}, r.Codes())
	r = gqltest.Post(t, e.url, other.token, `mutation($in: StartChatSessionInput!) { startChatSession(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"projectId": tn.project}})
	require.Equal(t, []string{kit.CodeNotFound}, r.Codes(), "another organization's project")

	var ents struct {
		Entities []*struct{ ID string } `json:"_entities"`
	}
	gqltest.Post(t, e.url, other.token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on ChatSession { id } } }`,
		map[string]any{"r": []any{map[string]any{"__typename": "ChatSession", "id": session}}}).Decode(t, &ents)
	require.Equal(t, []*struct{ ID string }{nil}, ents.Entities)

	gqltest.Post(t, e.url, tn.token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on ChatSession { id } } }`,
		map[string]any{"r": []any{map[string]any{"__typename": "ChatSession", "id": session}}}).Decode(t, &ents)
	require.Equal(t, session, ents.Entities[0].ID)
}

func inputsAreBounded(t *testing.T, e *env) {
	tn := e.tenant(t)
	session := e.startSession(t, tn)
	r := gqltest.Post(t, e.url, tn.token, sendMutation, map[string]any{"in": map[string]any{"sessionId": session, "content": strings.Repeat("x", 4001)}})
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
	r = gqltest.Post(t, e.url, tn.token, sendMutation, map[string]any{"in": map[string]any{"sessionId": "nope", "content": "  "}})
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
	require.Contains(t, r.Errors[0].Message, "sessionId must be a UUID")
	require.Contains(t, r.Errors[0].Message, "content is required")
	r = gqltest.Post(t, e.url, tn.token, `{ chatSessions(first: 101) { totalCount } }`, nil)
	require.Equal(t, []string{kit.CodeBadUserInput}, r.Codes())
	r = gqltest.Post(t, e.url, "", `{ chatSessions { totalCount } }`, nil)
	require.Equal(t, []string{kit.CodeUnauthenticated}, r.Codes())
}

// TestAI runs the subgraph's tests on one env (documents and ai started once).
func TestAI(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("ChatAnswerIsGroundedStoredAndStreamed", func(t *testing.T) { chatAnswerIsGroundedStoredAndStreamed(t, e) })
	t.Run("ChatMessageSubscription", func(t *testing.T) { chatMessageSubscription(t, e) })
	t.Run("OtherOrganizationsSeeNothing", func(t *testing.T) { otherOrganizationsSeeNothing(t, e) })
	t.Run("InputsAreBounded", func(t *testing.T) { inputsAreBounded(t, e) })
	t.Run("AnalysisCitesTheEvidenceDocument", func(t *testing.T) { analysisCitesTheEvidenceDocument(t, e) })
	t.Run("PolicyDraftBecomesADocument", func(t *testing.T) { policyDraftBecomesADocument(t, e) })
	t.Run("ChatWithEachProviderWireFormat", func(t *testing.T) { chatWithEachProviderWireFormat(t, e) })
}

type analysis struct {
	ID, State string
	Verdict   *string
	Summary   *string
	Error     *string
	Citations []citation
}

func (e *env) analyze(t *testing.T, tn tenant, evidence string) analysis {
	t.Helper()
	var q struct{ AnalyzeEvidence analysis }
	gqltest.Post(t, e.url, tn.token, `mutation($in: AnalyzeEvidenceInput!) { analyzeEvidence(input: $in) { id state } }`,
		map[string]any{"in": map[string]any{"evidenceId": evidence, "controlId": tn.control}}).Decode(t, &q)
	require.Equal(t, "QUEUED", q.AnalyzeEvidence.State)
	var got struct{ Analysis analysis }
	require.Eventually(t, func() bool {
		gqltest.Post(t, e.url, tn.token, `query($id: ID!) { analysis(id: $id) { id state verdict summary error
			citations { ref kind chunkId document { id } evidence { id } quote } } }`, map[string]any{"id": q.AnalyzeEvidence.ID}).Decode(t, &got)
		return got.Analysis.State == "SUCCEEDED" || got.Analysis.State == "FAILED"
	}, 60*time.Second, 50*time.Millisecond, "the analysis job ends")
	require.Equal(t, "SUCCEEDED", got.Analysis.State, "error: %v", got.Analysis.Error)
	return got.Analysis
}

func analysisCitesTheEvidenceDocument(t *testing.T, e *env) {
	tn := e.tenant(t)
	doc := e.uploadPolicy(t, tn)
	a := e.analyze(t, tn, tn.evidence)
	require.Equal(t, "SUPPORTED", *a.Verdict, "summary: %s", *a.Summary)
	require.NotEmpty(t, a.Citations)
	c := a.Citations[0]
	require.Equal(t, "CHUNK", c.Kind)
	require.Equal(t, doc, c.Document.ID)
	require.Equal(t, tn.evidence, c.Evidence.ID)
	require.Contains(t, c.Quote, "Multi-factor authentication is required")

	// Evidence without a document: nothing to read.
	bare := uuid.NewString()
	require.NoError(t, e.graph.UpsertEvidence(context.Background(), tn.org, projection.Evidence{ID: bare, Title: "Screenshot",
		Status: "PENDING", ControlIDs: []string{tn.control}, Version: 1}))
	a = e.analyze(t, tn, bare)
	require.Equal(t, "NO_DOCUMENTS", *a.Verdict)
	require.Empty(t, a.Citations)

	// Another organization can neither read the analysis nor analyze this evidence.
	other := e.tenant(t)
	r := gqltest.Post(t, e.url, other.token, `mutation($in: AnalyzeEvidenceInput!) { analyzeEvidence(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"evidenceId": tn.evidence, "controlId": tn.control}})
	require.Equal(t, []string{kit.CodeNotFound}, r.Codes())
	var got struct{ Analysis *analysis }
	gqltest.Post(t, e.url, other.token, `query($id: ID!) { analysis(id: $id) { id } }`, map[string]any{"id": a.ID}).Decode(t, &got)
	require.Nil(t, got.Analysis)
}

func policyDraftBecomesADocument(t *testing.T, e *env) {
	ctx := context.Background()
	tn := e.tenant(t)
	fw, covered, gap := uuid.NewString(), uuid.NewString(), uuid.NewString()
	require.NoError(t, e.graph.UpsertFramework(ctx, projection.Framework{ID: fw, Key: "T" + fw[:8], Name: "Test Framework", Version: "2026"}))
	require.NoError(t, e.graph.UpsertRequirement(ctx, projection.Requirement{ID: covered, FrameworkID: fw, Code: "T.1", Title: "Access is authenticated"}))
	require.NoError(t, e.graph.UpsertRequirement(ctx, projection.Requirement{ID: gap, FrameworkID: fw, Code: "T.2", Title: "Backups are tested"}))
	require.NoError(t, e.graph.UpsertControl(ctx, tn.org, projection.Control{ID: tn.control, ProjectID: tn.project, Code: "AC-02",
		Title: "Single sign-on with multi-factor authentication", Status: "IMPLEMENTED", RequirementIDs: []string{covered}, Version: 2}))

	var q struct {
		GeneratePolicyDraft struct{ ID, State, Title string }
	}
	gqltest.Post(t, e.url, tn.token, `mutation($in: GeneratePolicyDraftInput!) { generatePolicyDraft(input: $in) { id state title } }`,
		map[string]any{"in": map[string]any{"projectId": tn.project, "frameworkId": fw}}).Decode(t, &q)
	require.Equal(t, "QUEUED", q.GeneratePolicyDraft.State)
	require.Equal(t, "Test Framework policy", q.GeneratePolicyDraft.Title)

	var got struct {
		PolicyDraft struct {
			State    string
			Content  *string
			Error    *string
			Document *struct{ ID string }
		}
	}
	require.Eventually(t, func() bool {
		gqltest.Post(t, e.url, tn.token, `query($id: ID!) { policyDraft(id: $id) { state content error document { id } } }`,
			map[string]any{"id": q.GeneratePolicyDraft.ID}).Decode(t, &got)
		return got.PolicyDraft.State == "SUCCEEDED" || got.PolicyDraft.State == "FAILED"
	}, 60*time.Second, 50*time.Millisecond, "the draft job ends")
	d := got.PolicyDraft
	require.Equal(t, "SUCCEEDED", d.State, "error: %v", d.Error)
	require.Contains(t, *d.Content, "### T.1 Access is authenticated\n\n- AC-02 Single sign-on with multi-factor authentication (implemented)")
	require.Contains(t, *d.Content, "### T.2 Backups are tested\n\nNo control of the project implements this requirement yet.")
	require.NotNil(t, d.Document)

	// The documents subgraph stores it as a Markdown document of the
	// project, processes it, and ai embeds its chunks.
	var doc struct {
		Document *struct {
			Filename, ContentType, Status string
			Project                       struct{ ID string }
		}
	}
	require.Eventually(t, func() bool {
		gqltest.Post(t, e.docsURL, tn.token, `query($id: ID!) { document(id: $id) { filename contentType status project { id } } }`,
			map[string]any{"id": d.Document.ID}).Decode(t, &doc)
		return doc.Document != nil && doc.Document.Status == "PROCESSED"
	}, 60*time.Second, 50*time.Millisecond, "the draft stored and processed by documents")
	require.Equal(t, "Test-Framework-policy.md", doc.Document.Filename)
	require.Equal(t, objects.TypeMarkdown, doc.Document.ContentType)
	require.Equal(t, tn.project, doc.Document.Project.ID)
	require.Eventually(t, func() bool {
		n, err := e.svc.Assistant().Vectors().Count(ctx, tn.org, d.Document.ID)
		return err == nil && n > 0
	}, 60*time.Second, 50*time.Millisecond, "the draft's chunks embedded")
}

// remoteChat is a provider that chats through a remote provider and embeds
// offline, like the env's consumer embedded the chunks.
type remoteChat struct {
	provider.Provider
	embed *provider.Offline
}

func (r remoteChat) Embed(ctx context.Context, texts []string) (provider.EmbedResult, error) {
	return r.embed.Embed(ctx, texts)
}
func (r remoteChat) Dimensions() int        { return r.embed.Dimensions() }
func (r remoteChat) EmbeddingModel() string { return r.embed.EmbeddingModel() }

// A chat message produces a stored answer and its token events with each
// remote provider's wire format, served by a local server.
func chatWithEachProviderWireFormat(t *testing.T, e *env) {
	offline, err := provider.NewOffline(provider.OfflineConfig{})
	require.NoError(t, err)
	openaiSrv := httptest.NewServer(providertest.OpenAIServer(providertest.CitingFirstPassage))
	t.Cleanup(openaiSrv.Close)
	geminiSrv := httptest.NewServer(providertest.GeminiServer(providertest.CitingFirstPassage))
	t.Cleanup(geminiSrv.Close)
	openai, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: openaiSrv.URL + "/v1", APIKey: "sk-test", Model: "gpt-4o-mini"})
	require.NoError(t, err)
	gemini, err := provider.NewGemini(provider.GeminiConfig{BaseURL: geminiSrv.URL, APIKey: "AIza-test", Model: "gemini-2.5-flash"})
	require.NoError(t, err)
	for _, p := range []provider.Provider{openai, gemini} {
		t.Run(p.Name(), func(t *testing.T) {
			svc, err := ai.New(context.Background(), ai.Config{DatabaseURL: e.db, Neo4jURL: e.neo4j, Provider: remoteChat{Provider: p, embed: offline},
				Jobs: jobs.Config{Queue: testQueue()}, Workers: -1}, kit.WithVerifier(e.signer), kit.WithEvents(kit.Events{NatsURL: e.natsURL}))
			require.NoError(t, err)
			t.Cleanup(svc.Close)
			srv := httptest.NewServer(svc.Handler())
			t.Cleanup(srv.Close)
			remote := *e
			remote.url = srv.URL + "/graphql"

			tn := e.tenant(t)
			out := remote.ask(t, tn, remote.startSession(t, tn), "Is MFA enforced?")
			a := out.SendChatMessage.Answer
			require.Equal(t, "According to the context, yes [AC-02].", a.Content)
			require.Equal(t, p.Name()+"/"+p.ChatModel(), a.Model)
			require.Len(t, a.Citations, 1)
			require.Equal(t, "CONTROL", a.Citations[0].Kind)
			require.Equal(t, tn.control, a.Citations[0].Control.ID)
			require.Contains(t, a.Citations[0].Quote, "Single sign-on with multi-factor authentication")
		})
	}
}
