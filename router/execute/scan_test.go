package execute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

var parseSeeds = []string{
	// objects, arrays, nesting, empty containers
	`{}`, `[]`, `{"a":1}`, `[1,2,3]`, `{"a":{"b":{"c":[1,{"d":[]}]}}}`,
	`[[],{},[{}],{"":[]}]`, `{"a":[],"b":{},"c":""}`, `[[[[[[[[[[1]]]]]]]]]]`,
	`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a":{"x":1},"a":{"y":2}}`,
	`{"data":{"_entities":[{"__typename":"Product","id":"1"},null]}}`,
	// strings and escapes
	`""`, `"plain"`, `"\"\\\/\b\f\n\r\t"`, `"\u0000\u001f\u007f\u0041\u00e9\u20ac"`,
	`"\ud83d\ude00"`, `"\uD83D\uDE00"`, `"\ud83d"`, `"\ude00"`, `"\ud83d\u0041"`, `"\ud83dx"`,
	`"\u2028\u2029"`, "\"\u2028\u2029\"", `{"\u0069d":"\u0031"}`, `{"a\"b":"c\\d"}`,
	`"é ü 中文 🎉"`, `{"é":"ü","中":["文"]}`, "\"\xff\"", "\"bad \xc3\x28 utf8\"", "\"\xed\xa0\x80\"",
	"{\"\xff\":1,\"\xfe\":2}", "{\"\xff\":1,\"\\ufffd\":2}", "\"\xe2\x82\"", "\"\xf0\x9f\x98\"",
	// invalid escapes and strings
	`"\x"`, `"\u12"`, `"\u12g4"`, `"\U0041"`, `"\`, `"\u`, `"abc`, `"`, `{"a`, `{"a":"b`,
	"\"\x00\"", "\"a\nb\"", "\"\t\"", "\"\x1f\"", "\"\x7f\"",
	// numbers
	`0`, `-0`, `1`, `-1`, `123456789012345678901234567890`, `0.5`, `-0.5`, `1.25e10`, `1E10`,
	`1e+10`, `1e-10`, `1.5E-0`, `-0.0e0`, `[0,-0,1.5,2e3,-4E-5]`, `1e400`, `-1e-400`,
	`01`, `-01`, `00`, `1.`, `.5`, `-`, `--1`, `1e`, `1e+`, `1E-`, `+1`, `1.e5`, `0x10`,
	`1.5.5`, `NaN`, `Infinity`, `-Infinity`, `1_000`, `[1,]`, `[-]`, `{"a":-}`,
	// literals
	`true`, `false`, `null`, `[true,false,null]`, `tru`, `nul`, `fals`, `truee`, `True`,
	`NULL`, `[nulll]`, `{"a":t}`,
	// whitespace
	" \t\r\n{ \"a\" \t: \r\n[ 1 , 2 ] , \"b\" : { } } \n\t\r ", "\n1\n", " ", "", "\f1", "\v1",
	"\xc2\xa01", "\xef\xbb\xbf{}", "1\x00",
	// trailing garbage and broken structure
	`{}}`, `[]]`, `{} {}`, `1 2`, `"a""b"`, `{"a":1,}`, `{,}`, `[,]`, `{"a" 1}`, `{"a"::1}`,
	`{1:2}`, `{"a":1 "b":2}`, `[1 2]`, `[`, `{`, `]`, `}`, `:`, `,`, `{"a":}`, `[1,[2,[3]]`,
	`{'a':1}`, `/* */1`,
}

// warmDoc is parsed into the tree before every fuzz input, so the input is
// appended to a tree that holds a document already.
const (
	warmDoc  = `{"\u0078":[1,"\u00e9",{"y":null,"\u007a":[true]}]}`
	warmJSON = `{"x":[1,"é",{"y":null,"z":[true]}]}`
)

func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	schema := &ast.Schema{Types: map[string]*ast.Definition{}}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &run{e: &Executor{schema: schema}, tree: newTree()}
		warm, err := r.parse([]byte(warmDoc))
		require.NoError(t, err)
		rawLen, nodesLen := len(r.raw), len(r.nodes)

		root, err := r.parse(in)
		valid := json.Valid(in)
		if !valid {
			require.Error(t, err, "accepted invalid JSON %q", in)
			require.ErrorIs(t, err, errSyntax)
		} else if err != nil {
			// The only valid JSON refused: over the nesting or member name limits.
			require.ErrorIs(t, err, errSyntax)
			switch msg := err.Error(); {
			case strings.Contains(msg, "nested too deeply"):
				require.Greater(t, nesting(in), maxDepth, "%q: %v", in, err)
			case strings.Contains(msg, "member name too long"):
				require.Greater(t, len(in), 1<<16-1, "%q: %v", in, err)
			default:
				require.NoError(t, err, "refused valid JSON %q", in)
			}
		}
		var out []byte
		if err != nil {
			// A failed parse leaves the tree as it was.
			require.Equal(t, rawLen, len(r.raw))
			require.Equal(t, nodesLen, len(r.nodes))
		} else {
			require.Equal(t, uint32(nodesLen), root)
			checkNodes(t, r.tree, root, in)
			out = r.appendValue(nil, root)
			require.True(t, json.Valid(out), "%q re-encoded as invalid JSON %q", in, out)
			require.Equal(t, decodeFirstWins(t, in), decodeFirstWins(t, out), "%q re-encoded as %q", in, out)
			checkGet(t, r.tree, root)
		}

		// The tree stays usable after any input, a failed one included, and
		// what it held before is intact.
		after, err := r.parse([]byte(warmDoc))
		require.NoError(t, err)
		require.JSONEq(t, warmJSON, string(r.appendValue(nil, warm)))
		require.JSONEq(t, warmJSON, string(r.appendValue(nil, after)))
		if out != nil {
			require.Equal(t, string(out), string(r.appendValue(nil, root)))
			if r.kind(root) == kindObject {
				// As a root fetch does: merged into the empty root object.
				r.merge(0, root)
				require.Equal(t, decodeFirstWins(t, in), decodeFirstWins(t, r.appendValue(nil, 0)))
			}
		}
	})
}

// nesting returns the maximum nesting of arrays and objects in valid JSON.
func nesting(b []byte) int {
	depth, maxNesting := 0, 0
	in, esc := false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case in:
			switch c {
			case '\\':
				esc = true
			case '"':
				in = false
			}
		case c == '"':
			in = true
		case c == '[' || c == '{':
			depth++
			maxNesting = max(maxNesting, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return maxNesting
}

// decodeFirstWins decodes JSON like json.Unmarshal into any with UseNumber,
// except that of duplicate member names the first one counts, as with
// tree.get (encoding/json keeps the last one). Invalid UTF-8 becomes U+FFFD,
// as with encoding/json.
func decodeFirstWins(t *testing.T, b []byte) any {
	t.Helper()
	v, _ := decodeDup(t, b)
	return v
}

// decodeDup is decodeFirstWins that also says whether there were duplicate
// member names.
func decodeDup(t *testing.T, b []byte) (any, bool) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var dup bool
	v, err := decodeTokens(dec, &dup)
	require.NoError(t, err, "%q", b)
	_, err = dec.Token()
	require.ErrorIs(t, err, io.EOF, "%q", b)
	return v, dup
}

func decodeTokens(dec *json.Decoder, dup *bool) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('['):
		list := []any{}
		for dec.More() {
			v, err := decodeTokens(dec, dup)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token()
		return list, err
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, errors.New("member name is not a string")
			}
			v, err := decodeTokens(dec, dup)
			if err != nil {
				return nil, err
			}
			if _, ok := obj[key]; ok {
				*dup = true
			} else {
				obj[key] = v
			}
		}
		_, err := dec.Token()
		return obj, err
	}
	return tok, nil
}

// checkNodes checks the structure of a document parsed into t at root.
func checkNodes(t *testing.T, tr *tree, root uint32, in []byte) {
	t.Helper()
	require.Equal(t, string(bytes.Trim(in, " \t\r\n")), string(tr.bytes(&tr.nodes[root])))
	require.Zero(t, tr.nodes[root].next)
	seen := make([]bool, len(tr.nodes))
	seen[root] = true
	for i := int(root); i < len(tr.nodes); i++ {
		n := &tr.nodes[i]
		require.LessOrEqual(t, n.start, n.end)
		require.LessOrEqual(t, int(n.end), len(tr.raw))
		require.Zero(t, n.ext)
		require.Zero(t, n.flags&flagForward)
		raw := tr.bytes(n)
		switch n.kind {
		case kindObject, kindArray:
			c := uint32(i + 1)
			for k := uint32(0); k < n.count; k++ {
				require.Less(t, int(c), len(tr.nodes), "node %d: child %d", i, k)
				require.False(t, seen[c], "node %d: child %d seen twice", i, c)
				seen[c] = true
				cn := &tr.nodes[c]
				require.GreaterOrEqual(t, cn.start, n.start)
				require.LessOrEqual(t, cn.end, n.end)
				if n.kind == kindObject {
					require.LessOrEqual(t, int(cn.key)+int(cn.keyLen), len(tr.raw))
					_ = tr.keyOf(cn)
				}
				if k == n.count-1 {
					require.Zero(t, cn.next, "node %d: last child %d", i, c)
				} else {
					require.Greater(t, cn.next, c)
				}
				c = cn.next
			}
		case kindString:
			require.True(t, len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"', "%q", raw)
			var s string
			require.NoError(t, json.Unmarshal(raw, &s))
			if n.flags&flagEscaped != 0 {
				require.Equal(t, s, tr.str(n))
			} else {
				require.Equal(t, string(raw[1:len(raw)-1]), tr.str(n))
			}
			require.Equal(t, bytes.IndexByte(raw, '\\') >= 0, n.flags&flagEscaped != 0, "%q", raw)
			require.Equal(t, bytes.ContainsFunc(raw, func(r rune) bool { return r >= 0x80 }), n.flags&flagUnicode != 0, "%q", raw)
		case kindNumber, kindTrue, kindFalse, kindNull:
			require.True(t, json.Valid(raw), "%q", raw)
		default:
			t.Fatalf("node %d: kind %d", i, n.kind)
		}
	}
	for i := int(root); i < len(seen); i++ {
		require.True(t, seen[i], "node %d is nobody's child", i)
	}
}

// checkGet checks that get finds every member that members lists, recursively.
func checkGet(t *testing.T, tr *tree, x uint32) {
	t.Helper()
	switch tr.kind(x) {
	case kindObject:
		checkCursor(t, tr, x)
		tr.members(x, func(key string, v uint32) {
			got, ok := tr.get(x, key)
			require.True(t, ok, "%q", key)
			require.Equal(t, v, got, "%q", key)
			checkGet(t, tr, v)
		})
	case kindArray:
		tr.items(x, func(_ int, v uint32) bool {
			checkGet(t, tr, v)
			return true
		})
	}
}

// checkCursor looks up an object's keys through a cursor in several orders
// (every part's keys as they are, duplicates across parts included; reversed;
// with absent keys between; every other one) and expects what get finds.
func checkCursor(t *testing.T, tr *tree, obj uint32) {
	t.Helper()
	var keys []string
	part, l := obj, uint32(0)
	for {
		n := &tr.nodes[part]
		var own []string
		for c, i := part+1, uint32(0); i < n.count; i++ {
			k := tr.keyOf(&tr.nodes[c])
			if slices.Contains(own, k) {
				// Names within one JSON object should be unique (RFC 8259 §4);
				// which duplicate a cursor finds is not defined.
				return
			}
			own = append(own, k)
			c = tr.nodes[c].next
		}
		keys = append(keys, own...)
		if l == 0 {
			l = n.ext
		} else {
			l = tr.links[l].next
		}
		if l == 0 {
			break
		}
		part = tr.links[l].to
	}
	reversed := slices.Clone(keys)
	slices.Reverse(reversed)
	var gaps, halves []string
	for i, k := range keys {
		gaps = append(gaps, k, "\x00absent", "__typename")
		if i%2 == 0 {
			halves = append(halves, k)
		}
	}
	for _, order := range [][]string{keys, reversed, gaps, halves, append(slices.Clone(keys), keys...)} {
		c := tr.cursor(obj)
		for _, k := range order {
			want, wantOK := tr.get(obj, k)
			got, ok := tr.getNext(&c, k)
			require.Equal(t, wantOK, ok, "%q in %q", k, order)
			require.Equal(t, want, got, "%q in %q", k, order)
		}
	}
}

func TestParseDepthLimit(t *testing.T) {
	arrays := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	objects := func(n int) string { return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1) }
	tr := newTree()
	for _, s := range []string{arrays(500), arrays(maxDepth), objects(maxDepth)} {
		_, err := tr.parse([]byte(s))
		require.NoError(t, err)
	}
	for _, s := range []string{arrays(600), arrays(maxDepth + 1), objects(maxDepth + 1)} {
		_, err := tr.parse([]byte(s))
		require.ErrorIs(t, err, errSyntax)
		require.ErrorContains(t, err, "nested too deeply")
		require.True(t, json.Valid([]byte(s))) // valid, only too deep
	}
}

const mergeSchema = `
type Query { node(id: ID!): Node }
interface Node { id: ID! }
type Product implements Node { id: ID! name: String }
type User implements Node { id: ID! }
`

func loadMergeSchema(t testing.TB) *ast.Schema {
	schema, err := gqlparser.LoadSchema(&ast.Source{Input: mergeSchema})
	require.NoError(t, err)
	return schema
}

// testRun parses docs into a run over mergeSchema and returns their roots.
func testRun(t *testing.T, docs ...string) (*run, []uint32) {
	t.Helper()
	r := &run{e: &Executor{schema: loadMergeSchema(t)}, tree: newTree()}
	roots := make([]uint32, len(docs))
	for i, s := range docs {
		var err error
		roots[i], err = r.parse([]byte(s))
		require.NoError(t, err, s)
	}
	return r, roots
}

func render(r *run, x uint32) string { return string(r.appendValue(nil, x)) }

// walk follows keys (and list indexes: "0", "1", ...) from x.
func walk(t *testing.T, r *run, x uint32, steps ...string) uint32 {
	t.Helper()
	for _, s := range steps {
		if r.kind(x) == kindArray {
			found := false
			r.items(x, func(i int, v uint32) bool {
				if s == strconv.Itoa(i) {
					x, found = v, true
					return false
				}
				return true
			})
			require.True(t, found, "item %s", s)
			continue
		}
		v, ok := r.get(x, s)
		require.True(t, ok, "member %q", s)
		x = v
	}
	return x
}

// docOf returns which of the docs (by their roots, in order) holds node x.
func docOf(roots []uint32, x uint32) int {
	d := -1
	for i, root := range roots {
		if x >= root {
			d = i
		}
	}
	return d
}

func TestMerge(t *testing.T) {
	type step struct {
		into int      // doc whose root dst starts at
		dst  []string // path from there
		src  int      // doc whose root is merged
	}
	tests := []struct {
		name  string
		docs  []string
		steps []step
		want  []string // each doc's root afterwards
		check func(t *testing.T, r *run, roots []uint32)
	}{{
		name:  "objects merged recursively",
		docs:  []string{`{"a":1,"o":{"x":1,"p":{"k":1}}}`, `{"b":2,"o":{"y":2,"p":{"l":2}}}`},
		steps: []step{{src: 1}},
		want:  []string{`{"a":1,"b":2,"o":{"x":1,"y":2,"p":{"k":1,"l":2}}}`, `{"b":2,"o":{"y":2,"p":{"l":2}}}`},
		check: func(t *testing.T, r *run, roots []uint32) {
			require.Equal(t, "2", render(r, walk(t, r, roots[0], "b")))
			require.Equal(t, "1", render(r, walk(t, r, roots[0], "o", "x")))
			require.Equal(t, "2", render(r, walk(t, r, roots[0], "o", "y")))
			require.Equal(t, "1", render(r, walk(t, r, roots[0], "o", "p", "k")))
			require.Equal(t, "2", render(r, walk(t, r, roots[0], "o", "p", "l")))
			_, ok := r.get(roots[0], "c")
			require.False(t, ok)
		},
	}, {
		name:  "merged into the root object, as root fetches are",
		docs:  []string{`{}`, `{"a":{"x":1},"n":1}`, `{"a":{"y":2},"n":2,"b":3}`},
		steps: []step{{src: 1}, {src: 2}},
		want:  []string{`{"a":{"x":1,"y":2},"n":2,"b":3}`},
		check: func(t *testing.T, r *run, roots []uint32) {
			// roots[0] is an empty object like node 0, the run's root.
			r.merge(0, roots[1])
			r.merge(0, roots[2])
			require.JSONEq(t, `{"a":{"x":1,"y":2},"n":2,"b":3}`, render(r, 0))
		},
	}, {
		name:  "equal scalars: the first one wins",
		docs:  []string{`{"s":"v","n":1.5,"t":true,"z":null}`, `{"s":"v","n":1.5,"t":true,"z":null,"b":0}`},
		steps: []step{{src: 1}},
		want:  []string{`{"s":"v","n":1.5,"t":true,"z":null,"b":0}`},
		check: func(t *testing.T, r *run, roots []uint32) {
			for _, k := range []string{"s", "n", "t", "z"} {
				require.Equal(t, 0, docOf(roots, walk(t, r, roots[0], k)), k)
			}
			require.Empty(t, r.forward)
			require.Equal(t, 1, docOf(roots, walk(t, r, roots[0], "b")))
		},
	}, {
		name:  "a differing scalar is replaced by the later value",
		docs:  []string{`{"n":1,"s":"x","t":true,"z":null,"k":"kept"}`, `{"n":2,"s":"y","t":false,"z":{"a":1}}`},
		steps: []step{{src: 1}},
		want:  []string{`{"n":2,"s":"y","t":false,"z":{"a":1},"k":"kept"}`},
		check: func(t *testing.T, r *run, roots []uint32) {
			for _, k := range []string{"n", "s", "t", "z"} {
				require.Equal(t, 1, docOf(roots, walk(t, r, roots[0], k)), k)
			}
			require.Equal(t, 0, docOf(roots, walk(t, r, roots[0], "k")))
		},
	}, {
		name:  "the latest of three values wins",
		docs:  []string{`{"n":1}`, `{"n":2}`, `{"n":3}`},
		steps: []step{{src: 1}, {src: 2}},
		want:  []string{`{"n":3}`},
	}, {
		name: "equal-length arrays merged element-wise",
		docs: []string{
			`{"l":[{"id":1},{"id":2}],"n":[1,2,3],"m":[null,{"a":1}],"e":[]}`,
			`{"l":[{"n":"a"},{"n":"b"}],"n":[1,5,3],"m":[{"b":1},{"c":1}],"e":[]}`,
		},
		steps: []step{{src: 1}},
		want:  []string{`{"l":[{"id":1,"n":"a"},{"id":2,"n":"b"}],"n":[1,5,3],"m":[{"b":1},{"a":1,"c":1}],"e":[]}`},
		check: func(t *testing.T, r *run, roots []uint32) {
			require.Equal(t, 0, docOf(roots, walk(t, r, roots[0], "l", "1", "id")))
			require.Equal(t, 1, docOf(roots, walk(t, r, roots[0], "l", "1", "n")))
			require.Equal(t, 0, docOf(roots, walk(t, r, roots[0], "n", "0")))
			require.Equal(t, 1, docOf(roots, walk(t, r, roots[0], "n", "1")))
		},
	}, {
		name:  "lists of lists merged element-wise",
		docs:  []string{`{"m":[[{"a":1}],[{"a":2},null]],"l":[{"a":1}]}`, `{"m":[[{"b":2}],[{"b":3},{"b":4}]],"l":[{"b":2}]}`},
		steps: []step{{src: 1}},
		want:  []string{`{"m":[[{"a":1,"b":2}],[{"a":2,"b":3},{"b":4}]],"l":[{"a":1,"b":2}]}`},
	}, {
		name:  "arrays of different lengths replaced",
		docs:  []string{`{"l":[{"id":1},{"id":2}],"e":[1],"f":[]}`, `{"l":[{"n":"a"}],"e":[],"f":[{"x":1}]}`},
		steps: []step{{src: 1}},
		want:  []string{`{"l":[{"n":"a"}],"e":[],"f":[{"x":1}]}`},
	}, {
		name: "__typename replaced only by a concrete type",
		docs: []string{
			`{"a":{"__typename":"Node","id":"1"},"b":{"__typename":"Product"},"c":{"__typename":"Product"},"d":{"__typename":"Node"},"e":{"__typename":"Node"},"f":{"id":"1"},"g":[{"__typename":"Node"}],"h":{"__typename":"\u0050roduct"}}`,
			`{"a":{"__typename":"Product","name":"x"},"b":{"__typename":"Node"},"c":{"__typename":"Unknown"},"d":{"__typename":5},"e":{"__typename":"User"},"f":{"__typename":"Node"},"g":[{"__typename":"User"}],"h":{"__typename":"Node"}}`,
		},
		steps: []step{{src: 1}},
		want: []string{
			`{"a":{"__typename":"Product","id":"1","name":"x"},"b":{"__typename":"Product"},"c":{"__typename":"Product"},"d":{"__typename":"Node"},"e":{"__typename":"User"},"f":{"id":"1","__typename":"Node"},"g":[{"__typename":"User"}],"h":{"__typename":"Product"}}`,
		},
		check: func(t *testing.T, r *run, roots []uint32) {
			// An escaped concrete name replaces too.
			r2, roots2 := testRun(t, `{"__typename":"Node"}`, `{"__typename":"\u0055ser"}`)
			r2.merge(roots2[0], roots2[1])
			require.Equal(t, "User", r2.stringOf(walk(t, r2, roots2[0], "__typename")))
		},
	}, {
		name:  "the same source merged into two targets",
		docs:  []string{`{"a":{"id":1,"x":1},"b":{"id":1,"x":2,"y":2}}`, `{"id":1,"name":"n","x":9,"o":{"k":1}}`},
		steps: []step{{dst: []string{"a"}, src: 1}, {dst: []string{"b"}, src: 1}},
		want: []string{
			`{"a":{"id":1,"x":9,"name":"n","o":{"k":1}},"b":{"id":1,"x":9,"y":2,"name":"n","o":{"k":1}}}`,
			`{"id":1,"name":"n","x":9,"o":{"k":1}}`, // the source is unchanged
		},
	}, {
		name: "merging twice is idempotent",
		docs: []string{
			`{"__typename":"Node","n":1,"o":{"x":1},"l":[{"a":1},null],"m":[1]}`,
			`{"__typename":"Product","n":2,"o":{"y":2},"l":[{"b":2},{"c":3}],"m":[1,2],"new":{"z":3}}`,
		},
		steps: []step{{src: 1}},
		want: []string{
			`{"__typename":"Product","n":2,"o":{"x":1,"y":2},"l":[{"a":1,"b":2},{"c":3}],"m":[1,2],"new":{"z":3}}`,
		},
		check: func(t *testing.T, r *run, roots []uint32) {
			before, links, forward := render(r, roots[0]), len(r.links), len(r.forward)
			r.merge(roots[0], roots[1])
			require.Equal(t, before, render(r, roots[0]))
			require.Equal(t, links, len(r.links))
			require.Equal(t, forward, len(r.forward))
		},
	}, {
		name:  "escaped keys",
		docs:  []string{`{"id":1,"o":{"a":1}}`, `{"\u0069d":2,"\u006f":{"\u0062":2},"\u00e9":3}`},
		steps: []step{{src: 1}},
		want:  []string{`{"id":2,"o":{"a":1,"b":2},"é":3}`},
		check: func(t *testing.T, r *run, roots []uint32) {
			require.Equal(t, "3", render(r, walk(t, r, roots[0], "é")))
			require.Equal(t, "2", render(r, walk(t, r, roots[0], "o", "b")))
		},
	}, {
		name:  "merging into or from a non-object is a no-op",
		docs:  []string{`{"l":[1],"s":"x"}`, `{"a":1}`, `[1]`},
		steps: []step{{dst: []string{"l"}, src: 1}, {dst: []string{"s"}, src: 1}, {src: 2}},
		want:  []string{`{"l":[1],"s":"x"}`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, roots := testRun(t, tc.docs...)
			for _, s := range tc.steps {
				r.merge(walk(t, r, roots[s.into], s.dst...), roots[s.src])
			}
			for i, want := range tc.want {
				require.JSONEq(t, want, render(r, roots[i]), "doc %d", i)
				checkGet(t, r.tree, roots[i])
			}
			if tc.check != nil {
				tc.check(t, r, roots)
			}
		})
	}
}

func TestCollect(t *testing.T) {
	r, roots := testRun(t,
		`{"products":[{"id":1,"reviews":[{"r":1},null,{"r":2},7]},null,{"id":2,"reviews":null},{"id":3},{"id":4,"reviews":[]},{"id":5,"reviews":[{"r":3}]},"x"],`+
			`"matrix":[[{"m":1},null],null,[{"m":2}],[]],"one":{"o":1},"nil":null,"num":1}`,
		`{"reviews":[null,{"r":4}]}`,
	)
	root := roots[0]
	// Reviews merged into product 3 later are found through the link.
	r.merge(walk(t, r, root, "products", "3"), roots[1])

	tests := []struct {
		path  []string
		want  []string // each object found, by its members
		paths [][]any
	}{
		{[]string{"products", "@"}, []string{`{"id":1}`, `{"id":2}`, `{"id":3}`, `{"id":4}`, `{"id":5}`}, [][]any{{"products", 0}, {"products", 2}, {"products", 3}, {"products", 4}, {"products", 5}}},
		{[]string{"products", "@", "reviews", "@"}, []string{`{"r":1}`, `{"r":2}`, `{"r":4}`, `{"r":3}`}, [][]any{{"products", 0, "reviews", 0}, {"products", 0, "reviews", 2}, {"products", 3, "reviews", 1}, {"products", 5, "reviews", 0}}},
		{[]string{"matrix", "@", "@"}, []string{`{"m":1}`, `{"m":2}`}, [][]any{{"matrix", 0, 0}, {"matrix", 2, 0}}},
		{[]string{"one"}, []string{`{"o":1}`}, [][]any{{"one"}}},
		{[]string{}, []string{`{}`}, [][]any{nil}},
		{[]string{"nil"}, nil, nil},
		{[]string{"num"}, nil, nil},
		{[]string{"missing"}, nil, nil},
		{[]string{"one", "@"}, nil, nil},
		{[]string{"products"}, nil, nil}, // a list where an object is expected
		{[]string{"nil", "@", "x"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.path, "."), func(t *testing.T) {
			var paths [][]any
			got := r.collect(root, tc.path, &paths)
			require.Len(t, got, len(tc.want))
			require.Len(t, paths, len(tc.want))
			for i, want := range tc.want {
				if want == `{}` {
					require.Equal(t, root, got[i])
					continue
				}
				var w map[string]any
				require.NoError(t, json.Unmarshal([]byte(want), &w))
				for k, v := range w {
					b, err := json.Marshal(v)
					require.NoError(t, err)
					require.JSONEq(t, string(b), render(r, walk(t, r, got[i], k)), "%d: %s", i, k)
				}
			}
			if len(tc.want) > 0 {
				require.Equal(t, tc.paths, paths)
			}
			require.Equal(t, got, r.collect(root, tc.path, nil))
		})
	}
}

func TestEscapedKeys(t *testing.T) {
	r, roots := testRun(t, `{"\u0069d":1,"a\"b":2,"\u00e9":3,"ü":4,"o":{"\ud83d\ude00":5,"\\":6,"\/":7}}`)
	obj := roots[0]
	for key, want := range map[string]string{"id": "1", `a"b`: "2", "é": "3", "ü": "4"} {
		v, ok := r.get(obj, key)
		require.True(t, ok, key)
		require.Equal(t, want, render(r, v), key)
	}
	o := walk(t, r, obj, "o")
	for key, want := range map[string]string{"😀": "5", `\`: "6", "/": "7"} {
		v, ok := r.get(o, key)
		require.True(t, ok, key)
		require.Equal(t, want, render(r, v), key)
	}
	_, ok := r.get(obj, `\u0069d`)
	require.False(t, ok)
	require.JSONEq(t, `{"id":1,"a\"b":2,"é":3,"ü":4,"o":{"😀":5,"\\":6,"/":7}}`, render(r, obj))
}

// FuzzMerge checks merge against a model of its rules on decoded values.
func FuzzMerge(f *testing.F) {
	for _, p := range [][2]string{
		{`{"a":1,"o":{"x":1}}`, `{"b":2,"o":{"y":2}}`},
		{`{"n":1,"s":"x"}`, `{"n":2,"s":"x","t":null}`},
		{`{"l":[{"id":1},{"id":2}],"n":[1,2]}`, `{"l":[{"n":"a"},{"n":"b"}],"n":[3]}`},
		{`{"__typename":"Node","l":[{"__typename":"Node"}]}`, `{"__typename":"Product","l":[{"__typename":"User"}]}`},
		{`{"__typename":"Product"}`, `{"__typename":"Node"}`},
		{`{"a":null,"b":{"c":1},"d":[1]}`, `{"a":{"x":1},"b":null,"d":{"e":1}}`},
		{`{"m":[[{"a":1}],[2]]}`, `{"m":[[{"b":1}],[3]]}`},
		// A cursor must not take a merged part's __typename (nor, when the
		// part repeats other members, any member) over the object's own.
		{`{"__typename":"Node","a":1}`, `{"__typename":"Node","b":2}`},
		{`{"o":{"x":1},"a":1}`, `{"a":1,"o":{"y":2},"b":2}`},
		{`{"\u0069d":"\u0041"}`, `{"id":"A","é":"\u00e9"}`},
		{`[1]`, `{"a":1}`},
		{`{"a":1}`, `"x"`},
	} {
		f.Add([]byte(p[0]), []byte(p[1]))
	}
	schema := loadMergeSchema(f)
	concrete := func(v any) bool {
		s, ok := v.(string)
		def := schema.Types[s]
		return ok && def != nil && def.Kind == ast.Object
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if !json.Valid(a) || !json.Valid(b) {
			return
		}
		// As a root fetch merges: both into the root object, node 0.
		r := &run{e: &Executor{schema: schema}, tree: newTree()}
		ra, err := r.parse(a)
		if err != nil {
			return // too deep
		}
		rb, err := r.parse(b)
		if err != nil {
			return
		}
		va, dupA := decodeDup(t, a)
		vb, dupB := decodeDup(t, b)
		if dupA || dupB {
			return // merge treats duplicate member names as it happens to
		}
		r.merge(0, ra)
		r.merge(0, rb)
		want := modelMerge(modelMerge(map[string]any{}, va, concrete), vb, concrete)
		got := r.appendValue(nil, 0)
		require.Equal(t, want, decodeFirstWins(t, got), "%s then %s: %s", a, b, got)
		require.Equal(t, vb, decodeFirstWins(t, r.appendValue(nil, rb)), "the source changed")
		checkGet(t, r.tree, 0)
		// Merging again changes nothing.
		r.merge(0, rb)
		require.Equal(t, string(got), string(r.appendValue(nil, 0)))

		// Directly one into the other.
		r = &run{e: &Executor{schema: schema}, tree: newTree()}
		ra, _ = r.parse(a)
		rb, _ = r.parse(b)
		r.merge(ra, rb)
		va, _ = decodeDup(t, a)
		want = modelMerge(va, vb, concrete)
		got = r.appendValue(nil, ra)
		require.Equal(t, want, decodeFirstWins(t, got), "%s into %s: %s", b, a, got)
		require.Equal(t, vb, decodeFirstWins(t, r.appendValue(nil, rb)), "the source changed")
	})
}

// modelMerge is what run.merge does, on decoded values (dst is changed).
func modelMerge(dst, src any, concrete func(any) bool) any {
	d, ok := dst.(map[string]any)
	s, ok2 := src.(map[string]any)
	if !ok || !ok2 {
		return dst
	}
	for k, v := range s {
		cur, ok := d[k]
		switch {
		case !ok:
			d[k] = v
		case reflect.DeepEqual(cur, v):
		case k == "__typename":
			if concrete(v) {
				d[k] = v
			}
		default:
			d[k] = modelValue(cur, v, concrete)
		}
	}
	return d
}

func modelValue(cur, v any, concrete func(any) bool) any {
	switch c := cur.(type) {
	case map[string]any:
		if _, ok := v.(map[string]any); ok {
			return modelMerge(c, v, concrete)
		}
	case []any:
		if vl, ok := v.([]any); ok && len(vl) == len(c) {
			for i := range c {
				c[i] = modelValue(c[i], vl[i], concrete)
			}
			return c
		}
	}
	return v
}

// benchResponse is an _entities response shaped like the federation
// benchmark's largest (about 48 KB).
func benchResponse() []byte {
	var b strings.Builder
	b.WriteString(`{"data":{"_entities":[`)
	for i := 0; i < 60; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"__typename":"Product","upc":"%d","reviews":[`, i)
		for j := 0; j < 5; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"%d","body":"Review %d of product %d: it does what it says, and the price is right.","author":{"__typename":"User","id":"%d","username":"user-%d"}}`, j, j, i, j, j)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

func BenchmarkParse(b *testing.B) {
	doc := benchResponse()
	b.SetBytes(int64(len(doc)))
	tr := newTree()
	for b.Loop() {
		tr.raw, tr.nodes = tr.raw[:2], tr.nodes[:1]
		if _, err := tr.parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
