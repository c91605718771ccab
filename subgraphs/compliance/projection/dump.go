package projection

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Dump returns a canonical text of organization org's graph: its projects, controls and
// evidence with their properties (orgId left out), the frameworks and requirements its
// controls reach, and every relationship among them, one sorted line each. Two graphs of
// the same data have the same Dump. Meant for tests and debugging: it reads the whole
// organization.
func (p *Projector) Dump(ctx context.Context, org string) (string, error) {
	if err := checkID("organization id", org); err != nil {
		return "", err
	}
	params := map[string]any{"org": org}
	var lines []string
	nodes, err := p.read(ctx, `
CALL () {
  MATCH (n:Project {orgId: $org}) RETURN n
  UNION
  MATCH (n:Control {orgId: $org}) RETURN n
  UNION
  MATCH (n:Evidence {orgId: $org}) RETURN n
  UNION
  MATCH (:Control {orgId: $org})-[:SATISFIES]->(n:Requirement) RETURN n
  UNION
  MATCH (:Control {orgId: $org})-[:SATISFIES]->(:Requirement)<-[:HAS]-(n:Framework) RETURN n
}
RETURN labels(n) AS labels, properties(n) AS props`, params)
	if err != nil {
		return "", err
	}
	for _, r := range nodes {
		labels, _ := r.Get("labels")
		props, _ := r.Get("props")
		lines = append(lines, "node "+formatLabels(labels)+" "+formatProps(props))
	}
	rels, err := p.read(ctx, `
CALL () {
  MATCH (a:Project {orgId: $org})-[x:HAS_CONTROL]->(b) RETURN a, x, b
  UNION
  MATCH (a:Control {orgId: $org})-[x:SATISFIES]->(b) RETURN a, x, b
  UNION
  MATCH (a:Control {orgId: $org})-[x:SUPPORTED_BY]->(b) RETURN a, x, b
  UNION
  MATCH (:Control {orgId: $org})-[:SATISFIES]->(b:Requirement)<-[x:HAS]-(a:Framework) RETURN a, x, b
  UNION
  MATCH (a)-[x]->(b:Control {orgId: $org}) RETURN a, x, b
  UNION
  MATCH (a)-[x]->(b:Evidence {orgId: $org}) RETURN a, x, b
}
RETURN labels(a) AS la, a.id AS a, type(x) AS type, labels(b) AS lb, b.id AS b, a.orgId AS oa, b.orgId AS ob`, params)
	if err != nil {
		return "", err
	}
	for _, r := range rels {
		la, _ := r.Get("la")
		lb, _ := r.Get("lb")
		oa, ob := str(r, "oa"), str(r, "ob")
		if (oa != "" && oa != org) || (ob != "" && ob != org) {
			// A relationship across organizations must never exist: show it loudly.
			lines = append(lines, fmt.Sprintf("CROSS-ORGANIZATION %s(%s) -> %s(%s)", oa, str(r, "a"), ob, str(r, "b")))
		}
		lines = append(lines, fmt.Sprintf("rel %s(%s) -[%s]-> %s(%s)", formatLabels(la), str(r, "a"), str(r, "type"), formatLabels(lb), str(r, "b")))
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	return strings.Join(lines, "\n") + "\n", nil
}

func formatLabels(v any) string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, l := range list {
		out = append(out, fmt.Sprint(l))
	}
	slices.Sort(out)
	return strings.Join(out, ":")
}

func formatProps(v any) string {
	m, _ := v.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "orgId" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", k, formatValue(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case string:
		return fmt.Sprintf("%q", x)
	default:
		return fmt.Sprint(x)
	}
}
