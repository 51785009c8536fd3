package message

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/overture-cjo/overture/internal/schematest"
	"github.com/overture-cjo/overture/schema"
)

// TestSchema checks that schema/template.schema.json, the documentation
// of the format, agrees with Parse: the examples are valid, and the bad
// files whose problem is the document's shape are invalid.
func TestSchema(t *testing.T) {
	validate := schematest.Validator(t, schema.Template)

	examples, _ := filepath.Glob("../../examples/journeys/templates/*.*")
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
	// Every bad file but those whose problem only Liquid or YAML itself
	// can tell (and the empty ones, which are null to a schema).
	for _, name := range []string{
		"bad-id.yaml", "bad.json", "email.yaml", "email-no-body.yaml", "empty-fields.yaml",
		"max-segments.yaml", "max-segments-type.yaml", "missing.yaml", "not-mapping.yaml",
		"required.yaml", "sample.yaml", "unknown-field.yaml", "voice-both.yaml", "voice-none.yaml",
		"wrong-types.yaml",
	} {
		if err := validate(filepath.Join("testdata/bad", name)); err == nil {
			t.Errorf("%s: valid, want schema errors", name)
		}
	}
}
