// Package objects keeps the documents' bytes in S3-compatible object storage
// (MinIO in development and tests) with minio-go: streamed writes that hash
// and sniff the bytes as they pass, presigned PUT URLs for large uploads,
// and the content-type rules (Sniff, Allowed).
package objects

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// PartSize is the multipart part size of streamed writes: a write of unknown
// length holds at most one part in memory.
const PartSize = 8 << 20

// ErrTooLarge is returned by Put when the bytes exceed its limit; nothing is
// kept.
var ErrTooLarge = errors.New("object larger than the limit")

// Config says where the bucket is.
type Config struct {
	// URL is the S3 endpoint, http(s)://host:port (S3_URL).
	URL       string
	AccessKey string
	SecretKey string
	// Bucket is created at Open when missing.
	Bucket string
}

// Bucket is one bucket of an S3 server.
type Bucket struct {
	client *minio.Client
	name   string
}

// Open connects to the S3 server and creates the bucket when missing.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	var errs []error
	if cfg.URL == "" {
		errs = append(errs, errors.New("objects: URL (S3_URL) is required"))
	}
	if cfg.Bucket == "" {
		errs = append(errs, errors.New("objects: Bucket is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("objects: S3 URL %q: want http(s)://host:port", cfg.URL)
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: u.Scheme == "https",
	})
	if err != nil {
		return nil, fmt.Errorf("objects: %w", err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("objects: bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return nil, fmt.Errorf("objects: create bucket %s: %w", cfg.Bucket, err)
		}
	}
	return &Bucket{client: client, name: cfg.Bucket}, nil
}

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Ping checks that the bucket is reachable (readiness).
func (b *Bucket) Ping(ctx context.Context) error {
	if _, err := b.client.BucketExists(ctx, b.name); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	return nil
}

// Written is what Put learned from the bytes it stored.
type Written struct {
	Size   int64
	SHA256 string // hex
	// Head is the first SniffLen bytes (fewer for a shorter object), for Sniff.
	Head []byte
}

// Check inspects the head of an object before any byte is written: a
// non-nil error refuses the object.
type Check func(head []byte) (contentType string, err error)

// Put streams r into key: at most max bytes (ErrTooLarge past it), hashed
// with SHA-256 as they pass and never held whole in memory (one part at a
// time, PartSize). check sees the first SniffLen bytes before anything is
// written and names the content type. size is the length when known, else
// -1. On any error nothing is left under key.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size, max int64, check Check) (Written, error) {
	if size > max {
		return Written{}, ErrTooLarge
	}
	br := bufio.NewReaderSize(r, SniffLen)
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return Written{}, fmt.Errorf("read upload: %w", err)
	}
	contentType, err := check(head)
	if err != nil {
		return Written{}, err
	}
	h := sha256.New()
	lr := &limitReader{r: br, left: max}
	info, err := b.client.PutObject(ctx, b.name, key, io.TeeReader(lr, h), size, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    PartSize,
		NumThreads:  1,
	})
	if err != nil {
		// minio-go aborts a failed multipart upload; a failed single PUT
		// stores nothing. Remove in case the server kept a whole object.
		b.remove(key)
		if lr.over {
			return Written{}, ErrTooLarge
		}
		return Written{}, fmt.Errorf("put object %s: %w", key, err)
	}
	if lr.over {
		b.remove(key)
		return Written{}, ErrTooLarge
	}
	return Written{Size: info.Size, SHA256: hex.EncodeToString(h.Sum(nil)), Head: append([]byte(nil), head...)}, nil
}

// remove deletes key in the background of a failure, with its own deadline
// (the request's context may be what failed).
func (b *Bucket) remove(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = b.client.RemoveObject(ctx, b.name, key, minio.RemoveObjectOptions{})
}

// Remove deletes key (no error when it is absent). It runs on its own
// deadline, not ctx's alone, so a cancelled request still cleans up.
func (b *Bucket) Remove(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := b.client.RemoveObject(ctx, b.name, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("remove object %s: %w", key, err)
	}
	return nil
}

// PresignPut returns a URL a client may PUT key's bytes to until expiry.
func (b *Bucket) PresignPut(ctx context.Context, key string, expiry time.Duration) (string, error) {
	u, err := b.client.PresignedPutObject(ctx, b.name, key, expiry)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return u.String(), nil
}

// ErrNotFound is returned for an absent object.
var ErrNotFound = errors.New("object not found")

// Size returns the size of key (ErrNotFound when absent).
func (b *Bucket) Size(ctx context.Context, key string) (int64, error) {
	info, err := b.client.StatObject(ctx, b.name, key, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return 0, ErrNotFound
		}
		return 0, fmt.Errorf("stat %s: %w", key, err)
	}
	return info.Size, nil
}

// Open streams key's bytes (ErrNotFound when absent). The caller closes it.
func (b *Bucket) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := b.client.GetObject(ctx, b.name, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return obj, nil
}

// Inspect reads key through once: its size, SHA-256 and head, checked by
// check (e.g. after a presigned PUT). Nothing is held in memory but the head.
func (b *Bucket) Inspect(ctx context.Context, key string, check Check) (Written, string, error) {
	rc, err := b.Open(ctx, key)
	if err != nil {
		return Written{}, "", err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, SniffLen)
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return Written{}, "", fmt.Errorf("read %s: %w", key, err)
	}
	contentType, err := check(head)
	if err != nil {
		return Written{}, "", err
	}
	h := sha256.New()
	n, err := io.Copy(h, br)
	if err != nil {
		return Written{}, "", fmt.Errorf("read %s: %w", key, err)
	}
	return Written{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Head: append([]byte(nil), head...)}, contentType, nil
}

// Keys lists up to limit keys under prefix (tests, tools).
func (b *Bucket) Keys(ctx context.Context, prefix string, limit int) ([]string, error) {
	var keys []string
	for obj := range b.client.ListObjects(ctx, b.name, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %s: %w", b.name, obj.Err)
		}
		keys = append(keys, obj.Key)
		if len(keys) >= limit {
			break
		}
	}
	return keys, nil
}

// limitReader reads at most left bytes and fails past them.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		l.over = true
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.over = true
		return 0, ErrTooLarge
	}
	return n, err
}

// Key is where a document's bytes are: <organization>/<document>.
func Key(orgID, documentID string) string {
	return strings.ToLower(orgID) + "/" + strings.ToLower(documentID)
}
