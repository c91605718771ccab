package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// MaxPayload is the largest event payload, in bytes of JSON. Events say what
// happened and carry ids; large documents stay in their store.
const MaxPayload = 64 << 10

// Validation errors (wrapped with the offending value).
var (
	ErrBadSubject    = errors.New("events: subject must be studio.<subgraph>.<entity>.<verb> (lower-case tokens of [a-z0-9_], at most 63 bytes each; subgraph not dlq)")
	ErrBadPayload    = errors.New("events: payload must be valid JSON")
	ErrPayloadTooBig = fmt.Errorf("events: payload larger than %d bytes", MaxPayload)
	ErrNoID          = errors.New("events: event id is required")
	ErrNoOrg         = errors.New("events: organization id is required")
)

var subjectPattern = regexp.MustCompile(`^studio\.([a-z][a-z0-9_]{0,62})\.[a-z][a-z0-9_]{0,62}\.[a-z][a-z0-9_]{0,62}$`)

// Event is one fact about a state change: "<entity> was <verb>ed" in a
// subgraph, for one organization.
type Event struct {
	// ID identifies the event everywhere: outbox row, JetStream Nats-Msg-Id
	// (de-duplication) and consumers' processed-events records.
	ID uuid.UUID
	// Subject is studio.<subgraph>.<entity>.<verb>, e.g.
	// studio.compliance.evidence.submitted.
	Subject string
	// OrganizationID is the tenant the event belongs to.
	OrganizationID uuid.UUID
	// Payload is the event's JSON document (at most MaxPayload bytes).
	Payload json.RawMessage
	// OccurredAt is when the state change happened (microsecond precision once stored).
	OccurredAt time.Time
}

// New returns an event with a fresh time-ordered id (UUIDv7), the current
// time and payload marshalled to JSON. It validates like Validate.
func New(subject string, org uuid.UUID, payload any) (Event, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("events: new id: %w", err)
	}
	ev := Event{ID: id, Subject: subject, OrganizationID: org, Payload: data, OccurredAt: time.Now().UTC()}
	return ev, ev.Validate()
}

// Validate checks the event's subject, ids and payload.
func (e Event) Validate() error {
	var errs []error
	if e.ID == uuid.Nil {
		errs = append(errs, ErrNoID)
	}
	if m := subjectPattern.FindStringSubmatch(e.Subject); m == nil || m[1] == "dlq" {
		errs = append(errs, fmt.Errorf("%w: %.300q", ErrBadSubject, e.Subject))
	}
	if e.OrganizationID == uuid.Nil {
		errs = append(errs, ErrNoOrg)
	}
	switch {
	case len(e.Payload) > MaxPayload:
		errs = append(errs, fmt.Errorf("%w: %d", ErrPayloadTooBig, len(e.Payload)))
	case !json.Valid(e.Payload):
		errs = append(errs, ErrBadPayload)
	}
	return errors.Join(errs...)
}

// ValidSubject reports whether s is an event subject (studio.<subgraph>.<entity>.<verb>).
func ValidSubject(s string) bool {
	m := subjectPattern.FindStringSubmatch(s)
	return m != nil && m[1] != "dlq"
}
