package decide

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/overture-cjo/overture/internal/schematest"
	"github.com/overture-cjo/overture/schema"
)

// TestSchema checks that schema/offer.schema.json, the documentation of
// the format, agrees with Parse: the examples are valid, and the bad files
// whose problem is the document's shape are invalid.
func TestSchema(t *testing.T) {
	validate := schematest.Validator(t, schema.Offer)

	examples, _ := filepath.Glob("../../examples/journeys/offers/*.*")
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
	// Every bad file but those whose problem only CEL or YAML itself can
	// tell (and the empty one, which is null to a schema).
	for _, name := range []string{
		"bad-values.yaml", "bad.json", "channels.yaml", "channels-empty.yaml", "durations.yaml",
		"eligibility-empty.yaml", "missing.yaml", "not-mapping.yaml", "outcome.yaml",
		"outcome-empty.yaml", "outcome-types.yaml", "prior.yaml", "prior-types.yaml",
		"unknown-field.yaml", "wrong-types.yaml",
	} {
		if err := validate(filepath.Join("testdata/bad", name)); err == nil {
			t.Errorf("%s: valid, want schema errors", name)
		}
	}
}
