package projection_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/internal/testenv"
	"github.com/studio-platform/studio/subgraphs/compliance/projection"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func open(t *testing.T) *projection.Projector {
	t.Helper()
	ctx := context.Background()
	p, err := projection.Open(ctx, testenv.Neo4j(t), projection.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close(ctx)) })
	return p
}

// fixture is one organization's compliance data. Neo4j is shared by every test, so
// organization and catalog ids are random per fixture.
type fixture struct {
	org  string
	ids  map[string]string // short name -> id
	snap projection.Snapshot
}

func (f *fixture) id(name string) string {
	if id, ok := f.ids[name]; ok {
		return id
	}
	id := name + "-" + uuid.NewString()
	f.ids[name] = id
	return id
}

func (f *fixture) idList(names ...string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, f.id(n))
	}
	return out
}

func at(d time.Duration) *time.Time {
	t := now.Add(d)
	return &t
}

// newFixture: SOC 2 (CC6.1, CC6.2, CC7.2) and ISO 27001 (A.5.15, A.8.2, A.8.16); project
// "web" with controls ac (CC6.1 + A.5.15), mfa (CC6.2 + A.8.2), mon (CC7.2), log
// (A.8.16, no evidence); project "api" with control key (CC6.1 + A.8.2).
//
//	e-policy   ACCEPTED, no expiry     -> ac
//	e-review   ACCEPTED, expires +10d  -> ac, mfa
//	e-siem     ACCEPTED, expired -1d   -> mon
//	e-draft    PENDING                 -> key
//	e-old      REJECTED, expired -5d   -> key
func newFixture() *fixture {
	f := &fixture{org: "org-" + uuid.NewString(), ids: map[string]string{}}
	f.snap = projection.Snapshot{
		Frameworks: []projection.Framework{
			{ID: f.id("soc2"), Key: "SOC2", Name: "SOC 2 Trust Services Criteria", Version: "2017"},
			{ID: f.id("iso"), Key: "ISO27001", Name: "ISO/IEC 27001 Annex A", Version: "2022"},
		},
		Requirements: []projection.Requirement{
			{ID: f.id("cc6.1"), FrameworkID: f.id("soc2"), Code: "CC6.1", Title: "Logical access security"},
			{ID: f.id("cc6.2"), FrameworkID: f.id("soc2"), Code: "CC6.2", Title: "User registration and authorization"},
			{ID: f.id("cc7.2"), FrameworkID: f.id("soc2"), Code: "CC7.2", Title: "System monitoring"},
			{ID: f.id("a.5.15"), FrameworkID: f.id("iso"), Code: "A.5.15", Title: "Access control"},
			{ID: f.id("a.8.2"), FrameworkID: f.id("iso"), Code: "A.8.2", Title: "Privileged access rights"},
			{ID: f.id("a.8.16"), FrameworkID: f.id("iso"), Code: "A.8.16", Title: "Monitoring activities"},
		},
		Projects: []projection.Project{
			{ID: f.id("web"), Name: "Web app", Version: 2},
			{ID: f.id("api"), Name: "Public API", Version: 1},
		},
		Controls: []projection.Control{
			{ID: f.id("ac"), ProjectID: f.id("web"), Code: "AC-1", Title: "Access control policy", Status: "IMPLEMENTED", RequirementIDs: f.idList("cc6.1", "a.5.15"), Version: 3},
			{ID: f.id("mfa"), ProjectID: f.id("web"), Code: "AC-2", Title: "MFA everywhere", Status: "IN_PROGRESS", RequirementIDs: f.idList("cc6.2", "a.8.2"), Version: 5},
			{ID: f.id("mon"), ProjectID: f.id("web"), Code: "MON-1", Title: "Central monitoring", Status: "IMPLEMENTED", RequirementIDs: f.idList("cc7.2"), Version: 1},
			{ID: f.id("log"), ProjectID: f.id("web"), Code: "LOG-1", Title: "Log retention", Status: "NOT_STARTED", RequirementIDs: f.idList("a.8.16"), Version: 1},
			{ID: f.id("key"), ProjectID: f.id("api"), Code: "KEY-1", Title: "API key rotation", Status: "IN_PROGRESS", RequirementIDs: f.idList("cc6.1", "a.8.2"), Version: 1},
		},
		Evidence: []projection.Evidence{
			{ID: f.id("e-policy"), Title: "Access policy v3", Status: projection.EvidenceAccepted, ControlIDs: f.idList("ac"), Version: 1},
			{ID: f.id("e-review"), Title: "Q4 access review", Status: projection.EvidenceAccepted, ExpiresAt: at(10 * 24 * time.Hour), ControlIDs: f.idList("ac", "mfa"), Version: 4},
			{ID: f.id("e-siem"), Title: "SIEM export", Status: projection.EvidenceAccepted, ExpiresAt: at(-24 * time.Hour), ControlIDs: f.idList("mon"), Version: 1},
			{ID: f.id("e-draft"), Title: "Rotation runbook draft", Status: projection.EvidencePending, ControlIDs: f.idList("key"), Version: 1},
			{ID: f.id("e-old"), Title: "Old rotation log", Status: projection.EvidenceRejected, ExpiresAt: at(-5 * 24 * time.Hour), ControlIDs: f.idList("key"), Version: 1},
		},
	}
	return f
}

// events is a history of events whose end state is f.snap: updates, remappings,
// redelivered stale versions, a created-then-deleted control with its evidence.
func (f *fixture) events() []func(context.Context, *projection.Projector) error {
	s := f.snap
	org := f.org
	var evs []func(context.Context, *projection.Projector) error
	add := func(fn func(context.Context, *projection.Projector) error) { evs = append(evs, fn) }
	for _, fw := range s.Frameworks {
		add(func(ctx context.Context, p *projection.Projector) error { return p.UpsertFramework(ctx, fw) })
	}
	for _, r := range s.Requirements {
		add(func(ctx context.Context, p *projection.Projector) error { return p.UpsertRequirement(ctx, r) })
	}
	// The web project is renamed (version 1 -> 2); api arrives only after its control.
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertProject(ctx, org, projection.Project{ID: f.id("web"), Name: "Web", Version: 1})
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertProject(ctx, org, s.Projects[0])
	})
	// ac: created in "api", moved to "web", mapped to CC6.1 only, then A.5.15 mapped by a mapping event.
	add(func(ctx context.Context, p *projection.Projector) error {
		c := s.Controls[0]
		c.ProjectID, c.Status, c.RequirementIDs, c.Version = f.id("api"), "NOT_STARTED", f.idList("cc6.1"), 1
		return p.UpsertControl(ctx, org, c)
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		c := s.Controls[0]
		c.RequirementIDs, c.Version = nil, 3 // nil: mappings left alone
		return p.UpsertControl(ctx, org, c)
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.MapControl(ctx, org, projection.Mapping{ControlID: f.id("ac"), RequirementID: f.id("a.5.15")})
	})
	// mfa: first mapped to CC7.2 by mistake, remapped; then a stale version redelivered.
	add(func(ctx context.Context, p *projection.Projector) error {
		c := s.Controls[1]
		c.RequirementIDs, c.Version = f.idList("cc7.2"), 4
		return p.UpsertControl(ctx, org, c)
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertControl(ctx, org, s.Controls[1])
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		c := s.Controls[1]
		c.Title, c.RequirementIDs, c.Version = "stale title", f.idList("cc7.2"), 2
		return p.UpsertControl(ctx, org, c)
	})
	// mon: mapped to A.8.16 too, then unmapped.
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertControl(ctx, org, s.Controls[2])
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.MapControl(ctx, org, projection.Mapping{ControlID: f.id("mon"), RequirementID: f.id("a.8.16")})
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UnmapControl(ctx, org, projection.Mapping{ControlID: f.id("mon"), RequirementID: f.id("a.8.16")})
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertControl(ctx, org, s.Controls[3])
	})
	// e-review: pending on ac only, then accepted on ac and mfa.
	add(func(ctx context.Context, p *projection.Projector) error {
		e := s.Evidence[1]
		e.Status, e.ExpiresAt, e.ControlIDs, e.Version = projection.EvidencePending, nil, f.idList("ac"), 2
		return p.UpsertEvidence(ctx, org, e)
	})
	for _, e := range s.Evidence {
		add(func(ctx context.Context, p *projection.Projector) error { return p.UpsertEvidence(ctx, org, e) })
	}
	// A control created and deleted, with evidence only it had (swept) and evidence it
	// shared with ac (kept, link gone).
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertControl(ctx, org, projection.Control{ID: f.id("tmp"), ProjectID: f.id("web"), Code: "TMP", Title: "Temporary", Status: "NOT_STARTED", RequirementIDs: f.idList("cc6.1")})
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertEvidence(ctx, org, projection.Evidence{ID: f.id("e-tmp"), Title: "tmp", Status: projection.EvidenceAccepted, ControlIDs: f.idList("tmp")})
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		e := s.Evidence[0]
		e.ControlIDs = f.idList("ac", "tmp")
		return p.UpsertEvidence(ctx, org, e)
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.DeleteControl(ctx, org, f.id("tmp"))
	})
	// The key control arrives before its project.
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertControl(ctx, org, s.Controls[4])
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertProject(ctx, org, s.Projects[1])
	})
	// A stale evidence redelivery is ignored.
	add(func(ctx context.Context, p *projection.Projector) error {
		e := s.Evidence[1]
		e.Status, e.Version = projection.EvidenceRejected, 3
		return p.UpsertEvidence(ctx, org, e)
	})
	// A whole project created and deleted.
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertProject(ctx, org, projection.Project{ID: f.id("gone"), Name: "Gone"})
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertControl(ctx, org, projection.Control{ID: f.id("gone-c"), ProjectID: f.id("gone"), Code: "G", Title: "G", Status: "NOT_STARTED", RequirementIDs: []string{}})
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.UpsertEvidence(ctx, org, projection.Evidence{ID: f.id("e-gone"), Title: "g", Status: projection.EvidencePending, ControlIDs: f.idList("gone-c")})
	})
	add(func(ctx context.Context, p *projection.Projector) error {
		return p.DeleteProject(ctx, org, f.id("gone"))
	})
	return evs
}

func apply(t *testing.T, p *projection.Projector, evs []func(context.Context, *projection.Projector) error) {
	t.Helper()
	for i, ev := range evs {
		require.NoError(t, ev(context.Background(), p), "event %d", i)
	}
}

func dump(t *testing.T, p *projection.Projector, org string) string {
	t.Helper()
	d, err := p.Dump(context.Background(), org)
	require.NoError(t, err)
	require.NotContains(t, d, "CROSS-ORGANIZATION")
	return d
}

func TestEventsEqualRebuild(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	f := newFixture()

	apply(t, p, f.events())
	byEvents := dump(t, p, f.org)
	require.Equal(t, 5+2+5+6+2, strings.Count(byEvents, "node "), byEvents) // controls, projects, evidence, requirements, frameworks
	require.NotContains(t, byEvents, "stale")
	require.NotContains(t, byEvents, "tmp")
	require.NotContains(t, byEvents, "gone")

	// Replaying the whole history changes nothing.
	apply(t, p, f.events())
	require.Equal(t, byEvents, dump(t, p, f.org))

	// Rebuilding the same organization from the snapshot gives the same graph, and
	// removes what the snapshot lacks.
	require.NoError(t, p.UpsertControl(ctx, f.org, projection.Control{ID: f.id("junk"), ProjectID: f.id("web"), Code: "J", Title: "junk", Status: "NOT_STARTED", RequirementIDs: f.idList("cc6.1")}))
	require.NoError(t, p.Rebuild(ctx, f.org, f.snap))
	require.Equal(t, byEvents, dump(t, p, f.org))

	// So does rebuilding a fresh organization; rebuilding twice changes nothing.
	other := "org-" + uuid.NewString()
	require.NoError(t, p.Rebuild(ctx, other, f.snap))
	require.NoError(t, p.Rebuild(ctx, other, f.snap))
	require.Equal(t, byEvents, dump(t, p, other))
}

func TestQueries(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	f := newFixture()
	require.NoError(t, p.Rebuild(ctx, f.org, f.snap))
	org := projection.Scope{OrgID: f.org}
	web := projection.Scope{OrgID: f.org, ProjectID: f.id("web")}

	t.Run("controls without current evidence", func(t *testing.T) {
		gaps, next, err := p.ControlsWithoutCurrentEvidence(ctx, org, projection.Page{})
		require.NoError(t, err)
		require.Empty(t, next)
		got := map[string]projection.ControlGap{}
		for _, g := range gaps {
			got[g.ControlID] = g
		}
		require.Len(t, got, 3)
		require.Equal(t, projection.ControlGap{ControlID: f.id("log"), ProjectID: f.id("web"), Code: "LOG-1", Title: "Log retention", Reason: projection.GapNoEvidence}, got[f.id("log")])
		require.Equal(t, projection.GapExpired, got[f.id("mon")].Reason)
		require.Equal(t, 1, got[f.id("mon")].Evidence)
		require.Equal(t, projection.GapNotAccepted, got[f.id("key")].Reason)
		require.Equal(t, 2, got[f.id("key")].Evidence)
		require.Equal(t, 1, got[f.id("key")].Expired)

		gaps, _, err = p.ControlsWithoutCurrentEvidence(ctx, web, projection.Page{})
		require.NoError(t, err)
		require.Len(t, gaps, 2)

		// Pages of one, following the cursor, give the same controls in id order.
		var paged []string
		var page projection.Page
		for range 10 {
			page.First = 1
			gaps, next, err := p.ControlsWithoutCurrentEvidence(ctx, org, page)
			require.NoError(t, err)
			require.Len(t, gaps, 1)
			paged = append(paged, gaps[0].ControlID)
			if next == "" {
				break
			}
			page.After = next
		}
		require.Len(t, paged, 3)
		require.IsIncreasing(t, paged)

		// Once e-review expires (clock moved 11 days on), mfa has no current evidence
		// and ac still has e-policy.
		later, err := projection.Open(ctx, testenv.Neo4j(t), projection.WithClock(func() time.Time { return now.Add(11 * 24 * time.Hour) }))
		require.NoError(t, err)
		defer later.Close(ctx)
		gaps, _, err = later.ControlsWithoutCurrentEvidence(ctx, web, projection.Page{})
		require.NoError(t, err)
		ids := []string{}
		for _, g := range gaps {
			ids = append(ids, g.ControlID)
		}
		require.ElementsMatch(t, f.idList("mfa", "mon", "log"), ids)
	})

	t.Run("expiry impact", func(t *testing.T) {
		imp, err := p.ExpiryImpact(ctx, org, f.id("e-review"), projection.Page{})
		require.NoError(t, err)
		require.Empty(t, imp.Next)
		// e-review supports ac (CC6.1, A.5.15) and mfa (CC6.2, A.8.2). ac keeps e-policy;
		// CC6.2 and A.8.2 have nothing else current (key's evidence is not accepted).
		got := map[string]projection.AffectedRequirement{}
		for _, r := range imp.Requirements {
			got[r.Code] = r
		}
		require.Len(t, got, 4)
		require.False(t, got["CC6.1"].LosesCoverage)
		require.False(t, got["A.5.15"].LosesCoverage)
		require.True(t, got["CC6.2"].LosesCoverage)
		require.True(t, got["A.8.2"].LosesCoverage)
		require.Equal(t, []string{f.id("mfa")}, got["A.8.2"].ControlIDs)
		require.Equal(t, "ISO27001", got["A.8.2"].FrameworkKey)
		fws := map[string]projection.FrameworkImpact{}
		for _, fw := range imp.Frameworks {
			fws[fw.Key] = fw
		}
		require.Equal(t, projection.FrameworkImpact{FrameworkID: f.id("soc2"), Key: "SOC2", Name: "SOC 2 Trust Services Criteria", Requirements: 2, LoseCoverage: 1}, fws["SOC2"])
		require.Equal(t, 2, fws["ISO27001"].Requirements)
		require.Equal(t, 1, fws["ISO27001"].LoseCoverage)

		// Already-expired evidence: its expiry takes nothing away.
		imp, err = p.ExpiryImpact(ctx, org, f.id("e-siem"), projection.Page{})
		require.NoError(t, err)
		require.Len(t, imp.Requirements, 1)
		require.Equal(t, "CC7.2", imp.Requirements[0].Code)
		require.False(t, imp.Requirements[0].LosesCoverage)

		// Paged requirements.
		imp, err = p.ExpiryImpact(ctx, org, f.id("e-review"), projection.Page{First: 3})
		require.NoError(t, err)
		require.Len(t, imp.Requirements, 3)
		require.NotEmpty(t, imp.Next)
		rest, err := p.ExpiryImpact(ctx, org, f.id("e-review"), projection.Page{First: 3, After: imp.Next})
		require.NoError(t, err)
		require.Len(t, rest.Requirements, 1)
		require.Empty(t, rest.Next)
	})

	t.Run("controls satisfying two frameworks", func(t *testing.T) {
		shared, next, err := p.ControlsSatisfyingBoth(ctx, org, f.id("soc2"), f.id("iso"), projection.Page{})
		require.NoError(t, err)
		require.Empty(t, next)
		got := map[string]projection.SharedControl{}
		for _, c := range shared {
			got[c.Code] = c
		}
		require.Len(t, got, 3) // ac, mfa, key; not mon (SOC 2 only) nor log (ISO only)
		require.Equal(t, []string{"CC6.1"}, got["KEY-1"].CodesA)
		require.Equal(t, []string{"A.8.2"}, got["KEY-1"].CodesB)
		require.Equal(t, f.id("api"), got["KEY-1"].ProjectID)

		shared, _, err = p.ControlsSatisfyingBoth(ctx, web, f.id("soc2"), f.id("iso"), projection.Page{})
		require.NoError(t, err)
		require.Len(t, shared, 2)
	})

	t.Run("coverage per framework", func(t *testing.T) {
		cov, next, err := p.Coverage(ctx, org, projection.Page{})
		require.NoError(t, err)
		require.Empty(t, next)
		got := map[string]projection.Coverage{}
		for _, c := range cov {
			got[c.Key] = c
		}
		require.Len(t, got, 2)
		// SOC 2: CC6.1 (ac: e-policy) and CC6.2 (mfa: e-review) covered, CC7.2 expired.
		require.Equal(t, projection.Coverage{FrameworkID: f.id("soc2"), Key: "SOC2", Name: "SOC 2 Trust Services Criteria", Requirements: 3, Covered: 2}, got["SOC2"])
		require.InDelta(t, 2.0/3, got["SOC2"].Ratio(), 1e-9)
		// ISO: A.5.15 (ac) and A.8.2 (mfa) covered, A.8.16 (log) not.
		require.Equal(t, 2, got["ISO27001"].Covered)
		require.Equal(t, 3, got["ISO27001"].Requirements)

		// The api project alone: key's evidence is not current, nothing covered.
		cov, _, err = p.Coverage(ctx, projection.Scope{OrgID: f.org, ProjectID: f.id("api")}, projection.Page{})
		require.NoError(t, err)
		require.Len(t, cov, 2)
		for _, c := range cov {
			require.Zero(t, c.Covered, c.Key)
		}
	})
}

func TestOrganizationsNeverSeeEachOther(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	a := newFixture()
	b := &fixture{org: "org-" + uuid.NewString(), ids: a.ids, snap: a.snap} // same ids, other organization
	require.NoError(t, p.Rebuild(ctx, a.org, a.snap))
	before := dump(t, p, a.org)

	// Organization b gets the same history by events, with its own twist: every
	// evidence accepted and without expiry, and an evidence linked to a's control ids.
	apply(t, p, b.events())
	for _, e := range b.snap.Evidence {
		e.Status, e.ExpiresAt, e.Version = projection.EvidenceAccepted, nil, 100
		require.NoError(t, p.UpsertEvidence(ctx, b.org, e))
	}
	require.Equal(t, before, dump(t, p, a.org), "b's events changed a's graph")
	require.NotEqual(t, before, dump(t, p, b.org))

	gapsA, _, err := p.ControlsWithoutCurrentEvidence(ctx, projection.Scope{OrgID: a.org}, projection.Page{})
	require.NoError(t, err)
	require.Len(t, gapsA, 3)
	gapsB, _, err := p.ControlsWithoutCurrentEvidence(ctx, projection.Scope{OrgID: b.org}, projection.Page{})
	require.NoError(t, err)
	require.Len(t, gapsB, 1) // only log, which has no evidence at all

	covA, _, err := p.Coverage(ctx, projection.Scope{OrgID: a.org}, projection.Page{})
	require.NoError(t, err)
	for _, c := range covA {
		require.Equal(t, 2, c.Covered, c.Key)
	}

	// Deleting b's project leaves a's project, controls and evidence alone; a Rebuild of
	// b does not touch a either.
	require.NoError(t, p.DeleteProject(ctx, b.org, b.id("web")))
	require.NoError(t, p.DeleteEvidence(ctx, b.org, b.id("e-draft")))
	require.NoError(t, p.Rebuild(ctx, b.org, projection.Snapshot{}))
	require.Equal(t, before, dump(t, p, a.org))
	require.Equal(t, "\n", dump(t, p, b.org))

	// An unknown organization sees nothing.
	none, _, err := p.ControlsWithoutCurrentEvidence(ctx, projection.Scope{OrgID: "org-" + uuid.NewString()}, projection.Page{})
	require.NoError(t, err)
	require.Empty(t, none)
	imp, err := p.ExpiryImpact(ctx, projection.Scope{OrgID: "org-" + uuid.NewString()}, a.id("e-review"), projection.Page{})
	require.NoError(t, err)
	require.Empty(t, imp.Requirements)
	require.Empty(t, imp.Frameworks)
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	p := open(t)
	long := strings.Repeat("x", projection.MaxIDLen+1)
	for name, err := range map[string]error{
		"empty org":      p.UpsertProject(ctx, "", projection.Project{ID: "p"}),
		"long id":        p.UpsertControl(ctx, "org", projection.Control{ID: long, ProjectID: "p"}),
		"bad status":     p.UpsertEvidence(ctx, "org", projection.Evidence{ID: "e", Status: "MAYBE"}),
		"long title":     p.UpsertProject(ctx, "org", projection.Project{ID: "p", Name: strings.Repeat("n", projection.MaxTextLen+1)}),
		"too many links": p.UpsertEvidence(ctx, "org", projection.Evidence{ID: "e", Status: projection.EvidencePending, ControlIDs: make([]string, projection.MaxLinks+1)}),
		"page too big": func() error {
			_, _, err := p.Coverage(ctx, projection.Scope{OrgID: "org"}, projection.Page{First: projection.MaxPageLen + 1})
			return err
		}(),
		"long cursor": func() error {
			_, _, err := p.Coverage(ctx, projection.Scope{OrgID: "org"}, projection.Page{After: long})
			return err
		}(),
		"bad url": func() error { _, err := projection.Open(ctx, "http://localhost:7474"); return err }(),
	} {
		require.ErrorIs(t, err, projection.ErrInvalid, name)
	}
}
