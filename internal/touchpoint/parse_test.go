package touchpoint

import (
	"flag"
	"github.com/overture-cjo/overture/internal/schematest"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the parser's output")

// TestParseBad parses each file in testdata/bad and compares every error
// with NAME.err next to it (go test -update rewrites them).
func TestParseBad(t *testing.T) {
	schematest.BadFiles(t, "testdata/bad", *update, func(file string, data []byte) error {
		_, err := Parse(file, data)
		if _, ok := err.(ErrorList); err != nil && !ok {
			t.Fatalf("error %T, want ErrorList", err)
		}
		return err
	})
}

func TestParse(t *testing.T) {
	src := `id: cc
description: Contact centre.
interaction_window: 7d
value_tiers:
  - name: high
    description: big spenders
    when: 'double(profile.traits.ltv) >= 10000.0 && in_journey("vip-care")'
  - {name: low, when: 'true'}
rules:
  - id: b-rule
    when: 'tier == "high" && in_step("money-transfer", "verify") && in_journey("money-transfer")'
    touchpoints: [agent, chat]
    action: {type: route, target: priority_agent, skip_bot: true, params: {lang: "fr"}}
    priority: 0
  - id: a-rule
    description: Described.
    when: 'true'
    action: {type: suppress_offers}
`
	p, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "cc" || p.Description != "Contact centre." || p.Window != 7*24*time.Hour || len(p.Tiers) != 2 || len(p.Rules) != 2 {
		t.Fatalf("parsed %+v", p)
	}
	if tr := p.Tiers[0]; tr.Name != "high" || tr.Description != "big spenders" || !slices.Equal(tr.Journeys, []string{"vip-care"}) ||
		tr.Pos.String() != "p.yaml:5:5" || tr.ConditionPos.String() != "p.yaml:7:11" {
		t.Errorf("tier %+v", tr)
	}
	r := p.Rules[0]
	if r.ID != "b-rule" || r.ActionType != ActionRoute || r.Target != "priority_agent" || !r.SkipBot || r.Params["lang"] != "fr" ||
		r.Priority != 0 || !slices.Equal(r.Touchpoints, []string{"chat", "agent"}) || !slices.Equal(r.Journeys, []string{"money-transfer"}) ||
		r.Pos.String() != "p.yaml:10:5" || r.ConditionPos.String() != "p.yaml:11:11" {
		t.Errorf("rule %+v", r)
	}
	r = p.Rules[1]
	if r.ActionType != ActionSuppressOffers || r.Target != "" || r.Priority != DefaultPriority || !slices.Equal(r.Touchpoints, Touchpoints) ||
		r.Params != nil || r.reason() != "Described." {
		t.Errorf("rule %+v", r)
	}

	errs := p.CheckJourneys(func(j, step string) bool { return j == "money-transfer" && step != "verify" })
	want := `p.yaml:7:64: value_tiers[0].when: no journey with id "vip-care"
p.yaml:11:38: rules[0].when: journey "money-transfer" has no step "verify"`
	if errs.Error() != want {
		t.Errorf("CheckJourneys:\n%s\nwant\n%s", errs, want)
	}
	if errs := p.CheckJourneys(func(string, string) bool { return true }); errs != nil {
		t.Errorf("CheckJourneys: %v", errs)
	}

	p, err = Parse("p.json", []byte(`{"id": "bare"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Window != 0 || p.Tiers != nil || p.Rules != nil {
		t.Errorf("defaults: %+v", p)
	}
}

func TestLoad(t *testing.T) {
	pols, err := Load("../../examples/journeys/interactions")
	if err != nil {
		t.Fatal(err)
	}
	if len(pols) != 1 || pols[0].ID != "contact-centre" {
		t.Fatalf("Load(examples) = %v", pols)
	}
	for _, p := range pols {
		if errs := p.CheckJourneys(func(j, _ string) bool { return j == "money-transfer" || j == "complaint-handling" }); errs != nil {
			t.Error(errs)
		}
	}
	if _, err := NewSet(pols); err != nil {
		t.Error(err)
	}

	pols, err = Load("testdata/no-such-dir")
	if pols != nil || err != nil {
		t.Errorf("missing dir: %v, %v", pols, err)
	}

	pols, err = Load("testdata/dup")
	if len(pols) != 3 {
		t.Errorf("Load(testdata/dup) returned %d policies, want the 3 that parse", len(pols))
	}
	want := `testdata/dup/b.yml:1:5: id: duplicate policy id "same" (also in testdata/dup/a.yaml:1:5)
testdata/dup/c.yaml:2:21: interaction_window: 2h0m0s differs from 1h0m0s in testdata/dup/a.yaml:2:21: the policies of a set count interactions over one window
testdata/dup/c.yaml:4:3: value_tiers: value tiers are also declared in testdata/dup/a.yaml:4:3: declare them in one policy only
testdata/dup/c.yaml:6:9: rules[0].id: duplicate rule id "shared" (also in testdata/dup/a.yaml:6:9)
testdata/dup/c.yaml:7:29: rules[0].when: no value tier "gold" (want high, standard)
testdata/dup/c.yaml:7:37: rules[0].when: no value tier "platinum" (want high, standard)
testdata/dup/d.json:1:1: invalid YAML: did not find expected node content`
	if err == nil || err.Error() != want {
		t.Errorf("Load(testdata/dup):\n%v\nwant\n%s", err, want)
	}
	if _, err := NewSet(pols); err == nil {
		t.Error("NewSet(dup): no error")
	}
}
