package platform_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/ai/provider"
	"github.com/studio-platform/studio/subgraphs/demo"
)

const demoChatQuery = `query($id: ID!) {
  project(id: $id) {
    chatSessions {
      totalCount
      nodes {
        id title createdBy { email }
        messages { nodes { role content author { email } citations { ref kind quote chunkId document { filename status } control { code title } evidence { title status } } } }
      }
    }
  }
}`

type demoChat struct {
	ChatSessions struct {
		TotalCount int
		Nodes      []struct {
			ID, Title string
			CreatedBy struct{ Email string }
			Messages  struct {
				Nodes []struct {
					Role, Content string
					Author        *struct{ Email string }
					Citations     []struct {
						Ref, Kind, Quote string
						ChunkID          *string
						Document         *struct{ Filename, Status string }
						Control          *struct{ Code, Title string }
						Evidence         *struct{ Title, Status string }
					}
				}
			}
		}
	}
}

// TestAcceptanceDemoChat: the demo project's chat session through the
// router — its grounded answer's citations completed with compliance's
// controls and evidence and identity's users — and a new question answered
// in it; another organization sees none of it.
func TestAcceptanceDemoChat(t *testing.T) {
	g := startWithGraph(t)
	token := g.login(t, demo.DemoUser.Email)

	resp := g.post(t, token, demoChatQuery, map[string]any{"id": demo.ProjectID})
	require.Empty(t, resp.Errors)
	var p demoChat
	require.NoError(t, json.Unmarshal(resp.Data["project"], &p))
	require.Equal(t, 1, p.ChatSessions.TotalCount)
	s := p.ChatSessions.Nodes[0]
	require.Equal(t, demo.ChatSessionTitle, s.Title)
	require.Equal(t, demo.DemoUser.Email, s.CreatedBy.Email)
	msgs := s.Messages.Nodes
	require.Len(t, msgs, 2)
	require.Equal(t, "USER", msgs[0].Role)
	require.Equal(t, demo.ChatQuestion, msgs[0].Content)
	require.Equal(t, demo.DemoUser.Email, msgs[0].Author.Email)
	answer := msgs[1]
	require.Equal(t, "ASSISTANT", answer.Role)
	require.True(t, strings.HasPrefix(answer.Content, provider.OfflineDisclaimer))
	require.NotEmpty(t, answer.Citations, "a grounded answer: %s", answer.Content)
	codes := map[string]bool{}
	for _, c := range answer.Citations {
		require.Contains(t, answer.Content, "["+c.Ref+"]")
		if c.Kind == "CHUNK" { // a passage of the demo's processed policy PDF
			require.NotNil(t, c.ChunkID, "%+v", c)
			require.NotNil(t, c.Document, "completed by documents: %+v", c)
			require.Equal(t, "PROCESSED", c.Document.Status)
			continue
		}
		require.NotNil(t, c.Control, "every control or evidence citation names its control: %+v", c)
		require.NotEmpty(t, c.Control.Title, "completed by compliance")
		codes[c.Control.Code] = true
	}
	require.True(t, codes["AC-02"] || codes["AC-01"], "the MFA or access control is cited: %v", codes)

	// A question through the router, in the demo session.
	resp = g.post(t, token, `mutation($in: SendChatMessageInput!) { sendChatMessage(input: $in) {
		answer { role content citations { kind control { code } } } } }`,
		map[string]any{"in": map[string]any{"sessionId": s.ID, "content": "Is encryption at rest implemented?"}})
	require.Empty(t, resp.Errors)
	var sent struct {
		Answer struct {
			Role, Content string
			Citations     []struct {
				Kind    string
				Control *struct{ Code string }
			}
		}
	}
	require.NoError(t, json.Unmarshal(resp.Data["sendChatMessage"], &sent))
	require.Equal(t, "ASSISTANT", sent.Answer.Role)
	cited := map[string]bool{}
	for _, c := range sent.Answer.Citations {
		if c.Control != nil {
			cited[c.Control.Code] = true
		}
	}
	require.True(t, cited["CR-01"], "the encryption control is cited: %s", sent.Answer.Content)

	// Another organization: nothing.
	resp = g.post(t, "", `mutation { signUp(input: {email: "eve@other.test", password: "password123", name: "Eve", organizationName: "Elsewhere"}) { accessToken } }`, nil)
	require.Empty(t, resp.Errors)
	var su struct{ AccessToken string }
	require.NoError(t, json.Unmarshal(resp.Data["signUp"], &su))
	resp = g.post(t, su.AccessToken, `query($id: ID!) { chatSession(id: $id) { id } chatSessions { totalCount } }`, map[string]any{"id": s.ID})
	require.Empty(t, resp.Errors)
	require.Equal(t, "null", string(resp.Data["chatSession"]))
	require.JSONEq(t, `{"totalCount": 0}`, string(resp.Data["chatSessions"]))
}
