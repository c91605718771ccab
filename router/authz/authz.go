// Package authz decides which fields of an operation a request may see, from the
// supergraph's @authenticated, @requiresScopes and @policy requirements and the
// request's verified claims, before the operation is planned.
//
// The gateway analyses each normalized operation once (Analyze: the fields whose
// type, parent type or definition carries a requirement), decides per request
// (Decide: authentication and scopes from the claims, every named policy in one
// batched call to a PolicyDecider) and, when something is denied, plans the
// operation without the denied fields (Apply) while the response is written from
// a selection where they are marked plan.Field.Unauthorized: they are null, with
// an UNAUTHORIZED_FIELD_OR_TYPE error at their path, and never reach a subgraph.
// Decisions live for one request only.
package authz

import (
	"context"
	"log/slog"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/studio-platform/studio/internal/auth"
	"github.com/studio-platform/studio/router/plan"
	"github.com/studio-platform/studio/router/supergraph"
)

// Code is the extensions.code of the error at each removed field.
const Code = "UNAUTHORIZED_FIELD_OR_TYPE"

// Authorizer enforces the access-control requirements of one supergraph.
type Authorizer struct {
	sg      *supergraph.Supergraph
	decider PolicyDecider
	log     *slog.Logger
}

// Option configures an Authorizer.
type Option func(*Authorizer)

// WithPolicyDecider sets who decides @policy requirements (default: DenyAll).
func WithPolicyDecider(d PolicyDecider) Option { return func(a *Authorizer) { a.decider = d } }

// WithLogger sets the logger (failed policy calls are logged).
func WithLogger(l *slog.Logger) Option { return func(a *Authorizer) { a.log = l } }

// New returns an Authorizer for a supergraph, or nil when the supergraph has no
// access-control requirement (nothing to enforce).
func New(sg *supergraph.Supergraph, opts ...Option) *Authorizer {
	if !sg.HasRequirements() {
		return nil
	}
	a := &Authorizer{sg: sg, decider: DenyAll{}, log: slog.Default()}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Guards is the access-control analysis of one normalized operation: the fields
// with requirements, in a fixed walk order. It is immutable once built and can be
// cached with the operation.
type Guards struct {
	sel      *plan.Selection
	sites    []site
	policies []string // every policy named by a site, sorted, unique
}

// site is a guarded field, or (field nil) a concrete type of an abstract selection.
type site struct {
	field *plan.Field
	sel   *plan.Selection
	typ   string
	reqs  []*supergraph.Requirements
}

// Len is the number of guarded fields (0: the operation needs no decision).
func (g *Guards) Len() int { return len(g.sites) }

// Analyze finds what of a normalized selection carries requirements: fields (on
// their definition or their named type; root fields also on the root type), and
// the concrete types of abstract selections (on the type: the objects of a type
// the request may not see keep only their __typename, as when Apollo's router
// removes a fragment on that type).
func (a *Authorizer) Analyze(sel *plan.Selection) *Guards {
	g := &Guards{sel: sel}
	seen := map[string]bool{}
	collect := func(rs ...*supergraph.Requirements) []*supergraph.Requirements {
		var reqs []*supergraph.Requirements
		for _, r := range rs {
			if r == nil {
				continue
			}
			reqs = append(reqs, r)
			for _, conj := range r.Policies {
				for _, p := range conj {
					if !seen[p] {
						seen[p] = true
						g.policies = append(g.policies, p)
					}
				}
			}
		}
		return reqs
	}
	var walk func(s *plan.Selection, depth int)
	walk = func(s *plan.Selection, depth int) {
		if s == nil || depth > 256 {
			return
		}
		for _, t := range s.Types {
			if s.Abstract && t != s.TypeName {
				if reqs := collect(a.sg.TypeRequirements(t)); len(reqs) > 0 {
					g.sites = append(g.sites, site{sel: s, typ: t, reqs: reqs})
				}
			}
			for _, f := range s.Fields[t] {
				if strings.HasPrefix(f.Name, "__") || f.Def == nil {
					continue
				}
				var parent *supergraph.Requirements
				if depth == 0 {
					parent = a.sg.TypeRequirements(t)
				}
				reqs := collect(a.sg.FieldRequirements(t, f.Name), parent, a.sg.TypeRequirements(f.Def.Type.Name()))
				if len(reqs) > 0 {
					g.sites = append(g.sites, site{field: f, reqs: reqs})
				}
				walk(f.Selection, depth+1)
			}
		}
	}
	walk(sel, 0)
	sort.Strings(g.policies)
	return g
}

// Decision is what one request may see of an analysed operation.
type Decision struct {
	denied []bool
	any    bool
}

// Denied reports whether anything is removed from the operation.
func (d Decision) Denied() bool { return d.any }

// Key identifies the decision among those possible for the same operation (for
// plan caches): one byte per guarded field.
func (d Decision) Key() string {
	b := make([]byte, len(d.denied))
	for i, x := range d.denied {
		b[i] = '0'
		if x {
			b[i] = '1'
		}
	}
	return string(b)
}

// Decide evaluates the guards for one request. claims is nil for an anonymous
// request. The PolicyDecider is called at most once, with every policy the
// operation names; if it fails, every policy is denied.
func (a *Authorizer) Decide(ctx context.Context, claims *auth.Claims, g *Guards) Decision {
	d := Decision{denied: make([]bool, len(g.sites))}
	var scopes map[string]bool
	if claims != nil {
		scopes = map[string]bool{}
		for _, s := range claims.ScopeList() {
			scopes[s] = true
		}
	}
	var decisions map[string]bool
	if len(g.policies) > 0 {
		var err error
		decisions, err = a.decider.Decide(ctx, claims, g.policies)
		if err != nil {
			a.log.WarnContext(ctx, "policy decisions failed: every @policy is denied", "error", err)
			decisions = nil
		}
	}
	for i, s := range g.sites {
		for _, r := range s.reqs {
			if !satisfied(r, claims != nil, scopes, decisions) {
				d.denied[i] = true
				d.any = true
				break
			}
		}
	}
	return d
}

func satisfied(r *supergraph.Requirements, authenticated bool, scopes, policies map[string]bool) bool {
	if r.Authenticated && !authenticated {
		return false
	}
	if r.Scopes != nil && !anyAll(r.Scopes, scopes) {
		return false
	}
	if r.Policies != nil && !anyAll(r.Policies, policies) {
		return false
	}
	return true
}

// anyAll reports whether every item of at least one conjunction is granted (an
// empty disjunction is never satisfied).
func anyAll(dnf [][]string, granted map[string]bool) bool {
	for _, conj := range dnf {
		ok := true
		for _, x := range conj {
			if !granted[x] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Apply returns the selection to write the response from (denied fields marked
// Unauthorized, denied types in Selection.Unauthorized) and the selection to plan
// (denied fields and the fields of denied types removed; an object left with no
// field selects __typename). The analysed selection is not modified.
func (g *Guards) Apply(d Decision) (full, allowed *plan.Selection) {
	dn := denials{fields: map[*plan.Field]bool{}, types: map[*plan.Selection]map[string]bool{}}
	for i, s := range g.sites {
		switch {
		case !d.denied[i]:
		case s.field != nil:
			dn.fields[s.field] = true
		default:
			if dn.types[s.sel] == nil {
				dn.types[s.sel] = map[string]bool{}
			}
			dn.types[s.sel][s.typ] = true
		}
	}
	return apply(g.sel, dn)
}

type denials struct {
	fields map[*plan.Field]bool
	types  map[*plan.Selection]map[string]bool
}

func apply(sel *plan.Selection, denied denials) (full, allowed *plan.Selection) {
	full = &plan.Selection{TypeName: sel.TypeName, Abstract: sel.Abstract, Types: sel.Types, Fields: make(map[string][]*plan.Field, len(sel.Fields)),
		Unauthorized: denied.types[sel]}
	allowed = &plan.Selection{TypeName: sel.TypeName, Abstract: sel.Abstract, Types: sel.Types, Fields: make(map[string][]*plan.Field, len(sel.Fields))}
	for t, fields := range sel.Fields {
		fl := make([]*plan.Field, 0, len(fields))
		al := make([]*plan.Field, 0, len(fields))
		typeDenied := denied.types[sel][t]
		for _, f := range fields {
			if typeDenied && f.Name != "__typename" {
				continue
			}
			if denied.fields[f] {
				c := *f
				c.Unauthorized = true
				c.Selection = nil
				fl = append(fl, &c)
				continue
			}
			if f.Selection == nil {
				fl, al = append(fl, f), append(al, f)
				continue
			}
			fs, as := apply(f.Selection, denied)
			fc, ac := *f, *f
			fc.Selection, ac.Selection = fs, as
			fl, al = append(fl, &fc), append(al, &ac)
		}
		if len(al) == 0 && len(fields) > 0 {
			al = append(al, &plan.Field{ResponseKey: "__typename", Name: "__typename",
				Def: &ast.FieldDefinition{Name: "__typename", Type: ast.NonNullNamedType("String", nil)}})
		}
		full.Fields[t], allowed.Fields[t] = fl, al
	}
	return full, allowed
}
