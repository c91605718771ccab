package process

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/documents/objects"
	"github.com/studio-platform/studio/subgraphs/documents/pdfgen"
)

// BenchmarkExtractPDF extracts the text of a 200-page PDF written with fpdf
// (the figure in docs/architecture.md, "Documents"):
//
//	go test ./subgraphs/documents/process -run '^$' -bench ExtractPDF -benchtime 5x
func BenchmarkExtractPDF(b *testing.B) {
	doc := pdfgen.Doc{Title: "Policy"}
	for p := 1; p <= 200; p++ {
		doc.Pages = append(doc.Pages, append([]string{fmt.Sprintf("Page %d.", p)}, pdfgen.Paragraphs("production access", p, 12)...))
	}
	var buf bytes.Buffer
	require.NoError(b, pdfgen.Write(&buf, doc))
	sum := sha256.Sum256(buf.Bytes())
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		text, err := Extract(bytes.NewReader(buf.Bytes()), objects.TypePDF, hex.EncodeToString(sum[:]), 64<<20)
		require.NoError(b, err)
		require.Contains(b, text, "Page 200.")
	}
}
