package journey

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts
// has a start step that exists and every target resolved.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{examples + "/*.[yj]*", "testdata/bad/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if d.Steps[d.Start] == nil {
			t.Fatalf("start %q missing", d.Start)
		}
		for _, s := range d.Steps {
			for _, n := range s.Targets() {
				if d.Steps[n] == nil {
					t.Fatalf("step %s: target %q missing", s.Name, n)
				}
			}
		}
	})
}
