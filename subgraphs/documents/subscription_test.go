package documents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/gqlws"
	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/process"
)

const processingSubscription = `subscription($id: ID!, $after: ID) {
  documentProcessing(id: $id, after: $after) { id state progress attempt error final document { id status } job { id state progress } }
}`

type processingEvent struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Progress int    `json:"progress"`
	Final    bool   `json:"final"`
	Document struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"document"`
	Job struct {
		ID string `json:"id"`
	} `json:"job"`
}

// subscribeProcessing opens a graphql-transport-ws connection with the token
// in connection_init and subscribes to a document's processing.
func subscribeProcessing(t *testing.T, url, tok string, vars map[string]any) *gqlws.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := gqlws.Dial(ctx, url, gqlws.WithInitPayload(map[string]string{"Authorization": "Bearer " + tok}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	s, err := c.Subscribe(ctx, map[string]any{"query": processingSubscription, "variables": vars}, 16)
	require.NoError(t, err)
	return s
}

// collect reads events until the stream completes.
func collect(t *testing.T, s *gqlws.Stream) []processingEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []processingEvent
	for {
		p, err := s.Next(ctx)
		if errors.Is(err, gqlws.ErrComplete) {
			return out
		}
		require.NoError(t, err)
		var r struct {
			Data struct {
				DocumentProcessing processingEvent `json:"documentProcessing"`
			} `json:"data"`
			Errors json.RawMessage `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(p, &r))
		require.Empty(t, r.Errors)
		out = append(out, r.Data.DocumentProcessing)
	}
}

// steps are the events' ids, states and progress (documents are read when
// an event is sent, so a replay shows the document as it is now).
func steps(evs []processingEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, fmt.Sprintf("%s %s %d %v", ev.ID, ev.State, ev.Progress, ev.Final))
	}
	return out
}

func TestDocumentProcessingSubscription(t *testing.T) {
	hold := make(chan struct{})
	e := startProcessing(t, 1, process.Config{BeforeExtract: func(ctx context.Context, _ string) error {
		select {
		case <-hold:
		case <-ctx.Done():
		}
		return nil
	}})
	org := uuid.NewString()
	tok := e.token(t, org, uuid.NewString())
	d := uploadBytes(t, e, tok, "notes.txt", []byte("Backups run nightly and are restored quarterly."))

	// Subscribed while the job is held at 0: the events so far, then the rest live.
	live := subscribeProcessing(t, e.url, tok, map[string]any{"id": d.ID})
	e.waitJob(t, org, d.ID, model.JobStateRunning)
	close(hold)
	events := collect(t, live)
	var progress []int
	for _, ev := range events {
		progress = append(progress, ev.Progress)
		require.Equal(t, d.ID, ev.Document.ID)
		require.Equal(t, d.Jobs.Nodes[0].ID, ev.Job.ID)
	}
	require.Equal(t, []int{0, 40, 70, 100}, progress)
	last := events[len(events)-1]
	require.True(t, last.Final)
	require.Equal(t, "SUCCEEDED", last.State)
	require.Equal(t, "PROCESSED", last.Document.Status, "the document is read when the event is sent")

	// A client resuming after the second event gets the rest, nothing twice.
	resumed := collect(t, subscribeProcessing(t, e.url, tok, map[string]any{"id": d.ID, "after": events[1].ID}))
	require.Equal(t, steps(events[2:]), steps(resumed))

	// After the end, a new subscriber gets the whole job again and the end.
	require.Equal(t, steps(events), steps(collect(t, subscribeProcessing(t, e.url, tok, map[string]any{"id": d.ID}))))

	// Another organization's user: NOT_FOUND, as if the document did not exist.
	other := subscribeProcessing(t, e.url, e.token(t, uuid.NewString(), uuid.NewString()), map[string]any{"id": d.ID})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := other.Next(ctx)
	if err == nil { // gqlgen sends a resolver's error as a result, then complete
		require.Contains(t, string(p), "NOT_FOUND")
		_, err = other.Next(ctx)
		require.ErrorIs(t, err, gqlws.ErrComplete)
	} else {
		var oe *gqlws.OperationError
		require.ErrorAs(t, err, &oe)
		require.Contains(t, string(oe.Payload), "NOT_FOUND")
	}
}
