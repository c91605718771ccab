package decide

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache keeps decisions in Redis. A key carries the organization, its policy
// version, the subject and a hash of what was asked (permission and resource,
// or a policy name); Invalidate bumps the organization's version, so every
// decision cached before is never read again and expires with its TTL.
type Cache struct {
	rdb *redis.Client
	ttl time.Duration
}

// DefaultTTL bounds how long a decision lives even without an invalidation.
const DefaultTTL = 5 * time.Minute

// NewCache returns a decision cache on rdb; ttl <= 0 means DefaultTTL.
func NewCache(rdb *redis.Client, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Cache{rdb: rdb, ttl: ttl}
}

func versionKey(orgID string) string { return "policy:version:" + orgID }

// Version returns orgID's policy version (0 before the first change).
func (c *Cache) Version(ctx context.Context, orgID string) (int64, error) {
	v, err := c.rdb.Get(ctx, versionKey(orgID)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("decision cache: version: %w", err)
	}
	return v, nil
}

// Invalidate bumps orgID's policy version: decisions cached before are not read again.
func (c *Cache) Invalidate(ctx context.Context, orgID string) error {
	if err := c.rdb.Incr(ctx, versionKey(orgID)).Err(); err != nil {
		return fmt.Errorf("decision cache: invalidate: %w", err)
	}
	return nil
}

// key is the cache key of one question at version v.
func key(kind, orgID string, v int64, subject, question string) string {
	h := sha256.Sum256([]byte(question))
	return "policy:" + kind + ":" + orgID + ":" + strconv.FormatInt(v, 10) + ":" + subject + ":" +
		base64.RawURLEncoding.EncodeToString(h[:18])
}

// get returns the cached values of keys (nil where absent) in one round trip.
func (c *Cache) get(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("decision cache: get: %w", err)
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = []byte(s)
		}
	}
	return out, nil
}

// set stores values under their keys with the TTL in one round trip.
func (c *Cache) set(ctx context.Context, values map[string][]byte) error {
	if len(values) == 0 {
		return nil
	}
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, v := range values {
			p.Set(ctx, k, v, c.ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("decision cache: set: %w", err)
	}
	return nil
}
