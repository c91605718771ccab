package execute

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzWriteString checks that writeString produces JSON that decodes back to the
// input (invalid UTF-8 decodes to U+FFFD, as with encoding/json).
func FuzzWriteString(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " backslash \ slash /`, "nl\n cr\r tab\t", "\x00\x1f\x7f", "é ü 中文 🎉", "\u2028\u2029", "bad \xff utf8", "<html>&amp;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		writeString(&buf, s)
		var got string
		require.NoError(t, json.Unmarshal(buf.Bytes(), &got), buf.String())
		want := s
		if !utf8.ValidString(s) {
			want = string(bytes.ToValidUTF8([]byte(s), []byte("\ufffd")))
			// encoding/json replaces each invalid byte; compare through it.
			b, _ := json.Marshal(s)
			require.NoError(t, json.Unmarshal(b, &want))
		}
		require.Equal(t, want, got)
	})
}
