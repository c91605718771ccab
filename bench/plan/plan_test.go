package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/supergraph"
)

// Generated operations over the project's supergraph: every shape plans across
// subgraphs (Project.owner and Evidence.submittedBy are entity jumps to identity).

// aliased selects the same nested subtree under n aliases.
func aliased(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: projects { nodes { owner { name } controls { nodes { evidence { nodes { submittedBy { name } } } } } } }", i)
	}
	b.WriteString(" }")
	return b.String()
}

// deep nests projects → owner (an entity jump to identity for name) depth times.
func deep(depth int) string {
	var b strings.Builder
	b.WriteString("{ projects { nodes {")
	for range depth - 1 {
		b.WriteString(" name owner { name projects { nodes {")
	}
	b.WriteString(" name")
	for range depth - 1 {
		b.WriteString(" } } }")
	}
	b.WriteString(" } } }")
	return b.String()
}

// wide selects n leaf fields (aliases of a few) on one object, half of them
// through an entity jump.
func wide(n int) string {
	var b strings.Builder
	b.WriteString("{ projects { nodes { owner {")
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&b, " f%d: name", i)
		} else {
			fmt.Fprintf(&b, " f%d: id", i)
		}
	}
	b.WriteString(" } } } }")
	return b.String()
}

// cpuTime is the user and system CPU time of the process.
func cpuTime() time.Duration {
	var r syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r); err != nil {
		return 0
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// BenchmarkPlan plans generated operations over the project's supergraph:
//
//	go test ./bench/plan -run '^$' -bench Plan -benchtime 20x
func BenchmarkPlan(b *testing.B) {
	sdl, err := os.ReadFile("../../schema/supergraph.graphql")
	require.NoError(b, err)
	sg, err := supergraph.Parse(string(sdl))
	require.NoError(b, err)
	cases := []struct {
		name, query string
	}{
		{"aliases=10", aliased(10)}, {"aliases=100", aliased(100)}, {"aliases=1000", aliased(1000)},
		{"depth=5", deep(5)}, {"depth=10", deep(10)}, {"depth=20", deep(20)},
		{"fields=10", wide(10)}, {"fields=100", wide(100)}, {"fields=1000", wide(1000)},
	}
	for _, c := range cases {
		doc, perr := parser.ParseQuery(&ast.Source{Input: c.query})
		require.NoError(b, perr)
		require.Empty(b, validator.Validate(sg.API, doc))
		in := plan.Input{Supergraph: sg, Document: doc, Operation: doc.Operations[0]}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := plan.Build(in); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time of the process (garbage collection included) per plan: on a
			// shared machine a truer figure than the wall time of ns/op.
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// TestPlanningIsLinear checks that planning work (Plan.Steps, which unlike time
// does not depend on the machine) grows linearly with the operation.
func TestPlanningIsLinear(t *testing.T) {
	sdl, err := os.ReadFile("../../schema/supergraph.graphql")
	require.NoError(t, err)
	sg, err := supergraph.Parse(string(sdl))
	require.NoError(t, err)
	steps := func(q string) int {
		doc, perr := parser.ParseQuery(&ast.Source{Input: q})
		require.NoError(t, perr)
		p, err := plan.Build(plan.Input{Supergraph: sg, Document: doc, Operation: doc.Operations[0]})
		require.NoError(t, err)
		return p.Steps
	}
	for _, gen := range []func(int) string{aliased, deep, wide} {
		small, large := steps(gen(10)), steps(gen(20))
		require.LessOrEqual(t, large, 2*small+10, "%s", gen(20))
	}
	require.LessOrEqual(t, steps(aliased(1000)), 10*steps(aliased(100)))
	require.LessOrEqual(t, steps(wide(1000)), 10*steps(wide(100))+10)
}

func TestPlanningBudget(t *testing.T) {
	sdl, err := os.ReadFile("../../schema/supergraph.graphql")
	require.NoError(t, err)
	sg, err := supergraph.Parse(string(sdl))
	require.NoError(t, err)
	doc, perr := parser.ParseQuery(&ast.Source{Input: aliased(100)})
	require.NoError(t, perr)
	in := plan.Input{Supergraph: sg, Document: doc, Operation: doc.Operations[0], MaxSteps: 100}
	_, err = plan.Build(in)
	require.ErrorIs(t, err, plan.ErrBudgetExceeded)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in.MaxSteps = 0
	_, err = plan.BuildContext(ctx, in)
	require.ErrorIs(t, err, context.Canceled)
}
