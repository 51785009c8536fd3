package audience

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

// TestSchema checks that schema/audience.schema.json, the documentation of
// the format, agrees with Parse: the examples are valid, and the bad files
// whose problem is the document's shape are invalid.
func TestSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Audience))
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://overture-cjo.github.io/schema/audience.schema.json"
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
