// Command plan measures the planner: for every operation of every suite folder
// (supergraph.graphql + tests.json, as bench/audit/fetch.sh writes them) it plans
// the operation many times, uncached, and reports the median and p99 planning
// time per operation and over all operations.
//
//	go run ./bench/plan -dir /tmp/audit-data [-n 200]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/supergraph"
)

type test struct {
	Query string `json:"query"`
}

type result struct {
	name        string
	median, p99 time.Duration
}

func main() {
	dir := flag.String("dir", "", "folder of suites (bench/audit/fetch.sh output)")
	n := flag.Int("n", 200, "plans per operation")
	verbose := flag.Bool("v", false, "print every operation")
	flag.Parse()
	if err := run(*dir, *n, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(1)
	}
}

func run(dir string, n int, verbose bool) error {
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	suites, err := filepath.Glob(filepath.Join(dir, "*", "supergraph.graphql"))
	if err != nil {
		return err
	}
	var results []result
	var failures int
	for _, sgFile := range suites {
		suite := filepath.Base(filepath.Dir(sgFile))
		sdl, err := os.ReadFile(sgFile)
		if err != nil {
			return err
		}
		sg, err := supergraph.Parse(string(sdl))
		if err != nil {
			return fmt.Errorf("%s: %w", suite, err)
		}
		raw, err := os.ReadFile(filepath.Join(filepath.Dir(sgFile), "tests.json"))
		if err != nil {
			return err
		}
		var tests []test
		if err := json.Unmarshal(raw, &tests); err != nil {
			return fmt.Errorf("%s: tests.json: %w", suite, err)
		}
		for i, t := range tests {
			name := fmt.Sprintf("%s_%d", suite, i)
			doc, perr := parser.ParseQuery(&ast.Source{Input: t.Query})
			if perr != nil || len(validator.Validate(sg.API, doc)) > 0 || len(doc.Operations) != 1 {
				continue // invalid on purpose (the audit checks the error)
			}
			in := plan.Input{Supergraph: sg, Document: doc, Operation: doc.Operations[0]}
			if _, err := plan.Build(in); err != nil {
				failures++ // unplannable on purpose (the audit checks the error)
				continue
			}
			times := make([]time.Duration, n)
			for j := range times {
				start := time.Now()
				if _, err := plan.Build(in); err != nil {
					return err
				}
				times[j] = time.Since(start)
			}
			sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
			r := result{name: name, median: times[n/2], p99: times[n*99/100]}
			results = append(results, r)
			if verbose {
				fmt.Printf("%-45s median %8s  p99 %8s\n", r.name, r.median, r.p99)
			}
		}
	}
	if len(results) == 0 {
		return fmt.Errorf("no operations found under %s", dir)
	}
	sort.Slice(results, func(a, b int) bool { return results[a].median < results[b].median })
	medians := make([]time.Duration, len(results))
	for i, r := range results {
		medians[i] = r.median
	}
	slowest := results[len(results)-1]
	fmt.Printf("operations planned: %d (%d unplannable on purpose, skipped)\n", len(results), failures)
	fmt.Printf("median of per-operation medians: %s\n", medians[len(medians)/2])
	fmt.Printf("slowest operation: %s median %s p99 %s\n", slowest.name, slowest.median, slowest.p99)
	over := 0
	for _, r := range results {
		if r.median > time.Millisecond {
			over++
		}
	}
	fmt.Printf("operations with a median over 1ms: %d\n", over)
	return nil
}
