package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/studio-platform/studio/subgraphs/documents/graph/model"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/documents/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// Defaults of Limits.
const (
	// DefaultMaxBytes is the largest document (uploadDocument and completeUpload).
	DefaultMaxBytes = 200 << 20
	// DefaultPresignExpiry is how long a requestUpload URL stays valid.
	DefaultPresignExpiry = 15 * time.Minute
)

// Reasons (extensions.reason) of the BAD_USER_INPUT errors of uploads.
const (
	ReasonTooLarge        = "FILE_TOO_LARGE"
	ReasonEmpty           = "FILE_EMPTY"
	ReasonUnsupportedType = "UNSUPPORTED_TYPE"
	ReasonSizeMismatch    = "SIZE_MISMATCH"
	ReasonNotUploaded     = "UPLOAD_NOT_FOUND"
	ReasonExpired         = "UPLOAD_EXPIRED"
)

// Limits bound uploads.
type Limits struct {
	// MaxBytes is the largest document (DefaultMaxBytes when zero).
	MaxBytes int64
	// Allowed are the accepted sniffed content types (objects.DefaultAllowed when nil).
	Allowed []string
	// PresignExpiry is how long a requestUpload URL is valid (DefaultPresignExpiry when zero).
	PresignExpiry time.Duration
}

// WithDefaults fills the zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.Allowed == nil {
		l.Allowed = objects.DefaultAllowed
	}
	if l.PresignExpiry <= 0 {
		l.PresignExpiry = DefaultPresignExpiry
	}
	return l
}

func refuse(reason, format string, args ...any) *kit.Error {
	return &kit.Error{Code: kit.CodeBadUserInput, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func (r *Resolver) tooLarge() *kit.Error {
	return refuse(ReasonTooLarge, "the file is larger than the limit of %d bytes", r.Limits.MaxBytes)
}

// check sniffs the head of a file named filename and refuses what is empty
// or not allowed.
func (r *Resolver) check(filename string) objects.Check {
	return func(head []byte) (string, error) {
		if len(head) == 0 {
			return "", refuse(ReasonEmpty, "the file is empty")
		}
		ct := objects.Sniff(head, filename)
		if !slices.Contains(r.Limits.Allowed, ct) {
			return "", refuse(ReasonUnsupportedType, "files of type %s are not accepted (allowed: %s)", ct, strings.Join(r.Limits.Allowed, ", "))
		}
		return ct, nil
	}
}

// target validates the ids and filename common to both upload paths.
func target(v *kit.Input, projectID string, evidenceID *string, filename string) (string, *string, string) {
	v.MaxLen("projectId", projectID, kit.MaxID)
	if !kit.IsUUID(projectID) {
		v.Problemf("projectId must be a project id")
	}
	var ev *string
	if evidenceID != nil {
		v.MaxLen("evidenceId", *evidenceID, kit.MaxID)
		if !kit.IsUUID(*evidenceID) {
			v.Problemf("evidenceId must be an evidence id")
		}
		e := strings.ToLower(*evidenceID)
		ev = &e
	}
	name := v.Text("filename", path.Base(strings.ReplaceAll(filename, "\\", "/")), kit.MaxName)
	return strings.ToLower(projectID), ev, name
}

// uploadDocument streams a multipart-request file into object storage, then
// records it; on any failure the object is removed, so nothing is left.
func (r *Resolver) uploadDocument(ctx context.Context, in model.UploadDocumentInput) (*model.Document, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	filename := in.File.Filename
	if in.Filename != nil {
		filename = *in.Filename
	}
	projectID, evidenceID, filename := target(&v, in.ProjectID, in.EvidenceID, filename)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.File.Size > r.Limits.MaxBytes {
		return nil, r.tooLarge()
	}
	d := &model.Document{ID: uuid.NewString(), OrgID: c.OrgID, ProjectID: projectID, EvidenceID: evidenceID,
		UploadedByID: c.Subject, Filename: filename}
	return r.Put(ctx, d, in.File.File, in.File.Size)
}

// Put streams file (size bytes, or unknown when not positive) into object
// storage as document d — its id, organization, project, evidence, uploader
// and filename set — and records it with its first processing job (QUEUED:
// the worker takes it from there). The type is sniffed and checked before
// any byte is written; on any failure the object is removed, so nothing is
// left. uploadDocument and the demo seed store documents this way.
func (r *Resolver) Put(ctx context.Context, d *model.Document, file io.Reader, size int64) (*model.Document, error) {
	d.ObjectKey = objects.Key(d.OrgID, d.ID)
	d.Status = model.DocumentStatusUploaded
	if size <= 0 {
		size = -1
	}
	var ct string
	check := r.check(d.Filename)
	w, err := r.Objects.Put(ctx, d.ObjectKey, file, size, r.Limits.MaxBytes, func(head []byte) (string, error) {
		var err error
		ct, err = check(head)
		return ct, err
	})
	switch {
	case errors.Is(err, objects.ErrTooLarge):
		return nil, r.tooLarge()
	case err != nil:
		return nil, err
	}
	d.ContentType, d.Size, d.Sha256 = ct, w.Size, w.SHA256
	if _, err := r.Store.CreateDocument(ctx, d); err != nil {
		return nil, errors.Join(err, r.Objects.Remove(ctx, d.ObjectKey))
	}
	return d, nil
}

// requestUpload records a pending upload and presigns a PUT of its object.
func (r *Resolver) requestUpload(ctx context.Context, in model.RequestUploadInput) (*model.UploadTicket, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	var v kit.Input
	projectID, evidenceID, filename := target(&v, in.ProjectID, in.EvidenceID, in.Filename)
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case in.Size <= 0:
		return nil, refuse(ReasonEmpty, "size must be positive")
	case int64(in.Size) > r.Limits.MaxBytes:
		return nil, r.tooLarge()
	}
	p := &store.Pending{ID: uuid.NewString(), OrgID: c.OrgID, ProjectID: projectID, EvidenceID: evidenceID,
		UploadedByID: c.Subject, Filename: filename, Size: int64(in.Size), ExpiresAt: time.Now().Add(r.Limits.PresignExpiry)}
	p.ObjectKey = objects.Key(p.OrgID, p.ID)
	url, err := r.Objects.PresignPut(ctx, p.ObjectKey, r.Limits.PresignExpiry)
	if err != nil {
		return nil, err
	}
	if err := r.Store.CreatePending(ctx, p); err != nil {
		return nil, err
	}
	return &model.UploadTicket{DocumentID: p.ID, URL: url, ExpiresAt: p.ExpiresAt}, nil
}

// completeUpload checks the object a presigned PUT stored and records it.
// Any refusal deletes the object and the pending upload.
func (r *Resolver) completeUpload(ctx context.Context, id string) (*model.Document, error) {
	c, err := kit.Claims(ctx)
	if err != nil {
		return nil, err
	}
	if !kit.IsUUID(id) {
		return nil, kit.NotFound("upload", id)
	}
	p, err := r.Store.PendingUpload(ctx, c.OrgID, strings.ToLower(id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, kit.NotFound("upload", id)
	case err != nil:
		return nil, err
	}
	discard := func(refusal error) error {
		return errors.Join(refusal, r.Objects.Remove(ctx, p.ObjectKey), r.Store.DeletePending(context.WithoutCancel(ctx), p.OrgID, p.ID))
	}
	if time.Now().After(p.ExpiresAt) {
		return nil, discard(refuse(ReasonExpired, "the upload expired at %s", p.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	size, err := r.Objects.Size(ctx, p.ObjectKey)
	switch {
	case errors.Is(err, objects.ErrNotFound):
		return nil, refuse(ReasonNotUploaded, "nothing was uploaded for %s yet", p.ID)
	case err != nil:
		return nil, err
	case size > r.Limits.MaxBytes:
		return nil, discard(r.tooLarge())
	case size != p.Size:
		return nil, discard(refuse(ReasonSizeMismatch, "%d bytes were uploaded, %d were announced", size, p.Size))
	}
	w, ct, err := r.Objects.Inspect(ctx, p.ObjectKey, r.check(p.Filename))
	if err != nil {
		var ke *kit.Error
		if errors.As(err, &ke) {
			return nil, discard(err)
		}
		return nil, err
	}
	d := &model.Document{ID: p.ID, OrgID: p.OrgID, ProjectID: p.ProjectID, EvidenceID: p.EvidenceID,
		UploadedByID: p.UploadedByID, Filename: p.Filename, ContentType: ct, Size: w.Size, Sha256: w.SHA256,
		ObjectKey: p.ObjectKey, Status: model.DocumentStatusUploaded}
	switch _, err := r.Store.CompletePending(ctx, d); {
	case errors.Is(err, store.ErrNotFound):
		return nil, kit.NotFound("upload", id) // completed concurrently: that completion owns the object
	case err != nil:
		return nil, discard(err)
	}
	return d, nil
}
