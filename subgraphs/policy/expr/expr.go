// Package expr compiles and evaluates policy conditions written in CEL
// (github.com/google/cel-go). A condition sees three maps with string keys —
// subject, resource and environment — and must type-check to a bool. Sizes
// and costs are bounded: MaxLength characters of source, a parser recursion
// limit, and CostLimit per evaluation (past it the evaluation fails, which a
// decision counts as a denial).
package expr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// Limits of a condition.
const (
	MaxLength      = 4096
	RecursionLimit = 32
	CostLimit      = 10_000
)

// The variables a condition sees.
const (
	VarSubject     = "subject"
	VarResource    = "resource"
	VarEnvironment = "environment"
)

// Env compiles conditions. It is safe for concurrent use.
type Env struct {
	env *cel.Env
}

// NewEnv returns the CEL environment of policy conditions.
func NewEnv() (*Env, error) {
	attrs := cel.MapType(cel.StringType, cel.DynType)
	env, err := cel.NewEnv(
		cel.Variable(VarSubject, attrs),
		cel.Variable(VarResource, attrs),
		cel.Variable(VarEnvironment, attrs),
		cel.ParserExpressionSizeLimit(MaxLength),
		cel.ParserRecursionLimit(RecursionLimit),
	)
	if err != nil {
		return nil, fmt.Errorf("expr: cel environment: %w", err)
	}
	return &Env{env: env}, nil
}

// CompileError is a condition that does not compile or is not a bool. Its
// message is CEL's, for the author of the condition.
type CompileError struct{ Msg string }

func (e *CompileError) Error() string { return e.Msg }

// Program is a compiled condition.
type Program struct {
	prg cel.Program
	// UsesEnvironment is whether the condition reads environment (time, ip):
	// decisions that evaluated it are not cached.
	UsesEnvironment bool
}

// Compile parses and type-checks src. A condition that does not compile or
// does not evaluate to a bool is a *CompileError.
func (e *Env) Compile(src string) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &CompileError{Msg: "the condition is empty"}
	}
	if n := len([]rune(src)); n > MaxLength {
		return nil, &CompileError{Msg: fmt.Sprintf("the condition has %d characters, more than %d", n, MaxLength)}
	}
	ast, iss := e.env.Compile(src)
	if iss.Err() != nil {
		return nil, &CompileError{Msg: iss.Err().Error()}
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, &CompileError{Msg: fmt.Sprintf("the condition must evaluate to a bool, not %s", ast.OutputType())}
	}
	prg, err := e.env.Program(ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, &CompileError{Msg: err.Error()}
	}
	checked, err := cel.AstToCheckedExpr(ast)
	if err != nil {
		return nil, fmt.Errorf("expr: checked expression: %w", err)
	}
	p := &Program{prg: prg}
	for _, ref := range checked.GetReferenceMap() {
		if ref.GetName() == VarEnvironment {
			p.UsesEnvironment = true
		}
	}
	return p, nil
}

// Vars are a condition's inputs.
type Vars struct {
	Subject     map[string]any
	Resource    map[string]any
	Environment map[string]any
}

// Environment returns the environment variables of a decision at now from ip.
func Environment(now time.Time, ip string) map[string]any {
	return map[string]any{"time": now.UTC(), "ip": ip}
}

// Eval evaluates p: true or false, or an error (a missing attribute, the cost
// limit, a cancelled ctx) that the caller counts as a denial.
func (p *Program) Eval(ctx context.Context, v Vars) (bool, error) {
	out, _, err := p.prg.ContextEval(ctx, map[string]any{
		VarSubject: v.Subject, VarResource: v.Resource, VarEnvironment: v.Environment,
	})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, errors.New("the condition did not evaluate to a bool")
	}
	return b, nil
}
