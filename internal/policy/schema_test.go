package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/overture-cjo/overture/internal/schematest"
	"github.com/overture-cjo/overture/schema"
)

// TestSchema checks that schema/policy.schema.json, the documentation of
// the format, agrees with Parse: the examples are valid, the bad files
// whose problem is the document's shape are invalid, and those whose
// problem only Parse sees (CEL, unique names, the whole day quiet) are
// valid.
func TestSchema(t *testing.T) {
	validate := schematest.Validator(t, schema.Policy)

	examples, _ := filepath.Glob("../../examples/*/policy/*.yaml")
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
		"action.yaml", "bad-name.yaml", "bad.json", "clock.yaml", "duration.yaml", "max.yaml", "missing.yaml",
		"suppression-sides.yaml", "unknown-field.yaml", "when-type.yaml", "wrong-types.yaml",
	} {
		if err := validate(filepath.Join("testdata/bad", name)); err == nil {
			t.Errorf("%s: valid, want schema errors", name)
		}
	}
	for _, name := range []string{"cel-syntax.yaml", "not-bool.yaml", "repeated.yaml", "whole-day.yaml"} {
		if err := validate(filepath.Join("testdata/bad", name)); err != nil {
			t.Errorf("%s: %v; want valid (only Parse sees its problem)", name, err)
		}
	}
}
