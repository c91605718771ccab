package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// LoginField says which root field logs in and which argument names the account.
type LoginField struct {
	// Operation is the root operation type of the field: query or mutation.
	Operation ast.Operation
	// Field is the field's name (e.g. login).
	Field string
	// Argument identifies the account (e.g. email).
	Argument string
}

// MaxLoginTokens bounds the parse of a document that mentions the login
// field; a longer one is refused (the gateway would spend more on it).
const MaxLoginTokens = 50_000

// ErrLoginDocument is a document that mentions the login field but cannot be
// read: it is refused, since its attempts cannot be counted.
var ErrLoginDocument = errors.New("ratelimit: the document cannot be parsed")

// LoginAttempts returns the account of every occurrence of the login field
// at the root of the request's operation (aliases, inline fragments and
// fragment spreads included): one entry per attempt, each the hash of the
// normalized account ("" when the argument is missing or not a string). When
// no operation name is given, every operation of the field's type counts.
// A document that does not contain the field's name costs nothing.
func (f LoginField) LoginAttempts(query, operationName string, vars map[string]json.RawMessage) ([]string, error) {
	if f.Field == "" || !strings.Contains(query, f.Field) {
		return nil, nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, MaxLoginTokens)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLoginDocument, err)
	}
	var out []string
	seen := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				if s.Name == f.Field {
					out = append(out, f.account(s, vars))
				}
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if seen[s.Name] { // a spread twice is merged by GraphQL: one execution
					continue
				}
				seen[s.Name] = true
				if def := doc.Fragments.ForName(s.Name); def != nil {
					walk(def.SelectionSet)
				}
			}
		}
	}
	named := operationName != "" && doc.Operations.ForName(operationName) != nil
	for _, op := range doc.Operations {
		if op.Operation != f.Operation || (named && op.Name != operationName) {
			continue
		}
		clear(seen)
		walk(op.SelectionSet)
	}
	return out, nil
}

func (f LoginField) account(field *ast.Field, vars map[string]json.RawMessage) string {
	a := field.Arguments.ForName(f.Argument)
	if a == nil || a.Value == nil {
		return ""
	}
	var s string
	switch a.Value.Kind {
	case ast.StringValue, ast.BlockValue:
		s = a.Value.Raw
	case ast.Variable:
		if json.Unmarshal(vars[a.Value.Raw], &s) != nil {
			return ""
		}
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(s))))
	return hex.EncodeToString(sum[:16])
}
