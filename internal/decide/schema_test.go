package decide

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/overture-cjo/overture/schema"
)

// TestSchema checks that schema/offer.schema.json, the documentation of
// the format, agrees with Parse: the examples are valid, and the bad files
// whose problem is the document's shape are invalid.
func TestSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Offer))
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://overture-cjo.github.io/schema/offer.schema.json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	validate := func(file string) error {
		t.Helper()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		return sch.Validate(inst)
	}

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
