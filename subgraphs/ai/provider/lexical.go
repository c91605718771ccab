package provider

import (
	"hash/fnv"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The offline provider's lexical machinery: tokens, a light stemmer, BM25
// and feature-hashed embeddings. Deterministic: no randomness, no map
// iteration order reaches an output.

// stopwords are common English words that carry no topic.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again all also am an and any are as at be because been
		before being below between both but by can could did do does doing down during each few for from further
		had has have having he her here hers him his how i if in into is it its itself just me more most my no nor
		not now of off on once only or other our ours out over own same she should so some such than that the their
		theirs them then there these they this those through to too under until up very was we were what when where
		which while who whom why will with would you your yours please tell show give explain describe`) {
		m[w] = true
	}
	return m
}()

// words splits text into lower-case words: runs of letters and digits,
// keeping a '.' or '-' between two of them ("cc6.1", "soc-2").
func words(text string) []string {
	var out []string
	start := -1
	lower := strings.ToLower(text)
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	for i, r := range lower {
		switch {
		case isWord(r):
			if start < 0 {
				start = i
			}
		case (r == '.' || r == '-') && start >= 0:
			next, _ := utf8.DecodeRuneInString(lower[i+1:])
			if i+1 < len(lower) && isWord(next) {
				continue
			}
			out = append(out, lower[start:i])
			start = -1
		default:
			if start >= 0 {
				out = append(out, lower[start:i])
				start = -1
			}
		}
	}
	if start >= 0 {
		out = append(out, lower[start:])
	}
	return out
}

// terms are the stemmed words of text without stopwords.
func terms(text string) []string {
	ws := words(text)
	out := ws[:0]
	for _, w := range ws {
		if stopwords[w] {
			continue
		}
		out = append(out, stem(w))
	}
	return out
}

// stem strips a few English suffixes so that "encrypted", "encryption" and
// "encrypts" meet at "encrypt". Crude on purpose: it only has to be the same
// for the question and the passages.
func stem(w string) string {
	if len(w) <= 3 || strings.ContainsAny(w, "0123456789") {
		return w
	}
	for _, s := range []struct{ suffix, repl string }{
		{"ations", ""}, {"ation", ""}, {"ments", ""}, {"ment", ""}, {"ings", ""}, {"ing", ""},
		{"ions", ""}, {"ion", ""}, {"ies", "y"}, {"ied", "y"}, {"ed", ""}, {"es", ""}, {"ly", ""},
		{"ss", "ss"}, {"s", ""}, {"e", ""},
	} {
		if strings.HasSuffix(w, s.suffix) && len(w)-len(s.suffix)+len(s.repl) >= 3 {
			return w[:len(w)-len(s.suffix)] + s.repl
		}
	}
	return w
}

// bm25 scores documents (already split into terms) against a query with
// Okapi BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N-df+0.5)/(df+0.5))).
type bm25 struct {
	docs  [][]string
	df    map[string]int
	avgDL float64
}

func newBM25(docs [][]string) *bm25 {
	b := &bm25{docs: docs, df: map[string]int{}}
	total := 0
	for _, d := range docs {
		total += len(d)
		seen := map[string]bool{}
		for _, t := range d {
			if !seen[t] {
				seen[t] = true
				b.df[t]++
			}
		}
	}
	if len(docs) > 0 {
		b.avgDL = float64(total) / float64(len(docs))
	}
	return b
}

func (b *bm25) idf(t string) float64 {
	n, df := float64(len(b.docs)), float64(b.df[t])
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// score is doc's BM25 score for the query terms (each distinct term once).
func (b *bm25) score(query []string, doc []string) float64 {
	const k1, bb = 1.2, 0.75
	if len(doc) == 0 || b.avgDL == 0 {
		return 0
	}
	tf := map[string]int{}
	for _, t := range doc {
		tf[t]++
	}
	seen := map[string]bool{}
	s := 0.0
	for _, q := range query {
		if seen[q] {
			continue
		}
		seen[q] = true
		f := float64(tf[q])
		if f == 0 {
			continue
		}
		s += b.idf(q) * f * (k1 + 1) / (f + k1*(1-bb+bb*float64(len(doc))/b.avgDL))
	}
	return s
}

// hashEmbed maps text to a unit vector of dims by feature hashing: each
// stemmed non-stopword term (weight 1 + ln tf) and each character trigram of
// those words, with "^" and "$" marking word edges (weight 0.5 each), is
// hashed (FNV-1a 64) to a coordinate and a sign. Texts that share words or
// word pieces get a high cosine similarity; unrelated texts about 0.
func hashEmbed(text string, dims int) []float32 {
	v := make([]float64, dims)
	add := func(feature string, w float64) {
		h := fnv.New64a()
		h.Write([]byte(feature))
		x := h.Sum64()
		i := int(x % uint64(dims))
		if x>>63 == 1 {
			w = -w
		}
		v[i] += w
	}
	tf := map[string]int{}
	var order []string
	for _, w := range words(text) {
		if stopwords[w] {
			continue
		}
		t := "w:" + stem(w)
		if tf[t] == 0 {
			order = append(order, t)
		}
		tf[t]++
		r := []rune("^" + w + "$")
		for i := 0; i+3 <= len(r); i++ {
			add("c:"+string(r[i:i+3]), 0.5)
		}
	}
	for _, t := range order {
		add(t, 1+math.Log(float64(tf[t])))
	}
	out := make([]float32, dims)
	for i, x := range v {
		out[i] = float32(x)
	}
	normalize(out)
	return out
}

// sentences splits text after '.', '!' or '?' followed by white space, and
// at blank lines.
func sentences(text string) []string {
	var out []string
	text = strings.TrimSpace(text)
	start := 0
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		end := false
		switch rs[i] {
		case '.', '!', '?':
			end = i+1 == len(rs) || unicode.IsSpace(rs[i+1])
		case '\n':
			end = i+1 < len(rs) && rs[i+1] == '\n'
		}
		if end {
			if s := strings.TrimSpace(string(rs[start : i+1])); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(string(rs[start:])); s != "" {
		out = append(out, s)
	}
	return out
}
