package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

type ev struct {
	Type, Data, ID string
}

func readAll(t testing.TB, r io.Reader, opts ...Option) ([]ev, error) {
	t.Helper()
	rd := NewReader(r, opts...)
	var out []ev
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev{e.Type, string(e.Data), e.ID})
	}
}

// The examples of the WHATWG standard's "Server-sent events" section, and
// the two wire formats the providers read.
func TestStandardExamples(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []ev
	}{
		{"stock ticker", "data: YHOO\ndata: +2\ndata: 10\n\n", []ev{{"", "YHOO\n+2\n10", ""}}},
		{"comment, ids", ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
			[]ev{{"", "first event", "1"}, {"", "second event", ""}}},
		{"empty data", "data\n\ndata\ndata\n\ndata:", []ev{{"", "", ""}, {"", "\n", ""}}},
		{"one leading space only", "data:test\n\ndata: test\n\n", []ev{{"", "test", ""}, {"", "test", ""}}},
		{"event type", "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n",
			[]ev{{"add", "73857293", ""}, {"remove", "2153", ""}}},
		{"CR and CRLF endings", "data: a\r\rdata: b\r\n\r\ndata: c\n\r\n", []ev{{"", "a", ""}, {"", "b", ""}, {"", "c", ""}}},
		{"no data is not dispatched", "event: x\n\nid: 7\n\ndata: y\n\n", []ev{{"", "y", "7"}}},
		{"id with NUL ignored", "id: a\x00b\ndata: z\n\n", []ev{{"", "z", ""}}},
		{"unknown field ignored", "foo: bar\ndata: z\n\n", []ev{{"", "z", ""}}},
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []ev{{"", `{"a":1}`, ""}, {"", "[DONE]", ""}}},
		{"gemini", "data: {\"candidates\":[]}\r\n\r\ndata: {\"usageMetadata\":{}}\r\n\r\n",
			[]ev{{"", `{"candidates":[]}`, ""}, {"", `{"usageMetadata":{}}`, ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(t, strings.NewReader(c.in))
			require.NoError(t, err)
			require.Equal(t, c.want, got)
			// The same bytes delivered one at a time give the same events.
			got, err = readAll(t, iotest.OneByteReader(strings.NewReader(c.in)))
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestRetryField(t *testing.T) {
	rd := NewReader(strings.NewReader("retry: 1500\ndata: a\n\nretry: x\ndata: b\n\n"))
	e, err := rd.Next()
	require.NoError(t, err)
	require.Equal(t, 1500, e.Retry)
	e, err = rd.Next()
	require.NoError(t, err)
	require.Equal(t, 1500, e.Retry, "an invalid retry value is ignored")
}

// A line ended by CR is read as soon as the CR arrives: the reader does not
// wait for a possible LF (which would stall a stream that flushed there).
func TestCRDoesNotWaitForLF(t *testing.T) {
	pr, pw := io.Pipe()
	rd := NewReader(pr)
	got := make(chan string, 1)
	go func() {
		e, err := rd.Next()
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- string(e.Data)
	}()
	_, err := pw.Write([]byte("data: now\r\r"))
	require.NoError(t, err)
	require.Equal(t, "now", <-got)
	require.NoError(t, pw.Close())
}

func TestBounds(t *testing.T) {
	_, err := readAll(t, strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), WithMaxLine(50))
	require.ErrorIs(t, err, ErrTooLong)
	_, err = readAll(t, strings.NewReader(strings.Repeat("data: xxxxxxxxxx\n", 10)+"\n"), WithMaxEvent(64))
	require.ErrorIs(t, err, ErrTooLong)
}

// FuzzRoundTrip is the oracle for the reader: events written the way the
// standard allows (any of the three line endings, comments, a space after the
// colon or not, data split over several lines) are read back as written.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello\nworld"), []byte{0, 1, 2, 3}, "message", "1")
	f.Add([]byte(`{"choices":[{"delta":{"content":"Hi"}}]}`), []byte{7}, "", "")
	f.Add([]byte(""), []byte{1, 1}, "x", "")
	f.Fuzz(func(t *testing.T, data, style []byte, typ, id string) {
		clean := func(s string) string {
			return strings.NewReplacer("\r", "", "\n", "", "\x00", "").Replace(s)
		}
		typ, id = clean(typ), clean(id)
		payload := strings.ReplaceAll(string(data), "\r", "")
		st := func(i int) byte {
			if len(style) == 0 {
				return 0
			}
			return style[i%len(style)]
		}
		endings := []string{"\n", "\r\n", "\r"}
		var b strings.Builder
		last := ""
		line := func(i int, s string) {
			end := endings[int(st(i))%3]
			if last == "\r" && s == "" && end == "\n" {
				end = "\r\n" // CR then LF would be one line ending
			}
			b.WriteString(s)
			b.WriteString(end)
			last = end
		}
		var want []ev
		for k := 0; k < 3; k++ { // three copies of the event, differently written
			i := k * 7
			if st(i)&4 != 0 {
				line(i+1, ": comment")
			}
			if typ != "" {
				line(i+2, "event: "+typ)
			}
			for j, part := range strings.Split(payload, "\n") {
				sep := "data:"
				if st(i+3+j)&8 != 0 || strings.HasPrefix(part, " ") {
					sep = "data: " // a value starting with a space needs the extra one
				}
				line(i+3+j, sep+part)
			}
			if id != "" {
				line(i+4, "id: "+id)
			}
			line(i+5, "")
			want = append(want, ev{typ, payload, id})
		}
		got, err := readAll(t, iotest.HalfReader(strings.NewReader(b.String())))
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}
