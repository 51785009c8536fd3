// Package schematest checks definition files against the JSON Schemas in
// package schema, for the tests that keep each schema (the documentation
// of a format) in agreement with its parser.
package schematest

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// Validator compiles the JSON Schema doc and returns a function that
// validates a YAML or JSON file against it (nil: valid). A schema that
// does not compile, or a file that cannot be read or is not YAML, fails
// the test.
func Validator(t testing.TB, doc []byte) func(file string) error {
	t.Helper()
	d, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://overture-cjo.github.io/schema/under-test.schema.json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, d); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return func(file string) error {
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
}
