package process

import (
	"bytes"
	"strings"

	"github.com/ledongthuc/pdf"
)

// pdfText returns the text of a PDF, page after page (github.com/ledongthuc/pdf,
// pure Go; see docs/architecture.md for why this library). A PDF it cannot
// read — malformed, encrypted — is poison; the library panics on some
// malformed input, so panics are recovered here.
func pdfText(raw []byte) (text string, err error) {
	defer func() {
		if r := recover(); r != nil {
			text, err = "", poison("PDF: unreadable (%v)", r)
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return "", poison("PDF: %v", err)
	}
	var b strings.Builder
	for i := 1; i <= r.NumPage(); i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		t, err := p.GetPlainText(nil)
		if err != nil {
			return "", poison("PDF page %d: %v", i, err)
		}
		b.WriteString(strings.TrimSpace(t))
		b.WriteString("\n\n")
	}
	// PostgreSQL text holds valid UTF-8 without NUL; glyphs without a
	// Unicode mapping may come out as either.
	return strings.ReplaceAll(strings.ToValidUTF8(strings.TrimSpace(b.String()), "\uFFFD"), "\x00", ""), nil
}
