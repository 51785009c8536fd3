package audience

import (
	"flag"
	"github.com/overture-cjo/overture/internal/schematest"
	"slices"
	"testing"
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
id: contract-ending
name: Contract ends within 30 days
description: Renewal candidates.
condition: 'has(profile.traits.contract_end) && timestamp(profile.traits.contract_end) - now <= duration("720h") && !in_journey("renewal") && !in_journey("renewal")'
schedule: "0 6 * * *"
realtime: false
activation:
  traits: [email, first_name]
  webhook:
    url: https://example.com/hook
    secret_env: AUDIENCE_HOOK_SECRET
`
	a, err := Parse("a.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "contract-ending" || a.Name != "Contract ends within 30 days" || a.Description != "Renewal candidates." ||
		a.Schedule != "0 6 * * *" || a.Realtime || !slices.Equal(a.Traits, []string{"email", "first_name"}) ||
		a.Webhook == nil || *a.Webhook != (Webhook{URL: "https://example.com/hook", SecretEnv: "AUDIENCE_HOOK_SECRET"}) {
		t.Errorf("parsed %+v", a)
	}
	if !a.UsesNow || !a.UsesJourneys || !slices.Equal(a.Journeys, []string{"renewal"}) {
		t.Errorf("UsesNow %v UsesJourneys %v Journeys %v", a.UsesNow, a.UsesJourneys, a.Journeys)
	}
	if a.Pos.String() != "a.yaml:2:1" || a.ConditionPos.String() != "a.yaml:5:12" {
		t.Errorf("Pos %s, ConditionPos %s", a.Pos, a.ConditionPos)
	}
	errs := a.CheckJourneys(func(id string) bool { return id != "renewal" })
	if got, want := errs.Error(), "a.yaml:5:129: condition: no journey with id \"renewal\"\n"+
		"a.yaml:5:155: condition: no journey with id \"renewal\""; got != want {
		t.Errorf("CheckJourneys:\n%s\nwant\n%s", got, want)
	}
	if errs := a.CheckJourneys(func(string) bool { return true }); errs != nil {
		t.Errorf("CheckJourneys: %v", errs)
	}

	a, err = Parse("b.json", []byte(`{"id": "all", "condition": "true"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Realtime || a.UsesNow || a.UsesJourneys || a.Journeys != nil || a.Webhook != nil || a.Schedule != "" {
		t.Errorf("defaults: %+v", a)
	}
}

func TestLoad(t *testing.T) {
	auds, err := Load("../../examples/journeys/audiences")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range auds {
		ids = append(ids, a.ID)
	}
	if want := []string{"cart-reminded", "contract-ending"}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}

	auds, err = Load("testdata/no-such-dir")
	if auds != nil || err != nil {
		t.Errorf("missing dir: %v, %v", auds, err)
	}

	auds, err = Load("testdata/dup")
	if len(auds) != 1 || auds[0].Pos.File != "testdata/dup/a.yaml" {
		t.Errorf("Load(testdata/dup) returned %v, want the audience of a.yaml", auds)
	}
	want := `testdata/dup/b.yml:2:5: id: duplicate audience id "same" (also in testdata/dup/a.yaml:1:5)
testdata/dup/c.yaml:1:1: invalid YAML: did not find expected ',' or ']'`
	if err == nil || err.Error() != want {
		t.Errorf("Load(testdata/dup):\n%v\nwant\n%s", err, want)
	}
}
