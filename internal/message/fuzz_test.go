package message

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse, Check and Render do not panic on any
// input, and that what Parse accepts, Check and Render handle.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/bad/*.*", "../../examples/journeys/templates/*.*"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("id: x\nsms: {body: \"{{ a | b: c, 'd' }}{% for x in y.z reversed limit: 2 %}{{ x[0].q }}{% endfor %}\"}\n"))
	f.Add([]byte("id: x\nsms: {body: \"{% assign = %}{% capture %}{% endcapture %}{{ . }}{{ 'x }}\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := Parse("fuzz.yaml", data)
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error %T, want ErrorList", err)
			}
			return
		}
		_ = tpl.Check(SampleVars())
		for _, ch := range tpl.Channels() {
			_, _ = tpl.Render(ch, SampleVars())
		}
	})
}
