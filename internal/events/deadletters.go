package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxDeadLettersPage bounds one page of DeadLetters.
const MaxDeadLettersPage = 100

// DeadLetter is a message a consumer gave up on, as stored on its
// dead-letter subject.
type DeadLetter struct {
	Seq            uint64          `json:"seq"` // stream sequence: the cursor for the next page
	At             time.Time       `json:"at"`
	Consumer       string          `json:"consumer"`
	Subject        string          `json:"subject"` // the original event subject
	EventID        string          `json:"eventId"`
	OrganizationID string          `json:"organizationId"`
	Reason         string          `json:"reason"`
	Deliveries     int             `json:"deliveries"`
	Payload        json.RawMessage `json:"payload"`
}

// DeadLetters returns up to limit (at most MaxDeadLettersPage) of
// consumer's dead letters stored after stream sequence after (0: from the
// start), oldest first. Pass the last one's Seq as after for the next page.
func DeadLetters(ctx context.Context, js jetstream.JetStream, consumer string, after uint64, limit int, opts ...Option) ([]DeadLetter, error) {
	o := buildOptions(opts)
	if !consumerName.MatchString(consumer) {
		return nil, fmt.Errorf("%w: %.100q", ErrBadConsumer, consumer)
	}
	limit = min(max(limit, 1), MaxDeadLettersPage)
	s, err := js.Stream(ctx, o.stream)
	if err != nil {
		return nil, fmt.Errorf("events: dead letters of %s: %w", consumer, err)
	}
	subject := o.dlqRoot + "." + consumer
	var out []DeadLetter
	for seq := after + 1; len(out) < limit; {
		msg, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("events: dead letters of %s: %w", consumer, err)
		}
		deliveries, _ := strconv.Atoi(msg.Header.Get(HeaderDeadDeliveries))
		payload := json.RawMessage(msg.Data)
		if !json.Valid(payload) { // a malformed message: keep its bytes as a JSON string
			payload, _ = json.Marshal(string(msg.Data))
		}
		out = append(out, DeadLetter{
			Seq:            msg.Sequence,
			At:             msg.Time,
			Consumer:       msg.Header.Get(HeaderDeadConsumer),
			Subject:        msg.Header.Get(HeaderDeadSubject),
			EventID:        msg.Header.Get(HeaderEventID),
			OrganizationID: msg.Header.Get(HeaderOrganization),
			Reason:         msg.Header.Get(HeaderDeadReason),
			Deliveries:     deliveries,
			Payload:        payload,
		})
		seq = msg.Sequence + 1
	}
	return out, nil
}
