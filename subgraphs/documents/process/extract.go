package process

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/studio-platform/studio/subgraphs/documents/objects"
)

// ErrPoison marks a document no retry can process (its bytes changed, its
// text is not what its type says, or its type has no extractor).
var ErrPoison = errors.New("document cannot be processed")

func poison(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPoison, fmt.Sprintf(format, args...))
}

// Extract returns the text of r, a document of contentType whose bytes must
// hash to sha256Hex (an object changed behind the row is poison). At most
// maxBytes are read.
func Extract(r io.Reader, contentType, sha256Hex string, maxBytes int64) (string, error) {
	h := sha256.New()
	raw, err := io.ReadAll(io.LimitReader(io.TeeReader(r, h), maxBytes+1))
	if err != nil {
		return "", fmt.Errorf("read document: %w", err)
	}
	if int64(len(raw)) > maxBytes {
		return "", poison("larger than the %d bytes a worker reads", maxBytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha256Hex {
		return "", poison("the stored bytes hash to %s, not the recorded %s", got, sha256Hex)
	}
	switch contentType {
	case objects.TypeText, objects.TypeMarkdown:
		if !utf8.Valid(raw) {
			return "", poison("%s that is not UTF-8", contentType)
		}
		return string(raw), nil
	case objects.TypeHTML:
		return htmlText(raw)
	case objects.TypePDF:
		return pdfText(raw)
	case objects.TypePNG, objects.TypeJPEG:
		return "", nil // no text
	default:
		return "", poison("no text extractor for %s", contentType)
	}
}

// htmlText returns the text of an HTML document (golang.org/x/net/html's
// tokenizer): text nodes outside script, style and template, block elements
// on lines of their own.
func htmlText(raw []byte) (string, error) {
	z := html.NewTokenizer(bytes.NewReader(raw))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				return strings.TrimSpace(b.String()), nil
			}
			return "", poison("HTML: %v", z.Err())
		case html.StartTagToken, html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			switch tag {
			case "script", "style", "template", "noscript":
				if z.Token().Type == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
			case "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "title", "pre", "blockquote":
				b.WriteByte('\n')
			}
		case html.TextToken:
			if skip == 0 {
				if t := strings.Join(strings.Fields(string(z.Text())), " "); t != "" {
					if n := b.Len(); n > 0 && !strings.HasSuffix(b.String(), "\n") {
						b.WriteByte(' ')
					}
					b.WriteString(t)
				}
			}
		}
	}
}

// Chunk is a piece of a document's text.
type Chunk struct {
	Position  int    // 0, 1, …
	StartChar int    // offset in characters (runes) of the text
	Content   string // at most size characters
}

// Split cuts text into chunks of at most size characters, each overlapping
// the previous by overlap characters, ending at a space when one is in the
// last fifth of the chunk. Blank text has no chunks.
func Split(text string, size, overlap int) []Chunk {
	if size <= 0 || overlap < 0 || overlap >= size {
		panic("process: Split needs 0 <= overlap < size")
	}
	runes := []rune(text)
	var out []Chunk
	for start := 0; start < len(runes); {
		end := min(start+size, len(runes))
		if end < len(runes) {
			for i := end; i > end-size/5; i-- {
				if runes[i-1] == ' ' || runes[i-1] == '\n' {
					end = i
					break
				}
			}
		}
		if c := strings.TrimSpace(string(runes[start:end])); c != "" {
			out = append(out, Chunk{Position: len(out), StartChar: start, Content: c})
		}
		if end == len(runes) {
			break
		}
		start = max(end-overlap, start+1)
	}
	return out
}
