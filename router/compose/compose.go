package compose

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Subgraph is one subgraph to compose: its name (as in supergraph.yaml), routing URL and SDL.
type Subgraph struct {
	Name string
	URL  string
	SDL  string
}

// Error is one composition error. Subgraph, Type and Field name the element at fault when
// it is known (Subgraph is empty when the error is about several subgraphs, and the
// message names them).
type Error struct {
	Code     string
	Subgraph string
	Type     string
	Field    string
	Message  string
}

func (e *Error) Error() string { return e.Message }

// ErrComposition is matched (errors.Is) by every composition error.
var ErrComposition = errors.New("composition failed")

func (e *Error) Is(target error) bool { return target == ErrComposition }

func newError(code, subgraph, typ, field, msg string) *Error {
	return &Error{Code: code, Subgraph: subgraph, Type: typ, Field: field, Message: msg}
}

// Compose composes subgraphs into a supergraph SDL (link v1.0 + join v0.3, v0.4 or v0.5,
// depending on the newest federation version the subgraphs link). Every error found is
// returned, joined with errors.Join; each is an *Error.
func Compose(subgraphs []Subgraph) (string, error) {
	if len(subgraphs) == 0 {
		return "", newError("NO_SUBGRAPHS", "", "", "", "no subgraphs to compose")
	}
	sorted := append([]Subgraph(nil), subgraphs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var errs []error
	seen := map[string]bool{}
	for _, s := range sorted {
		switch {
		case s.Name == "":
			errs = append(errs, newError("INVALID_SUBGRAPH_NAME", "", "", "", "a subgraph has an empty name"))
		case seen[s.Name]:
			errs = append(errs, newError("INVALID_SUBGRAPH_NAME", s.Name, "", "", fmt.Sprintf("subgraph name %q is used more than once", s.Name)))
		}
		seen[s.Name] = true
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}

	var all []*subgraph
	fedMinor := 0
	for i, sg := range sorted {
		s, cerrs := collect(i, sg)
		errs = append(errs, cerrs...)
		if s == nil {
			continue
		}
		if s.fedMinor > fedMinor {
			fedMinor = s.fedMinor
		}
		all = append(all, s)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	for i, name := range graphEnumNames(sorted) {
		all[i].enumName = name
	}
	for _, s := range all {
		s.prepare()
		s.snapshot()
	}
	for _, s := range all {
		if !s.fed2 {
			upgradeFed1(s, all)
		}
	}
	for _, s := range all {
		s.prepare()
		errs = append(errs, s.validateFieldSets()...)
		errs = append(errs, s.validateExternalUsage()...)
		errs = append(errs, s.validateAuthOnInterfaces()...)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}

	g := &supergraph{
		join:      joinSpecFor(fedMinor),
		subgraphs: all,
		types:     map[string]*gType{},
		roots:     map[ast.Operation]bool{},
		specs:     map[string]bool{},
		enumUsage: map[string]*enumUsage{},
	}
	g.merge()
	g.validateTransitiveAuth()
	if len(g.errs) > 0 {
		return "", errors.Join(g.errs...)
	}
	return g.print(), nil
}

var nonWord = regexp.MustCompile(`\W`)

// graphEnumNames returns the join__Graph value of each subgraph: the name upper-cased with
// non-word characters replaced by "_", made unique with a _N suffix.
func graphEnumNames(subgraphs []Subgraph) []string {
	sanitized := make([]string, len(subgraphs))
	count := map[string]int{}
	for i, s := range subgraphs {
		n := nonWord.ReplaceAllString(s.Name, "_")
		if n != "" && n[0] >= '0' && n[0] <= '9' {
			n = "_" + n
		}
		if regexp.MustCompile(`_\d+$`).MatchString(n) {
			n += "_"
		}
		sanitized[i] = strings.ToUpper(n)
		count[sanitized[i]]++
	}
	out := make([]string, len(subgraphs))
	index := map[string]int{}
	for i, n := range sanitized {
		if count[n] == 1 {
			out[i] = n
			continue
		}
		index[n]++
		out[i] = fmt.Sprintf("%s_%d", n, index[n])
	}
	return out
}
