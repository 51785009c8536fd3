package audience

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/overture-cjo/overture/internal/schematest"
	"github.com/overture-cjo/overture/schema"
)

// TestSchema checks that schema/audience.schema.json, the documentation of
// the format, agrees with Parse: the examples are valid, and the bad files
// whose problem is the document's shape are invalid.
func TestSchema(t *testing.T) {
	validate := schematest.Validator(t, schema.Audience)

	examples, _ := filepath.Glob("../../examples/journeys/audiences/*.*")
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
		"bad-id.yaml", "bad.json", "cron-tz.yaml", "missing.yaml", "unknown-field.yaml",
		"webhook.yaml", "webhook-no-url.yaml", "wrong-types.yaml",
	} {
		if err := validate(filepath.Join("testdata/bad", name)); err == nil {
			t.Errorf("%s: valid, want schema errors", name)
		}
	}
}
