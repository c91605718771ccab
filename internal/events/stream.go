package events

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// maxMsgSize bounds a stored message: the payload plus room for headers.
const maxMsgSize = MaxPayload + 8<<10

// EnsureStream creates the events stream (WithStream, default STUDIO;
// subjects studio.>; file storage; de-duplication window; max age) or, when
// it exists, updates it only if one of those settings differs: an unchanged
// stream gets no update request. Safe to call from every service at start.
func EnsureStream(ctx context.Context, js jetstream.JetStream, opts ...Option) (jetstream.Stream, error) {
	o := buildOptions(opts)
	want := jetstream.StreamConfig{
		Name:       o.stream,
		Subjects:   o.subjects,
		Retention:  jetstream.LimitsPolicy,
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardOld,
		Duplicates: o.dupWindow,
		MaxAge:     o.maxAge,
		MaxMsgSize: maxMsgSize,
		MaxMsgs:    -1,
		MaxBytes:   -1,
		Replicas:   1,
	}
	for range 3 {
		s, err := js.Stream(ctx, o.stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			s, err = js.CreateStream(ctx, want)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue // created concurrently: compare with it
			}
			if err != nil {
				return nil, fmt.Errorf("events: create stream %s: %w", o.stream, err)
			}
			o.log.Info("events: stream created", "stream", o.stream, "subjects", o.subjects)
			return s, nil
		}
		if err != nil {
			return nil, fmt.Errorf("events: stream %s: %w", o.stream, err)
		}
		have := s.CachedInfo().Config
		if streamMatches(have, want) {
			return s, nil
		}
		upd := have // keep what we do not manage (description, metadata, ...)
		upd.Subjects, upd.Duplicates, upd.MaxAge, upd.MaxMsgSize = want.Subjects, want.Duplicates, want.MaxAge, want.MaxMsgSize
		s, err = js.UpdateStream(ctx, upd)
		if err != nil {
			return nil, fmt.Errorf("events: update stream %s: %w", o.stream, err)
		}
		o.log.Info("events: stream updated", "stream", o.stream, "subjects", o.subjects)
		return s, nil
	}
	return nil, fmt.Errorf("events: stream %s: created and gone repeatedly", o.stream)
}

func streamMatches(have, want jetstream.StreamConfig) bool {
	a, b := slices.Clone(have.Subjects), slices.Clone(want.Subjects)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b) && have.Duplicates == want.Duplicates &&
		have.MaxAge == want.MaxAge && have.MaxMsgSize == want.MaxMsgSize
}
