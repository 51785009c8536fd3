package simulate

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // the wait-until case needs America/New_York wherever the tests run

	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
)

var update = flag.Bool("update", false, "rewrite the golden traces under testdata/golden")

// goldenStart is when every golden case's clock starts (a Monday).
var goldenStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// TestGolden runs each case under testdata/golden: a directory of journey
// files, events.jsonl (times as "at" offsets from goldenStart), optionally
// webhooks.json (step name -> {status, body, err}), and trace.golden, the
// expected output of WriteText.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			defs, err := journey.Load(journeyDir(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			cat, err := machine.FromDefinitions(defs)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(dir, "events.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			events, err := ReadEvents("events.jsonl", f, goldenStart)
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{Zone: LoadZone}
			if b, err := os.ReadFile(filepath.Join(dir, "webhooks.json")); err == nil {
				if opts.Webhooks, err = ParseWebhooks(b); err != nil {
					t.Fatalf("webhooks.json: %v", err)
				}
			}
			var got bytes.Buffer
			if err := WriteText(&got, Run(cat, events, opts)); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(dir, "trace.golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("trace differs from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", golden, got.Bytes(), want)
			}
		})
	}
}

// journeyDir returns a directory holding the case's journey files: the
// case directory itself, or (when it has a webhooks.json, which journey.Load
// would take for a journey) a copy without it.
func journeyDir(t *testing.T, dir string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "webhooks.json")); err != nil {
		return dir
	}
	tmp := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		if e.Name() == "webhooks.json" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tmp
}
