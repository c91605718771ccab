// Package sse reads a text/event-stream (Server-Sent Events) as the WHATWG
// HTML standard defines it (§9.2 "Server-sent events", the event stream
// interpretation): lines end with CRLF, LF or CR; a line starting with ':'
// is a comment; "field: value" loses one leading space from the value; data
// lines of one event are joined with "\n"; a blank line dispatches the event;
// an event without data is not dispatched; a last event not closed by a blank
// line is discarded at end of stream.
//
// It is the one reader of both AI providers' streaming wire formats (OpenAI's
// `data: {chunk}` … `data: [DONE]` and Gemini's `alt=sse` frames). Lines and
// events are bounded (MaxLine, MaxEvent) so a hostile server cannot make the
// reader grow without limit. It reads each line as soon as its line ending
// arrives: a CR-terminated line does not wait for a following LF.
package sse

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Default bounds (see NewReader's options).
const (
	DefaultMaxLine  = 1 << 20 // 1 MiB
	DefaultMaxEvent = 4 << 20 // 4 MiB
)

// ErrTooLong is returned when a line or an event's data passes its bound.
var ErrTooLong = errors.New("sse: line or event too long")

// Event is one dispatched event. Data is only valid until the next call of
// Next (it aliases the reader's buffer).
type Event struct {
	// Type is the "event" field, "" when absent (the standard's "message").
	Type string
	// Data is the "data" lines joined with "\n".
	Data []byte
	// ID is the last event id seen so far in the stream (the standard keeps it
	// across events).
	ID string
	// Retry is the last valid "retry" field in milliseconds, -1 if none.
	Retry int
}

// Reader reads events from a stream.
type Reader struct {
	r        *bufio.Reader
	maxLine  int
	maxEvent int
	skipLF   bool // the last line ended with CR: a following LF belongs to it
	line     []byte
	data     []byte
	typ      string
	lastID   string
	retry    int
}

// Option configures a Reader.
type Option func(*Reader)

// WithMaxLine bounds the length of one line (default DefaultMaxLine).
func WithMaxLine(n int) Option { return func(r *Reader) { r.maxLine = n } }

// WithMaxEvent bounds the data of one event (default DefaultMaxEvent).
func WithMaxEvent(n int) Option { return func(r *Reader) { r.maxEvent = n } }

// NewReader reads events from r.
func NewReader(r io.Reader, opts ...Option) *Reader {
	rd := &Reader{r: bufio.NewReaderSize(r, 4096), maxLine: DefaultMaxLine, maxEvent: DefaultMaxEvent, retry: -1}
	for _, o := range opts {
		o(rd)
	}
	return rd
}

// Next returns the next event. At the end of the stream it returns io.EOF
// (an event not closed by a blank line is discarded, as the standard says);
// a read error is returned as it came.
func (rd *Reader) Next() (Event, error) {
	rd.data = rd.data[:0]
	rd.typ = ""
	hasData := false
	for {
		line, err := rd.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if !hasData {
				rd.typ = ""
				continue
			}
			data := rd.data
			if n := len(data); n > 0 && data[n-1] == '\n' {
				data = data[:n-1]
			}
			return Event{Type: rd.typ, Data: data, ID: rd.lastID, Retry: rd.retry}, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		for i, b := range line {
			if b == ':' {
				field, value = line[:i], line[i+1:]
				if len(value) > 0 && value[0] == ' ' {
					value = value[1:]
				}
				break
			}
		}
		switch string(field) {
		case "data":
			if len(rd.data)+len(value)+1 > rd.maxEvent {
				return Event{}, fmt.Errorf("%w: event data over %d bytes", ErrTooLong, rd.maxEvent)
			}
			rd.data = append(rd.data, value...)
			rd.data = append(rd.data, '\n')
			hasData = true
		case "event":
			rd.typ = string(value)
		case "id":
			if !containsNUL(value) {
				rd.lastID = string(value)
			}
		case "retry":
			if isDigits(value) {
				if n, err := strconv.Atoi(string(value)); err == nil {
					rd.retry = n
				}
			}
		}
	}
}

// readLine returns the next line without its ending. The returned slice is
// valid until the next call.
func (rd *Reader) readLine() ([]byte, error) {
	rd.line = rd.line[:0]
	for {
		b, err := rd.r.ReadByte()
		if err != nil {
			// A line cut by the end of the stream is dropped with its event.
			return nil, err
		}
		if rd.skipLF {
			rd.skipLF = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return rd.line, nil
		case '\r':
			rd.skipLF = true
			return rd.line, nil
		}
		if len(rd.line) >= rd.maxLine {
			return nil, fmt.Errorf("%w: line over %d bytes", ErrTooLong, rd.maxLine)
		}
		rd.line = append(rd.line, b)
	}
}

func containsNUL(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return true
		}
	}
	return false
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
