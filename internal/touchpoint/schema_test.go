package touchpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/overture-cjo/overture/internal/schematest"
	"github.com/overture-cjo/overture/schema"
)

// TestSchema checks that schema/interaction.schema.json, the documentation
// of the format, agrees with Parse: the examples are valid, and the bad
// files whose problem is the document's shape are invalid.
func TestSchema(t *testing.T) {
	validate := schematest.Validator(t, schema.Interaction)

	examples, _ := filepath.Glob("../../examples/journeys/interactions/*.*")
	if len(examples) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range examples {
		if err := validate(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		data, _ := os.ReadFile(f)
		if _, err := Parse(f, data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, name := range []string{
		"bad.json", "bad-values.yaml", "missing.yaml", "unknown-field.yaml", "wrong-types.yaml",
	} {
		if err := validate(filepath.Join("testdata/bad", name)); err == nil {
			t.Errorf("%s: valid, want schema errors", name)
		}
	}
	// Each problem of bad-values.yaml alone, in a file otherwise valid.
	for _, src := range []string{
		"id: x\nvalue_tiers: [{name: standard, when: 'true'}]",
		"id: x\ninteraction_window: 1 hour",
		"id: x\nrules: [{id: r, touchpoints: [kiosk], when: 'true', action: {type: route, target: a}}]",
		"id: x\nrules: [{id: r, touchpoints: [ivr, ivr], when: 'true', action: {type: route, target: a}}]",
		"id: x\nrules: [{id: r, touchpoints: [], when: 'true', action: {type: route, target: a}}]",
		"id: x\nrules: [{id: r, when: 'true', action: {type: route, target: a}, priority: 1001}]",
		"id: x\nrules: [{id: r, when: 'true', action: {type: suppress_offers, target: a}}]",
		"id: x\nrules: [{id: r, when: 'true', action: {type: offer, target: a, skip_bot: false}}]",
		"id: x\nrules: [{id: r, when: 'true', action: {type: message}}]",
		"id: x\nrules: [{id: r, when: 'true', action: {type: route, target: a, params: {n: 3}}}]",
		"id: x\nrules: [{id: r, when: 'true', action: {type: route, target: a}, reason: '  '}]",
		"id: x\nrules: [{id: r, when: '', action: {type: route, target: a}}]",
	} {
		file := filepath.Join(t.TempDir(), "p.yaml")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := validate(file); err == nil {
			t.Errorf("%q: valid, want schema errors", src)
		}
		if _, err := Parse(file, []byte(src)); err == nil {
			t.Errorf("%q: parsed, want errors", src)
		}
	}
}
