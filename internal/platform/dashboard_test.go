package platform_test

import (
	"testing"
	"time"

	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// BenchmarkDashboard runs the README's dashboard query (platform.DashboardQuery)
// through the real router and subgraphs, one request at a time, for several
// loader waits, and reports the SQL statements and _entities requests per
// operation next to the latency (ns/op). The demo user owns 18 projects
// (103 controls, 100 evidence items in the organization). Run it with the
// stack (see README, "Loader wait").
func BenchmarkDashboard(b *testing.B) {
	for _, c := range []struct {
		name string
		wait time.Duration
	}{
		{"wait=10ms", 10 * time.Millisecond},
		{"wait=2ms", 2 * time.Millisecond},
		{"wait=1ms", time.Millisecond},
		{"wait=500us", 500 * time.Microsecond},
		{"wait=250us", 250 * time.Microsecond},
		{"wait=0", kit.NoWait},
	} {
		b.Run(c.name, func(b *testing.B) {
			g := start(b, kit.Limits{LoaderWait: c.wait})
			addProjects(b, g, 49)
			token := g.login(b, demo.DemoUser.Email)
			if resp := g.post(b, token, platform.DashboardQuery, nil); len(resp.Errors) > 0 {
				b.Fatalf("errors: %v", resp.Errors)
			}
			g.identity.reset()
			g.compliance.reset()
			n := 0
			for b.Loop() {
				if resp := g.post(b, token, platform.DashboardQuery, nil); len(resp.Errors) > 0 {
					b.Fatalf("errors: %v", resp.Errors)
				}
				n++
			}
			sql := g.identity.queries.Count() + g.compliance.queries.Count()
			entities := g.identity.entities.Load() + g.compliance.entities.Load()
			b.ReportMetric(float64(sql)/float64(n), "sql/op")
			b.ReportMetric(float64(entities)/float64(n), "entities/op")
		})
	}
}
