package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sessions keeps the live sessions in Redis, shared by identity (which starts
// and ends them) and every verifier (which asks whether a token's session is
// alive). A session is the key "studio:session:<sid>" holding its user id,
// with the session's lifetime as TTL; the user's sessions are the set
// "studio:user-sessions:<user id>", so that ending all of them is one atomic
// script. An access token whose session key is gone is refused at once, not
// at its exp.
//
// Nothing is cached in the process: every verified request costs one EXISTS
// round trip (see BenchmarkSessionAlive), which is what makes logout take
// effect immediately on every replica. When Redis cannot be asked, tokens are
// refused with ErrSessionsUnavailable (fail closed).
type Sessions struct {
	rdb     redis.UniversalClient
	timeout time.Duration
}

// SessionsOption configures NewSessions.
type SessionsOption func(*Sessions)

// WithSessionTimeout bounds each Redis call of a session check (default 1s).
func WithSessionTimeout(d time.Duration) SessionsOption {
	return func(s *Sessions) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// NewSessions returns the session store on rdb (which the caller closes).
func NewSessions(rdb redis.UniversalClient, opts ...SessionsOption) *Sessions {
	s := &Sessions{rdb: rdb, timeout: time.Second}
	for _, o := range opts {
		o(s)
	}
	return s
}

// OpenSessions connects to the Redis at url (redis://, rediss://, unix://).
// Close releases the connection.
func OpenSessions(url string, opts ...SessionsOption) (*Sessions, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("auth: sessions: %w", err)
	}
	return NewSessions(redis.NewClient(o), opts...), nil
}

// Close closes the Redis client.
func (s *Sessions) Close() error { return s.rdb.Close() }

func sessionKey(sid string) string      { return "studio:session:" + sid }
func userSessionsKey(uid string) string { return "studio:user-sessions:" + uid }

// Start records a new live session sid of userID for ttl.
func (s *Sessions) Start(ctx context.Context, sid, userID string, ttl time.Duration) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, sessionKey(sid), userID, ttl)
		p.SAdd(ctx, userSessionsKey(userID), sid)
		p.Expire(ctx, userSessionsKey(userID), ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: start: %w", ErrSessionsUnavailable, err)
	}
	return nil
}

// extendScript prolongs a session only while it is alive, so that a refresh
// racing a logout cannot bring the session back.
var extendScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1`)

// Extend prolongs the live session sid of userID to ttl from now. It returns
// ErrSessionEnded when the session has ended.
func (s *Sessions) Extend(ctx context.Context, sid, userID string, ttl time.Duration) error {
	n, err := extendScript.Run(ctx, s.rdb, []string{sessionKey(sid), userSessionsKey(userID)}, ttl.Milliseconds(), sid).Int()
	if err != nil {
		return fmt.Errorf("%w: extend: %w", ErrSessionsUnavailable, err)
	}
	if n == 0 {
		return ErrSessionEnded
	}
	return nil
}

// Alive reports whether session sid is live: one EXISTS.
func (s *Sessions) Alive(ctx context.Context, sid string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := s.rdb.Exists(ctx, sessionKey(sid)).Result()
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrSessionsUnavailable, err)
	}
	return n == 1, nil
}

// End ends session sid of userID (logout). Ending an ended session is no error.
func (s *Sessions) End(ctx context.Context, sid, userID string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, sessionKey(sid))
		p.SRem(ctx, userSessionsKey(userID), sid)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: end: %w", ErrSessionsUnavailable, err)
	}
	return nil
}

// endAllScript deletes every session of a user and the set in one atomic step.
var endAllScript = redis.NewScript(`
local sids = redis.call('SMEMBERS', KEYS[1])
for _, sid in ipairs(sids) do redis.call('DEL', ARGV[1] .. sid) end
redis.call('DEL', KEYS[1])
return #sids`)

// EndAll ends every session of userID at once (sign out everywhere) and
// returns how many there were.
func (s *Sessions) EndAll(ctx context.Context, userID string) (int, error) {
	n, err := endAllScript.Run(ctx, s.rdb, []string{userSessionsKey(userID)}, sessionKey("")).Int()
	if err != nil {
		return 0, fmt.Errorf("%w: end all: %w", ErrSessionsUnavailable, err)
	}
	return n, nil
}

// CheckSessions returns a Verifier that verifies with v and then refuses
// tokens without a sid (ErrInvalidToken), whose session has ended
// (ErrSessionEnded) or whose session cannot be looked up
// (ErrSessionsUnavailable: 503 from Middleware).
func CheckSessions(v Verifier, s *Sessions) Verifier {
	return sessionVerifier{v: v, s: s}
}

type sessionVerifier struct {
	v Verifier
	s *Sessions
}

func (sv sessionVerifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := sv.v.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if c.SessionID == "" {
		return nil, fmt.Errorf("%w: token has no session id", ErrInvalidToken)
	}
	ok, err := sv.s.Alive(ctx, c.SessionID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrSessionEnded
	}
	return c, nil
}

// IsUnavailable reports whether err means a server-side dependency of token
// checking (JWKS or session store) is down: answered 503, not 401.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrSessionsUnavailable)
}
