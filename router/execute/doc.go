package execute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"
)

// A doc is one subgraph response kept as its raw bytes plus a flat array of
// nodes, one per JSON value (28 bytes each), that point into those bytes.
// Scalars are never decoded unless they must be: a plain string or a number is
// written to the client by copying its bytes. Docs are pooled; a warm doc
// parses without allocating.

// Node kinds.
const (
	kindNull uint8 = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindObject
	kindArray
)

// Node flags.
const (
	// flagEscaped: a string with a backslash escape; decode it before use.
	flagEscaped uint8 = 1 << iota
	// flagUnicode: a string with non-ASCII bytes; re-encode it (validating UTF-8) on output.
	flagUnicode
	// flagKeyDecoded: the member's key is in doc.keys, not in doc.raw.
	flagKeyDecoded
	// flagForward: the value was replaced during merging; run.forward has its replacement.
	flagForward
)

// maxDepth bounds the nesting of a subgraph response.
const maxDepth = 512

type node struct {
	kind   uint8
	flags  uint8
	keyLen uint16 // object members: length of the key
	key    uint32 // object members: offset of the key in doc.raw (or doc.keys)
	start  uint32 // the value's bytes: raw[start:end] (strings with their quotes)
	end    uint32
	next   uint32 // next member or item of the parent (0: none; the root is node 0)
	count  uint32 // objects and arrays: number of members or items, the first at index+1
	ext    uint32 // objects: first link of the objects merged into this one (0: none)
}

type doc struct {
	raw   bytes.Buffer
	keys  []byte
	nodes []node
}

var errSyntax = errors.New("invalid JSON")

// parse indexes the bytes in d.raw; node 0 is the top-level value.
func (d *doc) parse() error {
	d.nodes = d.nodes[:0]
	d.keys = d.keys[:0]
	if d.raw.Len() > 1<<32-1 {
		return fmt.Errorf("%w: response over 4 GiB", errSyntax)
	}
	p := parser{d: d, b: d.raw.Bytes()}
	if _, err := p.value(0); err != nil {
		return err
	}
	p.space()
	if p.pos != len(p.b) {
		return p.fail("unexpected data after the top-level value")
	}
	return nil
}

// bytes returns the raw bytes of node n.
func (d *doc) bytes(n *node) []byte { return d.raw.Bytes()[n.start:n.end] }

// keyOf returns the key of member n (valid as long as the doc).
func (d *doc) keyOf(n *node) string {
	b := d.raw.Bytes()
	if n.flags&flagKeyDecoded != 0 {
		b = d.keys
	}
	b = b[n.key : n.key+uint32(n.keyLen)]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// member finds a member of object i by key, without following merges.
func (d *doc) member(i uint32, key string) (uint32, bool) {
	n := &d.nodes[i]
	if n.kind != kindObject || n.count == 0 {
		return 0, false
	}
	for c := i + 1; ; {
		cn := &d.nodes[c]
		if int(cn.keyLen) == len(key) && d.keyOf(cn) == key {
			return c, true
		}
		if cn.next == 0 {
			return 0, false
		}
		c = cn.next
	}
}

// str returns the content of a string node, decoded when it has escapes.
func (d *doc) str(n *node) string {
	b := d.bytes(n)
	if n.flags&flagEscaped != 0 {
		var s string
		if json.Unmarshal(b, &s) == nil {
			return s
		}
	}
	b = b[1 : len(b)-1]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// appendString writes a string node as JSON: plain ASCII strings as they came,
// others decoded and re-encoded (invalid UTF-8 becomes U+FFFD).
func (d *doc) appendString(buf []byte, n *node) []byte {
	if n.flags&(flagEscaped|flagUnicode) == 0 {
		return append(buf, d.bytes(n)...)
	}
	return appendJSONString(buf, d.str(n))
}

type parser struct {
	d     *doc
	b     []byte
	pos   int
	depth int
}

func (p *parser) fail(msg string) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, p.pos, msg)
}

func (p *parser) space() {
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value parses one value into a new node and returns its index.
func (p *parser) value(depth int) (uint32, error) {
	p.space()
	if p.pos >= len(p.b) {
		return 0, p.fail("unexpected end of input")
	}
	idx := uint32(len(p.d.nodes))
	p.d.nodes = append(p.d.nodes, node{start: uint32(p.pos)})
	var kind, flags uint8
	var count uint32
	switch c := p.b[p.pos]; c {
	case '{', '[':
		if depth >= maxDepth {
			return 0, p.fail("nested too deeply")
		}
		kind = kindArray
		closing := byte(']')
		if c == '{' {
			kind, closing = kindObject, '}'
		}
		p.pos++
		p.space()
		if p.pos < len(p.b) && p.b[p.pos] == closing {
			p.pos++
			break
		}
		var prev uint32
		for {
			var key, keyEnd int
			var keyFlags uint8
			if kind == kindObject {
				p.space()
				if p.pos >= len(p.b) || p.b[p.pos] != '"' {
					return 0, p.fail("expected a member name")
				}
				p.pos++
				key = p.pos
				var err error
				if keyFlags, err = p.str(); err != nil {
					return 0, err
				}
				keyEnd = p.pos - 1
				p.space()
				if p.pos >= len(p.b) || p.b[p.pos] != ':' {
					return 0, p.fail("expected ':'")
				}
				p.pos++
			}
			child, err := p.value(depth + 1)
			if err != nil {
				return 0, err
			}
			if kind == kindObject {
				if err := p.setKey(child, key, keyEnd, keyFlags); err != nil {
					return 0, err
				}
			}
			if prev != 0 {
				p.d.nodes[prev].next = child
			}
			prev = child
			count++
			p.space()
			if p.pos >= len(p.b) {
				return 0, p.fail("unexpected end of input")
			}
			if p.b[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.b[p.pos] == closing {
				p.pos++
				break
			}
			return 0, p.fail("expected ',' or '" + string(closing) + "'")
		}
	case '"':
		p.pos++
		var err error
		if flags, err = p.str(); err != nil {
			return 0, err
		}
		kind = kindString
	case 't':
		kind = kindTrue
		if err := p.literal("true"); err != nil {
			return 0, err
		}
	case 'f':
		kind = kindFalse
		if err := p.literal("false"); err != nil {
			return 0, err
		}
	case 'n':
		kind = kindNull
		if err := p.literal("null"); err != nil {
			return 0, err
		}
	default:
		kind = kindNumber
		if err := p.number(); err != nil {
			return 0, err
		}
	}
	n := &p.d.nodes[idx]
	n.kind, n.flags, n.count, n.end = kind, flags, count, uint32(p.pos)
	return idx, nil
}

func (p *parser) setKey(child uint32, start, end int, flags uint8) error {
	n := &p.d.nodes[child]
	if flags&flagEscaped != 0 {
		var s string
		if err := json.Unmarshal(p.b[start-1:end+1], &s); err != nil {
			return p.fail("invalid member name")
		}
		start = len(p.d.keys)
		p.d.keys = append(p.d.keys, s...)
		end = len(p.d.keys)
		n.flags |= flagKeyDecoded
	}
	if end-start > 1<<16-1 {
		return p.fail("member name too long")
	}
	n.key, n.keyLen = uint32(start), uint16(end-start)
	return nil
}

// str scans a string after its opening quote, up to and past the closing one.
func (p *parser) str() (uint8, error) {
	var flags uint8
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		switch {
		case c == '"':
			p.pos++
			return flags, nil
		case c == '\\':
			flags |= flagEscaped
			if p.pos+1 >= len(p.b) {
				return 0, p.fail("unterminated string")
			}
			switch p.b[p.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.pos += 2
			case 'u':
				if p.pos+6 > len(p.b) {
					return 0, p.fail("unterminated string")
				}
				for _, h := range p.b[p.pos+2 : p.pos+6] {
					if !isHex(h) {
						return 0, p.fail("invalid \\u escape")
					}
				}
				p.pos += 6
			default:
				return 0, p.fail("invalid escape")
			}
		case c < 0x20:
			return 0, p.fail("control character in string")
		default:
			if c >= 0x80 {
				flags |= flagUnicode
			}
			p.pos++
		}
	}
	return 0, p.fail("unterminated string")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (p *parser) literal(word string) error {
	if !bytes.HasPrefix(p.b[p.pos:], []byte(word)) {
		return p.fail("invalid literal")
	}
	p.pos += len(word)
	return nil
}

// number scans -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number() error {
	b, i := p.b, p.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return p.fail("invalid value")
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return p.fail("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return p.fail("invalid number")
		}
	}
	p.pos = i
	return nil
}
