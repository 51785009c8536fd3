package policy

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

// TestSchema checks that schema/policy.schema.json, the documentation of
// the format, agrees with Parse: the examples are valid, the bad files
// whose problem is the document's shape are invalid, and those whose
// problem only Parse sees (CEL, unique names, the whole day quiet) are
// valid.
func TestSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Policy))
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://overture-cjo.github.io/schema/policy.schema.json"
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
