package objects

import (
	"bytes"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"
)

// SniffLen is how many leading bytes Sniff looks at (net/http's rule).
const SniffLen = 512

// Content types the platform names.
const (
	TypePDF      = "application/pdf"
	TypeText     = "text/plain"
	TypeMarkdown = "text/markdown"
	TypeHTML     = "text/html"
	TypePNG      = "image/png"
	TypeJPEG     = "image/jpeg"
)

// DefaultAllowed are the content types accepted by default.
var DefaultAllowed = []string{TypePDF, TypeText, TypeMarkdown, TypeHTML, TypePNG, TypeJPEG}

// Sniff names the content type of a file from its first bytes (the client's
// claim is never trusted): net/http.DetectContentType (the WHATWG MIME
// sniffing algorithm, which knows %PDF-, HTML, PNG, JPEG and UTF-8 text),
// parameters dropped, then: text that is not valid UTF-8 is
// application/octet-stream; UTF-8 text named *.md or *.markdown, or opening
// with a Markdown heading, is text/markdown.
func Sniff(head []byte, filename string) string {
	ct, params, err := mime.ParseMediaType(http.DetectContentType(head))
	if err != nil {
		return "application/octet-stream"
	}
	if ct == TypeText {
		if cs := params["charset"]; cs != "" && cs != "utf-8" {
			return "application/octet-stream"
		}
		if !validUTF8Prefix(head) {
			return "application/octet-stream"
		}
		switch strings.ToLower(path.Ext(filename)) {
		case ".md", ".markdown":
			return TypeMarkdown
		}
		if trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff"); bytes.HasPrefix(trimmed, []byte("# ")) {
			return TypeMarkdown
		}
	}
	return ct
}

// validUTF8Prefix reports whether head is UTF-8; when head is a full
// SniffLen prefix, a rune cut by its end is allowed.
func validUTF8Prefix(head []byte) bool {
	if len(head) == SniffLen {
		for i := 1; i < utf8.UTFMax && i <= len(head); i++ {
			if utf8.RuneStart(head[len(head)-i]) {
				if !utf8.FullRune(head[len(head)-i:]) {
					head = head[:len(head)-i]
				}
				break
			}
		}
	}
	return utf8.Valid(head)
}
