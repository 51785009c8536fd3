// Package schematest holds the checks every definition format's tests
// share: files against the JSON Schemas in package schema (so each schema,
// the documentation of a format, agrees with its parser), and bad files
// against the errors their parser must report (golden .err files).
package schematest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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

// BadFiles parses each file in dir (but the .err files) with parse, which
// must fail with every problem in its error, and compares the error's text
// with NAME.err beside the file; with update it rewrites the .err files
// instead. It fails the test if dir holds no bad files.
func BadFiles(t *testing.T, dir string, update bool, parse func(file string, data []byte) error) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, file := range files {
		if strings.HasSuffix(file, ".err") {
			continue
		}
		n++
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			err = parse(file, data)
			if err == nil {
				t.Fatal("parsed; want errors")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, filepath.Ext(file)) + ".err"
			if update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no bad files in " + dir)
	}
}
