// Package limits bounds what one operation may ask of the router before any
// of the expensive work (validation, planning, execution) is done: its tokens,
// depth, aliases, root fields, fields after fragment expansion, directives per
// selection and its estimated cost (the demand-control model of the @cost and
// @listSize directives). Every check is linear in the size of the document:
// fragments are counted once each (memoized), never expanded.
package limits

import (
	"fmt"
	"math"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Error codes, one per limit (extensions.code of the rejection).
const (
	CodeTokens     = "MAX_TOKENS_EXCEEDED"
	CodeDepth      = "MAX_DEPTH_EXCEEDED"
	CodeAliases    = "MAX_ALIASES_EXCEEDED"
	CodeRootFields = "MAX_ROOT_FIELDS_EXCEEDED"
	CodeFields     = "MAX_FIELDS_EXCEEDED"
	CodeDirectives = "MAX_DIRECTIVES_EXCEEDED"
	CodeWidth      = "MAX_SELECTION_WIDTH_EXCEEDED"
	CodeCost       = "COST_ESTIMATED_TOO_EXPENSIVE"
)

// Limits are the bounds on one operation; zero turns a bound off.
type Limits struct {
	// MaxTokens bounds the lexical tokens of the document (checked while parsing).
	MaxTokens int
	// MaxDepth bounds the nesting of fields (a root field is at depth 1).
	MaxDepth int
	// MaxAliases bounds the aliased fields, fragments expanded.
	MaxAliases int
	// MaxRootFields bounds the fields of the root selection, fragments expanded.
	MaxRootFields int
	// MaxFields bounds every field selected, fragments expanded.
	MaxFields int
	// MaxDirectives bounds the directives on any one field, fragment spread,
	// inline fragment, operation or fragment definition.
	MaxDirectives int
	// MaxWidth bounds the selections (fields, fragment spreads, inline
	// fragments) written directly in one selection set: validation compares
	// the selections of a set pairwise (gqlparser's OverlappingFieldsCanBeMerged),
	// 2,000 of them took it seconds.
	MaxWidth int
	// MaxCost bounds the estimated cost (see Model).
	MaxCost float64
	// DefaultListSize is the assumed length of a list without @listSize.
	DefaultListSize int
}

// Defaults: generous for real clients (GraphiQL's introspection query with
// type references nested ten deep is depth 16 with 247 fields expanded; the
// benchmark query of bench/federation is depth 8, cost 24,420), tight enough
// that the work of parsing, checking and planning any operation within them
// stays small and linear.
func Defaults() Limits {
	return Limits{
		MaxTokens:       15_000,
		MaxDepth:        25,
		MaxAliases:      100,
		MaxRootFields:   32,
		MaxFields:       2_000,
		MaxDirectives:   10,
		MaxWidth:        100,
		MaxCost:         50_000,
		DefaultListSize: 10,
	}
}

// Violation is an operation over one of the limits.
type Violation struct {
	Code    string
	Message string
}

func (v *Violation) Error() string { return v.Message }

func violation(code, format string, args ...any) *Violation {
	return &Violation{Code: code, Message: fmt.Sprintf(format, args...)}
}

// TokenLimitError recognizes the parser's token-limit error (gqlparser's
// ParseQueryWithTokenLimit) and returns it as a Violation, or nil.
func TokenLimitError(err error, max int) *Violation {
	if err == nil || max <= 0 || !strings.Contains(err.Error(), "exceeded token limit") {
		return nil
	}
	return violation(CodeTokens, "the operation has more than %d tokens", max)
}

// counts are the expanded totals of one selection set.
type counts struct {
	depth, aliases, fields, rootFields float64
}

// Check measures an operation of a parsed (not yet validated) document
// against the limits except tokens and cost. Fragments are measured once each;
// a fragment spread inside itself (a cycle, which validation rejects) counts
// as nothing.
func (l Limits) Check(doc *ast.QueryDocument, op *ast.OperationDefinition) *Violation {
	if l.MaxDirectives > 0 || l.MaxWidth > 0 {
		if v := l.checkSyntax(doc, op); v != nil {
			return v
		}
	}
	m := measurer{frags: map[string]*ast.FragmentDefinition{}, memo: map[string]counts{}, busy: map[string]bool{}}
	for _, f := range doc.Fragments {
		m.frags[f.Name] = f
	}
	c := m.selection(op.SelectionSet)
	switch {
	case l.MaxDepth > 0 && c.depth > float64(l.MaxDepth):
		return violation(CodeDepth, "the operation is nested %s levels deep, more than the %d allowed", count(c.depth), l.MaxDepth)
	case l.MaxRootFields > 0 && c.rootFields > float64(l.MaxRootFields):
		return violation(CodeRootFields, "the operation selects %s root fields, more than the %d allowed", count(c.rootFields), l.MaxRootFields)
	case l.MaxAliases > 0 && c.aliases > float64(l.MaxAliases):
		return violation(CodeAliases, "the operation has %s aliases, more than the %d allowed", count(c.aliases), l.MaxAliases)
	case l.MaxFields > 0 && c.fields > float64(l.MaxFields):
		return violation(CodeFields, "the operation selects %s fields once its fragments are expanded, more than the %d allowed", count(c.fields), l.MaxFields)
	}
	return nil
}

// count prints a count that may be astronomically large (fragments doubling).
func count(f float64) string {
	if f < 1e15 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.3g", f)
}

// checkSyntax looks at every selection set once (syntactically: a fragment's
// selections are its own, wherever it is spread) for its width and the
// directives of its selections.
func (l Limits) checkSyntax(doc *ast.QueryDocument, op *ast.OperationDefinition) *Violation {
	check := func(dirs ast.DirectiveList, what string) *Violation {
		if l.MaxDirectives > 0 && len(dirs) > l.MaxDirectives {
			return violation(CodeDirectives, "%s has %d directives, more than the %d allowed", what, len(dirs), l.MaxDirectives)
		}
		return nil
	}
	var walk func(ss ast.SelectionSet) *Violation
	walk = func(ss ast.SelectionSet) *Violation {
		if l.MaxWidth > 0 && len(ss) > l.MaxWidth {
			return violation(CodeWidth, "a selection set has %d selections, more than the %d allowed", len(ss), l.MaxWidth)
		}
		for _, s := range ss {
			switch s := s.(type) {
			case *ast.Field:
				if v := check(s.Directives, "field "+s.Name); v != nil {
					return v
				}
				if v := walk(s.SelectionSet); v != nil {
					return v
				}
			case *ast.InlineFragment:
				if v := check(s.Directives, "an inline fragment"); v != nil {
					return v
				}
				if v := walk(s.SelectionSet); v != nil {
					return v
				}
			case *ast.FragmentSpread:
				if v := check(s.Directives, "the spread of fragment "+s.Name); v != nil {
					return v
				}
			}
		}
		return nil
	}
	if v := check(op.Directives, "the operation"); v != nil {
		return v
	}
	for _, vd := range op.VariableDefinitions {
		if v := check(vd.Directives, "variable $"+vd.Variable); v != nil {
			return v
		}
	}
	if v := walk(op.SelectionSet); v != nil {
		return v
	}
	for _, f := range doc.Fragments {
		if v := check(f.Directives, "fragment "+f.Name); v != nil {
			return v
		}
		if v := walk(f.SelectionSet); v != nil {
			return v
		}
	}
	return nil
}

type measurer struct {
	frags map[string]*ast.FragmentDefinition
	memo  map[string]counts
	busy  map[string]bool
}

// selection returns the expanded counts of a selection set (depth counts the
// fields below it; rootFields the fields directly in it). Counts are floats:
// fragments doubling at each level overflow any integer, and only the
// comparison with a limit matters.
func (m *measurer) selection(ss ast.SelectionSet) counts {
	var c counts
	for _, s := range ss {
		switch s := s.(type) {
		case *ast.Field:
			sub := m.selection(s.SelectionSet)
			c.depth = math.Max(c.depth, 1+sub.depth)
			c.fields += 1 + sub.fields
			c.aliases += sub.aliases
			if s.Alias != "" && s.Alias != s.Name {
				c.aliases++
			}
			c.rootFields++
		case *ast.InlineFragment:
			c = add(c, m.selection(s.SelectionSet))
		case *ast.FragmentSpread:
			c = add(c, m.fragment(s.Name))
		}
	}
	return c
}

func (m *measurer) fragment(name string) counts {
	if c, ok := m.memo[name]; ok {
		return c
	}
	f := m.frags[name]
	if f == nil || m.busy[name] {
		return counts{}
	}
	m.busy[name] = true
	c := m.selection(f.SelectionSet)
	delete(m.busy, name)
	m.memo[name] = c
	return c
}

func add(a, b counts) counts {
	return counts{depth: math.Max(a.depth, b.depth), aliases: a.aliases + b.aliases, fields: a.fields + b.fields, rootFields: a.rootFields + b.rootFields}
}
