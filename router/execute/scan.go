package execute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"
)

// A tree holds the subgraph responses of one execution: their raw bytes one
// after the other, and a flat array of nodes, one per JSON value (28 bytes
// each), that point into those bytes. Scalars are never decoded unless they
// must be: a plain string or a number is written to the client by copying its
// bytes. Trees are pooled whole, so a warm execution reads and parses without
// allocating, and what a pooled tree keeps is about one execution's responses.

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
	// flagForward: the value was replaced during merging; tree.forward has its replacement.
	flagForward
)

// maxDepth bounds the nesting of a subgraph response.
const maxDepth = 512

type node struct {
	kind   uint8
	flags  uint8
	keyLen uint16 // object members: length of the key
	key    uint32 // object members: offset of the (decoded) key in raw
	start  uint32 // the value's bytes: raw[start:end] (strings with their quotes)
	end    uint32
	next   uint32 // next member or item of the parent (0: none; node 0 is the root object)
	count  uint32 // objects and arrays: number of members or items, the first at index+1
	ext    uint32 // objects: first link of the objects merged into this one (0: none)
}

// link chains an object merged into another one.
type link struct {
	to   uint32
	next uint32
	// shadows: the parts before this one have some of its members (but
	// __typename), which lookups must find there.
	shadows bool
}

type tree struct {
	raw     []byte
	nodes   []node
	links   []link
	forward map[uint32]uint32
	// index deduplicates an entity fetch's representations (its keys alias
	// the request being built, so it is cleared before every use).
	index map[string]int32
}

// newTree returns a tree holding the empty root object (node 0).
func newTree() *tree {
	t := treePool.get()
	t.raw = append(t.raw[:0], "{}"...)
	t.nodes = append(t.nodes[:0], node{kind: kindObject, end: 2})
	t.links = append(t.links[:0], link{}) // link 0 means none
	clear(t.forward)
	clear(t.index)
	return t
}

func (t *tree) release() { treePool.put(t) }

// size is about the memory the tree holds.
func (t *tree) size() int {
	return cap(t.raw) + cap(t.nodes)*int(unsafe.Sizeof(node{})) + cap(t.links)*int(unsafe.Sizeof(link{})) +
		len(t.forward)*8 + len(t.index)*24
}

var errSyntax = errors.New("invalid JSON")

// parse appends a JSON document to the tree and returns the index of its
// top-level value. On error the tree is left as it was.
func (t *tree) parse(b []byte) (uint32, error) {
	base, nodes := len(t.raw), len(t.nodes)
	// Decoded keys go after the bytes and can take 3 bytes per input byte
	// (invalid UTF-8 becomes U+FFFD): offsets must stay within 32 bits.
	if uint64(base)+uint64(len(b))*4 > 1<<32-1 {
		return 0, fmt.Errorf("%w: responses over 1 GiB", errSyntax)
	}
	t.raw = append(t.raw, b...)
	p := parser{t: t, b: t.raw[:base+len(b)], pos: base, base: base}
	root, err := p.value(0)
	if err == nil {
		p.space()
		if p.pos != len(p.b) {
			err = p.fail("unexpected data after the top-level value")
		}
	}
	if err != nil {
		t.raw, t.nodes = t.raw[:base], t.nodes[:nodes]
		return 0, err
	}
	return root, nil
}

// bytes returns the raw bytes of node n.
func (t *tree) bytes(n *node) []byte { return t.raw[n.start:n.end] }

// keyOf returns the key of member n (valid as long as the tree is).
func (t *tree) keyOf(n *node) string {
	b := t.raw[n.key : n.key+uint32(n.keyLen)]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// member finds a member of object i by key, without following merges.
func (t *tree) member(i uint32, key string) (uint32, bool) {
	n := &t.nodes[i]
	if n.kind != kindObject || n.count == 0 {
		return 0, false
	}
	for c := i + 1; ; {
		cn := &t.nodes[c]
		// Length and first byte first: most members differ there.
		if int(cn.keyLen) == len(key) && (len(key) == 0 || t.raw[cn.key] == key[0]) && t.keyOf(cn) == key {
			return c, true
		}
		if cn.next == 0 {
			return 0, false
		}
		c = cn.next
	}
}

// str returns the content of a string node, decoded when it has escapes.
func (t *tree) str(n *node) string {
	b := t.bytes(n)
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
func (t *tree) appendString(buf []byte, n *node) []byte {
	if n.flags&(flagEscaped|flagUnicode) == 0 {
		return append(buf, t.bytes(n)...)
	}
	return appendJSONString(buf, t.str(n))
}

type parser struct {
	t    *tree
	b    []byte
	pos  int
	base int
}

func (p *parser) fail(msg string) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, p.pos-p.base, msg)
}

func (p *parser) space() {
	b, i := p.b, p.pos
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	p.pos = i
}

// value parses one value into a new node and returns its index.
func (p *parser) value(depth int) (uint32, error) {
	p.space()
	if p.pos >= len(p.b) {
		return 0, p.fail("unexpected end of input")
	}
	idx := uint32(len(p.t.nodes))
	p.t.nodes = append(p.t.nodes, node{start: uint32(p.pos)})
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
				p.t.nodes[prev].next = child
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
	n := &p.t.nodes[idx]
	n.kind, n.flags, n.count, n.end = kind, flags, count, uint32(p.pos)
	return idx, nil
}

func (p *parser) setKey(child uint32, start, end int, flags uint8) error {
	if flags&flagEscaped != 0 {
		var s string
		if err := json.Unmarshal(p.b[start-1:end+1], &s); err != nil {
			return p.fail("invalid member name")
		}
		// Decoded keys go after the documents' bytes (the parser reads p.b, the
		// bytes as they were).
		start = len(p.t.raw)
		p.t.raw = append(p.t.raw, s...)
		end = len(p.t.raw)
	}
	n := &p.t.nodes[child]
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
		// Plain ASCII runs in a tight loop on a local index.
		b, i := p.b, p.pos
		for i < len(b) && plainASCII[b[i]] {
			i++
		}
		p.pos = i
		if i == len(b) {
			break
		}
		c := b[i]
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

// plainASCII marks the bytes a string may hold as they are: printable ASCII
// but the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

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
