package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The GraphiQL playground: our own page and script plus the pinned GraphiQL
// and React browser builds copied by graphiql/update.sh. Everything is
// embedded, so the page loads nothing from the internet and `go build` needs
// no npm.
//
//go:embed graphiql/index.html graphiql/studio.js graphiql/studio.css graphiql/assets
var graphiqlFiles embed.FS

// graphiqlCSP allows only same-origin scripts and requests; GraphiQL needs
// inline styles and data: URLs (its fonts are inlined in the CSS).
const graphiqlCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", graphiqlCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// asset is one embedded file with its ETag and a lazily built gzip variant. The
// bytes stay in the binary: they are streamed from the embedded FS, not copied
// onto the heap (4 MB that a router nobody opens GraphiQL on would carry).
type asset struct {
	name   string
	fsys   fs.FS
	size   int64
	etag   string
	gzOnce sync.Once
	gz     []byte
}

func (a *asset) open() io.ReadSeeker {
	f, err := a.fsys.Open(a.name)
	if err != nil {
		panic(err) // cannot happen: embedded files are readable
	}
	return f.(io.ReadSeeker) // embed files are seekable
}

// playground serves the GraphiQL page and its files from the embedded FS.
type playground struct {
	files map[string]*asset // by path under graphiql/, e.g. "assets/graphiql.min.js"
}

func newPlayground() *playground {
	p := &playground{files: map[string]*asset{}}
	sub, err := fs.Sub(graphiqlFiles, "graphiql")
	if err != nil {
		panic(err) // cannot happen: the embed pattern guarantees the folder
	}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := sub.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		sum := h.Sum(nil)
		p.files[name] = &asset{name: name, fsys: sub, size: n, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err) // cannot happen: embedded files are readable
	}
	return p
}

func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = io.Copy(zw, a.open())
		_ = zw.Close()
		a.gz = buf.Bytes()
	})
	return a.gz
}

// serve writes the asset with ETag revalidation, Range support and gzip when
// the client accepts it (worth it: graphiql.min.js is 3.5 MB raw).
func (a *asset) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	h := w.Header()
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	var content io.ReadSeeker
	etag := a.etag
	compressible := strings.HasSuffix(a.name, ".js") || strings.HasSuffix(a.name, ".css") || strings.HasSuffix(a.name, ".html")
	if compressible && a.size > 1024 && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		content, etag = bytes.NewReader(a.gzipped()), strings.TrimSuffix(a.etag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	} else {
		content = a.open()
	}
	h.Set("ETag", etag)
	if ct := contentType(a.name); ct != "" {
		h.Set("Content-Type", ct)
	}
	http.ServeContent(w, r, a.name, time.Time{}, content)
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		if _, q, ok := strings.Cut(strings.ReplaceAll(params, " ", ""), "q="); ok {
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
		return true
	}
	return false
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return ""
}

// page serves the playground's HTML page.
func (p *playground) page() http.Handler {
	page := p.files["index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header())
		page.serve(w, r, "no-cache")
	})
}

// assets serves /graphiql/<name> (prefix already stripped): our
// script and style and the GraphiQL/React builds under assets/.
func (p *playground) assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := p.files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok || a.name == "index.html" {
			http.NotFound(w, r)
			return
		}
		cache := "public, max-age=86400"
		if !strings.HasPrefix(a.name, "assets/") {
			cache = "no-cache" // our own files change with the router; revalidate by ETag
		}
		a.serve(w, r, cache)
	})
}
