// Package ratelimit enforces request rates shared by every router replica:
// a GCRA (generic cell rate algorithm) per key, kept in Redis and checked
// for all of a request's keys in one Lua script (one EVALSHA round trip).
// A request is admitted only when every one of its limits admits it, and
// only then is it charged, so a refused request costs no quota. The clock
// is Redis's (TIME), so replicas need no synchronised clocks.
//
// Headers follows draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy
// (each policy's quota q and window w), RateLimit (remaining r, seconds to
// full quota t) and, on 429, Retry-After.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Rate is Requests per Per, with up to Burst at once.
type Rate struct {
	Requests int
	Per      time.Duration
	Burst    int
}

func (r Rate) interval() float64 { return float64(r.Per.Microseconds()) / float64(r.Requests) }

// Limit is one quota a request is charged against.
type Limit struct {
	// Policy names the quota in the RateLimit headers ("user", "ip", ...).
	Policy string
	// Key identifies who is counted (a user id, an IP); it is hashed into
	// the Redis key by the caller when it is personal data.
	Key  string
	Rate Rate
	// Cost is how many units the request takes (default 1).
	Cost int
}

// State is one limit's state after a check.
type State struct {
	Policy    string
	Rate      Rate
	Remaining int
	// Reset is the time until the quota is full again.
	Reset time.Duration
}

// Decision is the outcome of a check.
type Decision struct {
	Allowed bool
	// RetryAfter is how long until the request would be admitted (when
	// refused); a request that can never fit (cost above a burst) gets the
	// time until the quota is full.
	RetryAfter time.Duration
	// Exceeded names the policies that refused the request.
	Exceeded []string
	States   []State
}

// ErrUnavailable wraps Redis failures: the caller applies its fail-open or
// fail-closed policy.
var ErrUnavailable = errors.New("ratelimit: redis unavailable")

// gcra checks KEYS[i] with ARGV[3i+1..3i+3] = emission interval (µs), burst
// tolerance (µs), cost; all keys are charged only when all admit. It returns
// {allowed, retry_us, then per key: remaining, reset_us, exceeded}.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local allowed = 1
local retry = 0
local out = {0, 0}
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3*i-2])
  local tolerance = tonumber(ARGV[3*i-1])
  local cost = tonumber(ARGV[3*i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval * cost
  local allow_at = new_tat - tolerance
  local exceeded = 0
  local remaining, reset
  if now < allow_at then
    allowed = 0
    exceeded = 1
    local wait = allow_at - now
    if interval * cost > tolerance then wait = tat - now end
    if wait > retry then retry = wait end
    remaining = math.floor((now - (tat - tolerance)) / interval)
    reset = tat - now
  else
    remaining = math.floor((now - allow_at) / interval)
    reset = new_tat - now
  end
  tats[i] = new_tat
  out[#out+1] = remaining
  out[#out+1] = math.ceil(reset)
  out[#out+1] = exceeded
end
if allowed == 1 then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
  end
end
out[1] = allowed
out[2] = math.ceil(retry)
return out
`)

// Limiter checks limits in Redis.
type Limiter struct {
	rdb     redis.Scripter
	prefix  string
	timeout time.Duration
}

// Option configures New.
type Option func(*Limiter)

// WithPrefix sets the Redis key prefix (default "studio:rl:").
func WithPrefix(p string) Option { return func(l *Limiter) { l.prefix = p } }

// WithTimeout bounds each check (default 200ms).
func WithTimeout(d time.Duration) Option { return func(l *Limiter) { l.timeout = d } }

// New returns a Limiter on a Redis client.
func New(rdb redis.Scripter, opts ...Option) *Limiter {
	l := &Limiter{rdb: rdb, prefix: "studio:rl:", timeout: 200 * time.Millisecond}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Check charges every limit at once, or none of them.
func (l *Limiter) Check(ctx context.Context, limits ...Limit) (Decision, error) {
	if len(limits) == 0 {
		return Decision{Allowed: true}, nil
	}
	keys := make([]string, len(limits))
	args := make([]any, 0, 3*len(limits))
	for i, lim := range limits {
		if lim.Rate.Requests <= 0 || lim.Rate.Per <= 0 || lim.Rate.Burst <= 0 {
			return Decision{}, fmt.Errorf("ratelimit: policy %s: rate must be positive", lim.Policy)
		}
		cost := lim.Cost
		if cost <= 0 {
			cost = 1
		}
		iv := lim.Rate.interval()
		keys[i] = l.prefix + lim.Policy + ":" + lim.Key
		args = append(args, strconv.FormatFloat(iv, 'f', 3, 64), strconv.FormatFloat(iv*float64(lim.Rate.Burst), 'f', 3, 64), cost)
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := gcra.Run(ctx, l.rdb, keys, args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(res) != 2+3*len(limits) {
		return Decision{}, fmt.Errorf("%w: unexpected script result %v", ErrUnavailable, res)
	}
	d := Decision{Allowed: res[0] == 1, RetryAfter: time.Duration(res[1]) * time.Microsecond}
	for i, lim := range limits {
		r := res[2+3*i:]
		d.States = append(d.States, State{Policy: lim.Policy, Rate: lim.Rate,
			Remaining: int(max(r[0], 0)), Reset: time.Duration(r[1]) * time.Microsecond})
		if r[2] == 1 {
			d.Exceeded = append(d.Exceeded, lim.Policy)
		}
	}
	return d, nil
}

// Headers writes RateLimit-Policy and RateLimit for the states, and
// Retry-After when the request was refused.
func Headers(h http.Header, d Decision) {
	if len(d.States) == 0 {
		return
	}
	var pol, cur strings.Builder
	for i, s := range d.States {
		if i > 0 {
			pol.WriteString(", ")
			cur.WriteString(", ")
		}
		// q is the quota over the window w; bursts are GCRA's, so q is Burst
		// units, refilled at Requests per Per.
		fmt.Fprintf(&pol, "%q;q=%d;w=%d", s.Policy, s.Rate.Requests, seconds(s.Rate.Per))
		fmt.Fprintf(&cur, "%q;r=%d;t=%d", s.Policy, s.Remaining, seconds(s.Reset))
	}
	h.Set("RateLimit-Policy", pol.String())
	h.Set("RateLimit", cur.String())
	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(max(seconds(d.RetryAfter), 1), 10))
	}
}

// seconds rounds up to whole seconds.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}
