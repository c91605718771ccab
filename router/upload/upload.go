// Package upload serves the GraphQL multipart request spec
// (https://github.com/jaydenseric/graphql-multipart-request-spec) at the
// router. Read takes a client's request up to its files (the operations and
// map fields, both small and bounded); the gateway validates and plans the
// operation as usual, Bind gives each file to the one fetch whose variables
// hold it, and For makes that fetch's subgraph request a multipart request
// again, whose file parts are copied from the client's body as they arrive.
// No file is ever held in memory or on disk: only small copy buffers.
//
// Streaming has the rule Apollo Router's stream mode has: the files must
// arrive in the order the plan sends them, each to one fetch, and no two
// fetches carrying files may run in parallel. An operation that breaks it is
// refused before anything runs (CodeCannotStream).
package upload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/transport"
)

// Error codes (extensions.code) of refused multipart requests.
const (
	// CodeInvalid: the multipart request is malformed (no operations or map
	// field first, a map path that points nowhere, a part nobody announced).
	CodeInvalid = "UPLOAD_INVALID"
	// CodeTooManyFiles: more files than Limits.MaxFiles.
	CodeTooManyFiles = "UPLOAD_TOO_MANY_FILES"
	// CodeTooLarge: a file over Limits.MaxFileBytes, or an operations or map
	// field over the body limit (HTTP 413).
	CodeTooLarge = "PAYLOAD_TOO_LARGE"
	// CodeNotMutation: files are only accepted with a mutation.
	CodeNotMutation = "UPLOAD_NOT_ALLOWED"
	// CodeCannotStream: the plan would need a file twice, out of the order
	// the client sends them, or in two parallel fetches.
	CodeCannotStream = "UPLOAD_CANNOT_STREAM"
)

// Defaults of Limits.
const (
	DefaultMaxFiles     = 5
	DefaultMaxFileBytes = 200 << 20
	DefaultTimeout      = 10 * time.Minute
)

// Limits bound multipart requests.
type Limits struct {
	// MaxFiles is the most files in one request (DefaultMaxFiles when zero).
	MaxFiles int
	// MaxFileBytes is the largest file (DefaultMaxFileBytes when zero).
	MaxFileBytes int64
	// Timeout bounds a request carrying files, from its arrival to its
	// response, reading and forwarding the files included (DefaultTimeout
	// when zero); it replaces the request and subgraph timeouts for it.
	Timeout time.Duration
}

// WithDefaults fills the zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	return l
}

// Error is a refused multipart request.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func refuse(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *Error {
	return refuse(http.StatusBadRequest, CodeInvalid, format, args...)
}

// IsMultipart reports whether r is a multipart/form-data request.
func IsMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// file is one entry of the map field: a part name and where its file goes.
type file struct {
	key   string
	paths [][]string // under "variables.", split at the dots
	fetch int        // the fetch carrying it (Bind); -1: none
}

// Request is a client's multipart request, read up to its files.
type Request struct {
	// Operations is the operations field: the JSON GraphQL request.
	Operations []byte
	limits     Limits
	files      []file // in the map's order

	mu      sync.Mutex
	mr      *multipart.Reader
	read    map[int]bool // files read from mr (sent or skipped)
	fetches map[int][]int
	err     *Error // what went wrong while streaming
}

// Read reads r's operations and map fields (each at most maxFieldBytes) and
// leaves the files unread. An error is an *Error.
func Read(r *http.Request, maxFieldBytes int64, limits Limits) (*Request, error) {
	limits = limits.WithDefaults()
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, invalid("not a multipart request: %v", err)
	}
	ops, err := field(mr, "operations", maxFieldBytes)
	if err != nil {
		return nil, err
	}
	raw, err := field(mr, "map", maxFieldBytes)
	if err != nil {
		return nil, err
	}
	files, err := parseMap(raw, limits.MaxFiles)
	if err != nil {
		return nil, err
	}
	return &Request{Operations: ops, limits: limits, files: files, mr: mr, read: map[int]bool{}}, nil
}

// field reads the next part, which must be the form field name.
func field(mr *multipart.Reader, name string, max int64) ([]byte, error) {
	p, err := mr.NextPart()
	if err != nil {
		return nil, invalid("missing the %q field: a multipart request starts with operations, then map, then the files (%v)", name, err)
	}
	defer p.Close()
	if p.FormName() != name {
		return nil, invalid("the field %q came where %q was expected: a multipart request starts with operations, then map, then the files", p.FormName(), name)
	}
	b, err := io.ReadAll(io.LimitReader(p, max+1))
	if err != nil {
		return nil, invalid("cannot read the %q field: %v", name, err)
	}
	if int64(len(b)) > max {
		return nil, refuse(http.StatusRequestEntityTooLarge, CodeTooLarge, "the %q field is larger than the limit of %d bytes", name, max)
	}
	return b, nil
}

// parseMap reads the map field, keeping its order: {"0": ["variables.a"], …}.
func parseMap(raw []byte, maxFiles int) ([]file, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, invalid("the map field must be a JSON object of file names to lists of paths")
	}
	var files []file
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, invalid("the map field is not valid JSON: %v", err)
		}
		key := t.(string)
		var paths []string
		if err := dec.Decode(&paths); err != nil || len(paths) == 0 {
			return nil, invalid("the map entry %q must be a non-empty list of paths", key)
		}
		if seen[key] {
			return nil, invalid("the map names the file %q twice", key)
		}
		seen[key] = true
		if len(files) == maxFiles {
			return nil, refuse(http.StatusBadRequest, CodeTooManyFiles, "more than %d files in one request", maxFiles)
		}
		f := file{key: key, fetch: -1}
		for _, p := range paths {
			segs := strings.Split(p, ".")
			if len(segs) < 2 || segs[0] != "variables" || segs[1] == "" {
				return nil, invalid("the map path %q must start with \"variables.\" and name a variable (batched requests are not supported)", p)
			}
			f.paths = append(f.paths, segs[1:])
		}
		files = append(files, f)
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid("the map field is not valid JSON: %v", err)
	}
	return files, nil
}

// Placeholder is the value a file's place holds while the operation is
// validated (an Upload is a custom scalar: any non-null value passes); Clear
// puts null back before the variables go to a subgraph.
const Placeholder = "<file>"

// Fill puts Placeholder where the map says each file goes; every such place
// must exist and be null (the spec's operations field). It returns the new
// variables.
func (u *Request) Fill(vars map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	decoded := map[string]any{}
	for _, f := range u.files {
		for _, p := range f.paths {
			name := p[0]
			v, ok := decoded[name]
			if !ok {
				raw, has := vars[name]
				if !has {
					return nil, invalid("the map path variables.%s points to no variable", strings.Join(p, "."))
				}
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.UseNumber()
				if err := dec.Decode(&v); err != nil {
					return nil, invalid("variable %q is not valid JSON", name)
				}
			}
			v, err := set(v, p[1:], Placeholder, strings.Join(p, "."))
			if err != nil {
				return nil, err
			}
			decoded[name] = v
		}
	}
	out := make(map[string]json.RawMessage, len(vars))
	for k, v := range vars {
		out[k] = v
	}
	for name, v := range decoded {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, invalid("variable %q: %v", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// set replaces the null at path under v by val.
func set(v any, path []string, val any, where string) (any, error) {
	if len(path) == 0 {
		if v != nil {
			return nil, invalid("the map path variables.%s must point to a null value", where)
		}
		return val, nil
	}
	switch c := v.(type) {
	case map[string]any:
		child, ok := c[path[0]]
		if !ok {
			return nil, invalid("the map path variables.%s points to no value", where)
		}
		n, err := set(child, path[1:], val, where)
		if err != nil {
			return nil, err
		}
		c[path[0]] = n
		return c, nil
	case []any:
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(c) {
			return nil, invalid("the map path variables.%s points to no value", where)
		}
		n, err := set(c[i], path[1:], val, where)
		if err != nil {
			return nil, err
		}
		c[i] = n
		return c, nil
	default:
		return nil, invalid("the map path variables.%s points to no value", where)
	}
}

// Clear puts null back where Fill put Placeholder, in the coerced variables.
func (u *Request) Clear(vars map[string]any) {
	for _, f := range u.files {
		for _, p := range f.paths {
			v, ok := vars[p[0]]
			if !ok {
				continue
			}
			if len(p) == 1 {
				vars[p[0]] = nil
				continue
			}
			clearAt(v, p[1:])
		}
	}
}

func clearAt(v any, path []string) {
	switch c := v.(type) {
	case map[string]any:
		if len(path) == 1 {
			if _, ok := c[path[0]]; ok {
				c[path[0]] = nil
			}
			return
		}
		clearAt(c[path[0]], path[1:])
	case []any:
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(c) {
			return
		}
		if len(path) == 1 {
			c[i] = nil
			return
		}
		clearAt(c[i], path[1:])
	}
}

// Bind gives each file to the fetch of p whose variables hold it, and checks
// that the files can be streamed: each to one fetch, in the order they
// arrive, no two fetches with files in parallel. A file no fetch uses is
// skipped when it arrives.
func (u *Request) Bind(p *plan.Plan) error {
	var order []*plan.Fetch // fetches carrying files, in execution order
	var walk func(n plan.Node) (int, error)
	walk = func(n plan.Node) (int, error) {
		switch n := n.(type) {
		case *plan.Sequence:
			total := 0
			for _, c := range n.Nodes {
				k, err := walk(c)
				if err != nil {
					return 0, err
				}
				total += k
			}
			return total, nil
		case *plan.Parallel:
			total, branches := 0, 0
			for _, c := range n.Nodes {
				k, err := walk(c)
				if err != nil {
					return 0, err
				}
				if k > 0 {
					branches++
				}
				total += k
			}
			if branches > 1 {
				return 0, refuse(http.StatusBadRequest, CodeCannotStream, "the operation sends files to subgraphs in parallel: they cannot be streamed; send one upload per mutation field, or one request each")
			}
			return total, nil
		case *plan.Flatten:
			return walk(n.Node)
		case *plan.Fetch:
			if u.carries(n) {
				order = append(order, n)
				return 1, nil
			}
		}
		return 0, nil
	}
	if p.Root != nil {
		if _, err := walk(p.Root); err != nil {
			return err
		}
	}
	u.fetches = map[int][]int{}
	pos := make(map[int]int, len(order)) // fetch id → its place in order
	for i, f := range order {
		pos[f.ID] = i
	}
	last := -1
	for i := range u.files {
		f := &u.files[i]
		f.fetch = -1
		for _, fe := range order {
			if !u.uses(fe, f) {
				continue
			}
			if f.fetch >= 0 {
				return refuse(http.StatusBadRequest, CodeCannotStream, "the file %q goes to two subgraph requests: a streamed file can be sent once", f.key)
			}
			f.fetch = fe.ID
		}
		if f.fetch < 0 {
			continue
		}
		if pos[f.fetch] < last {
			return refuse(http.StatusBadRequest, CodeCannotStream, "the file %q arrives after a file the plan sends later: send the files in the order the mutation's fields use them", f.key)
		}
		last = pos[f.fetch]
		u.fetches[f.fetch] = append(u.fetches[f.fetch], i)
	}
	return nil
}

func (u *Request) carries(fe *plan.Fetch) bool {
	for i := range u.files {
		if u.uses(fe, &u.files[i]) {
			return true
		}
	}
	return false
}

func (u *Request) uses(fe *plan.Fetch, f *file) bool {
	for _, p := range f.paths {
		for _, v := range fe.Variables {
			if v == p[0] {
				return true
			}
		}
	}
	return false
}

// For returns what makes fe's request a multipart request carrying its
// files (nil when it carries none). Bind must have run.
func (u *Request) For(fe *plan.Fetch) *transport.Upload {
	idx := u.fetches[fe.ID]
	if len(idx) == 0 {
		return nil
	}
	m := map[string][]string{}
	for _, i := range idx {
		f := u.files[i]
		for _, p := range f.paths {
			m[f.key] = append(m[f.key], "variables."+strings.Join(p, "."))
		}
	}
	raw, _ := json.Marshal(m)
	return &transport.Upload{Map: raw, WriteFiles: func(mw *multipart.Writer) error { return u.write(mw, idx) }}
}

// write copies the files idx from the client's body into mw, in order,
// skipping the parts of files no fetch uses.
func (u *Request) write(mw *multipart.Writer, idx []int) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, i := range idx {
		if err := u.copyFile(mw, i); err != nil {
			if u.err == nil {
				var ue *Error
				if !errors.As(err, &ue) {
					ue = invalid("reading the file %q failed: %v", u.files[i].key, err)
				}
				u.err = ue
			}
			return u.err
		}
	}
	return nil
}

func (u *Request) copyFile(mw *multipart.Writer, i int) error {
	want := u.files[i].key
	for {
		p, err := u.mr.NextPart()
		if errors.Is(err, io.EOF) {
			return invalid("the file %q is missing from the request", want)
		}
		if err != nil {
			return err
		}
		name := p.FormName()
		j := u.index(name)
		switch {
		case j < 0:
			return invalid("the part %q is not a file the map names", name)
		case u.read[j]:
			return invalid("the file %q came twice", name)
		case j != i && u.files[j].fetch >= 0:
			return refuse(http.StatusBadRequest, CodeCannotStream, "the file %q came before %q: send the files in the map's order", name, want)
		case j != i: // a file nothing uses: skipped
			u.read[j] = true
			if _, err := io.Copy(io.Discard, u.bounded(p, name)); err != nil {
				return err
			}
			continue
		}
		u.read[i] = true
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": name, "filename": p.FileName()}))
		ct := p.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		w, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, u.bounded(p, name))
		return err
	}
}

func (u *Request) index(key string) int {
	for i, f := range u.files {
		if f.key == key {
			return i
		}
	}
	return -1
}

// bounded reads a file part and fails past Limits.MaxFileBytes.
func (u *Request) bounded(r io.Reader, name string) io.Reader {
	return &limited{r: r, left: u.limits.MaxFileBytes, max: u.limits.MaxFileBytes, name: name}
}

type limited struct {
	r         io.Reader
	left, max int64
	name      string
}

func (l *limited) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, refuse(http.StatusRequestEntityTooLarge, CodeTooLarge, "the file %q is larger than the limit of %d bytes", l.name, l.max)
	}
	return n, err
}

// Err is what went wrong while streaming the files (nil: nothing): the
// request's answer must be this refusal, whatever the subgraph said.
func (u *Request) Err() *Error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

// Limits returns the request's limits.
func (u *Request) Limits() Limits { return u.limits }
