// Package pdfgen writes simple text PDFs with codeberg.org/go-pdf/fpdf: a
// title, pages of paragraphs, and optionally an incompressible image that
// pads the file to a size (a scanned page's weight). The demo seed and the
// tests make their PDFs with it, so no PDF file is kept in the repository.
package pdfgen

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"strings"

	"codeberg.org/go-pdf/fpdf"
)

// Doc is a PDF to write.
type Doc struct {
	Title string
	// Pages hold each page's paragraphs.
	Pages [][]string
	// PadBytes, when positive, adds a last page holding a noise image of
	// about that many bytes (deterministic: the same Doc gives the same file).
	PadBytes int
}

// Write writes d as a PDF to w.
func Write(w io.Writer, d Doc) error {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetTitle(d.Title, true)
	f.SetCreator("studio", true)
	f.SetAutoPageBreak(true, 15)
	for i, paras := range d.Pages {
		f.AddPage()
		if i == 0 && d.Title != "" {
			f.SetFont("Helvetica", "B", 16)
			f.MultiCell(0, 9, d.Title, "", "L", false)
			f.Ln(3)
		}
		f.SetFont("Helvetica", "", 11)
		for _, p := range paras {
			f.MultiCell(0, 5.5, p, "", "L", false)
			f.Ln(2)
		}
	}
	if d.PadBytes > 0 {
		if err := pad(f, d.PadBytes); err != nil {
			return err
		}
	}
	if err := f.Output(w); err != nil {
		return fmt.Errorf("pdfgen: %w", err)
	}
	return nil
}

// pad adds a page with a grey noise image of about n bytes.
func pad(f *fpdf.Fpdf, n int) error {
	side := 1
	for side*side < n {
		side++
	}
	img := image.NewGray(image.Rect(0, 0, side, side))
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	pr, pw := io.Pipe()
	go func() {
		enc := png.Encoder{CompressionLevel: png.NoCompression}
		pw.CloseWithError(enc.Encode(pw, img))
	}()
	f.AddPage()
	f.RegisterImageOptionsReader("pad", fpdf.ImageOptions{ImageType: "PNG"}, pr)
	_ = pr.Close()
	f.ImageOptions("pad", 15, 15, 180, 0, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	return f.Error()
}

// Paragraphs returns n numbered paragraphs about topic (test and demo
// filler that reads like a policy).
func Paragraphs(topic string, page, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%d.%d %s: the owner reviews %s every quarter, records the review as evidence and corrects every finding within thirty days.",
			page, i+1, strings.ToUpper(topic[:1])+topic[1:], topic)
	}
	return out
}
