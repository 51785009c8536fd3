package decide

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
	src := `# comment
id: renewal-discount
name: 20% off a 24-month renewal
description: Renewal candidates.
category: retention
eligibility: 'profile.traits.plan == "postpaid"'
value: 120
weight: 2.5
channels: [sms, email]
cool_off: 3d
max_impressions: 3
explore: false
prior: {alpha: 1, beta: 19}
context: 'profile.traits.segment'
outcome: {events: [offer_accepted, offer_converted], within: 36h}
`
	o, err := Parse("o.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != "renewal-discount" || o.Name != "20% off a 24-month renewal" || o.Description != "Renewal candidates." ||
		o.Category != "retention" || o.Eligibility != `profile.traits.plan == "postpaid"` || o.Value != 120 || o.Weight != 2.5 ||
		!slices.Equal(o.Channels, []string{"email", "sms"}) || o.CoolOff != 72*time.Hour || o.MaxImpressions != 3 ||
		o.Explore || o.Prior != (Prior{1, 19}) || o.Context != "profile.traits.segment" ||
		!slices.Equal(o.Outcome.Events, []string{"offer_accepted", "offer_converted"}) || o.Outcome.Within != 36*time.Hour {
		t.Errorf("parsed %+v", o)
	}
	if o.Pos.String() != "o.yaml:2:1" || o.EligibilityPos.String() != "o.yaml:6:14" || o.ContextPos.String() != "o.yaml:14:10" {
		t.Errorf("Pos %s, EligibilityPos %s, ContextPos %s", o.Pos, o.EligibilityPos, o.ContextPos)
	}
	if !o.Converts("offer_converted") || o.Converts("offer_shown") {
		t.Error("Converts")
	}
	if !o.OnChannel("sms") || o.OnChannel("push") {
		t.Error("OnChannel")
	}

	// Defaults, from JSON.
	o, err = Parse("b.json", []byte(`{"id": "all", "category": "upsell", "value": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if o.Weight != 1 || !o.Explore || o.Prior != (Prior{1, 1}) || o.Channels != nil || o.CoolOff != 0 ||
		o.MaxImpressions != 0 || o.Eligibility != "" || o.Context != "" ||
		!slices.Equal(o.Outcome.Events, []string{DefaultOutcomeEvent}) || o.Outcome.Within != DefaultOutcomeWithin {
		t.Errorf("defaults: %+v", o)
	}
	if !o.OnChannel("anything") || !o.Converts("offer_accepted") {
		t.Error("defaults: OnChannel, Converts")
	}
	if ok, err := o.Eligible(Input{}); !ok || err != nil {
		t.Errorf("Eligible without a condition: %v, %v", ok, err)
	}

	// Half a prior keeps the other half's default.
	o, err = Parse("c.yaml", []byte("id: c\ncategory: upsell\nvalue: 1\nprior: {beta: 9}\n"))
	if err != nil || o.Prior != (Prior{1, 9}) {
		t.Errorf("half a prior: %v, %v", o, err)
	}
}

func TestLoad(t *testing.T) {
	offers, err := Load("../../examples/journeys/offers")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range offers {
		ids = append(ids, o.ID)
	}
	if want := []string{"card-upgrade", "data-addon", "free-shipping", "renewal-discount", "roaming-pass", "savings-boost"}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	if _, err := NewSet(offers); err != nil {
		t.Error(err)
	}

	offers, err = Load("testdata/no-such-dir")
	if offers != nil || err != nil {
		t.Errorf("missing dir: %v, %v", offers, err)
	}

	offers, err = Load("testdata/dup")
	if len(offers) != 1 || offers[0].Pos.File != "testdata/dup/a.yaml" {
		t.Errorf("Load(testdata/dup) returned %v, want the offer of a.yaml", offers)
	}
	want := `testdata/dup/b.yml:2:5: id: duplicate offer id "same" (also in testdata/dup/a.yaml:1:5)
testdata/dup/c.yaml:1:1: invalid YAML: did not find expected ',' or ']'`
	if err == nil || err.Error() != want {
		t.Errorf("Load(testdata/dup):\n%v\nwant\n%s", err, want)
	}
}

func TestNewSet(t *testing.T) {
	a := mustParse(t, "id: a\ncategory: x\nvalue: 1\n")
	b := mustParse(t, "id: b\ncategory: x\nvalue: 1\n")
	s, err := NewSet([]*Offer{b, a})
	if err != nil {
		t.Fatal(err)
	}
	if s.Get("a") != a || s.Get("c") != nil || !slices.Equal(s.List(), []*Offer{a, b}) {
		t.Errorf("Get, List: %v", s.List())
	}
	if _, err := NewSet([]*Offer{a, b, a}); err == nil || err.Error() != `decide: duplicate offer id "a"` {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewSet([]*Offer{{ID: "raw"}}); err == nil {
		t.Error("an offer not made by Parse: no error")
	}
}

// mustParse parses an offer from src, failing the test on an error.
func mustParse(t testing.TB, src string) *Offer {
	t.Helper()
	o, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%s\n%v", src, err)
	}
	return o
}
