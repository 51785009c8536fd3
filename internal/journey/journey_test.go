package journey

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/overture-cjo/overture/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err golden files")

const examples = "../../examples/journeys"

// TestBadDefinitions loads each testdata/bad/X.yaml (or directory X) and
// compares the error with testdata/bad/X.err.
func TestBadDefinitions(t *testing.T) {
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && !strings.HasSuffix(name, ".yaml") {
			continue
		}
		n++
		base := strings.TrimSuffix(name, ".yaml")
		t.Run(base, func(t *testing.T) {
			path := filepath.Join("testdata/bad", name)
			var err error
			if e.IsDir() {
				_, err = Load(path)
			} else {
				_, err = loadFiles([]string{path})
			}
			if err == nil {
				t.Fatal("loaded without error")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList: %v", err, err)
			}
			got := err.Error() + "\n"
			golden := filepath.Join("testdata/bad", base+".err")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if n < 12 {
		t.Errorf("only %d bad cases", n)
	}
}

func TestLoadExamples(t *testing.T) {
	defs, err := Load(examples)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Definition{}
	for _, d := range defs {
		byID[d.ID] = d
	}
	for _, id := range []string{"cart-abandonment", "bill-dispute", "follow-up"} {
		if byID[id] == nil {
			t.Fatalf("missing %s", id)
		}
	}
	c := byID["cart-abandonment"]
	if c.Category != CategoryMarketing || c.Priority != 50 || c.Holdout != 10 || c.Start != "wait_1h" {
		t.Errorf("header: %+v", c)
	}
	if c.Entry.Reentry != (Reentry{Mode: ReentryAfter, After: 72 * time.Hour}) || c.Entry.MaxConcurrent != 1 {
		t.Errorf("entry: %+v", c.Entry)
	}
	if c.Goal == nil || c.Goal.Within != 7*24*time.Hour || c.Goal.Condition == nil {
		t.Errorf("goal: %+v", c.Goal)
	}
	if len(c.Exit) != 2 || c.Exit[0].Event != "Unsubscribed" || c.Exit[1].Condition == nil {
		t.Errorf("exit: %+v", c.Exit)
	}
	if len(c.StepOrder) != 10 || c.StepOrder[0] != "wait_1h" || c.StepOrder[9] != "done" {
		t.Errorf("step order: %v", c.StepOrder)
	}
	s := c.Steps
	if s["wait_1h"].Duration != time.Hour || s["wait_click"].Timeout != 48*time.Hour ||
		s["hook"].Timeout != 5*time.Second || s["hook"].Method != "POST" || s["hook"].OnError != "done" {
		t.Errorf("steps: %+v %+v %+v", s["wait_1h"], s["wait_click"], s["hook"])
	}
	if b := s["ab"].Branches; len(b) != 2 || b[0] != (Branch{Weight: 50, Next: "sms"}) {
		t.Errorf("split: %+v", b)
	}
	if got := s["check"].Targets(); strings.Join(got, ",") != "done,remind" {
		t.Errorf("check targets: %v", got)
	}
	f := byID["follow-up"].Steps["morning"]
	if f.Until == nil || f.Until.Hour != 9 || f.Until.Minute != 0 || len(f.Until.Weekdays) != 5 || f.Until.Weekdays[0] != time.Monday {
		t.Errorf("until: %+v", f.Until)
	}
	b := byID["bill-dispute"]
	if b.Category != CategoryService || b.Entry.Reentry.Mode != ReentryAlways || b.Entry.MaxConcurrent != 3 {
		t.Errorf("bill-dispute: %+v", b)
	}
}

// TestExpressionsRun evaluates compiled conditions of the example, so the
// environment they were checked in is the one they run in.
func TestExpressionsRun(t *testing.T) {
	defs, err := Load(examples)
	if err != nil {
		t.Fatal(err)
	}
	var cart *Definition
	for _, d := range defs {
		if d.ID == "cart-abandonment" {
			cart = d
		}
	}
	vars := map[string]any{
		"event":   map[string]any{"properties": map[string]any{"total": 25.5, "cart_id": "c1"}},
		"profile": map[string]any{"counts": map[string]any{"Order Completed": 0}},
		"journey": map[string]any{"cart_id": "c1"},
		"now":     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, e := range []*Expr{cart.Entry.Trigger.Condition, cart.Goal.Condition, cart.Steps["wait_click"].Condition} {
		out, _, err := e.Program().Eval(vars)
		if err != nil {
			t.Fatalf("%s: %v", e.Source, err)
		}
		if out.Value() != true {
			t.Errorf("%s = %v, want true", e.Source, out)
		}
	}
	out, _, err := cart.Steps["check"].Cases[0].When.Program().Eval(vars)
	if err != nil || out.Value() != false {
		t.Errorf("check: %v %v", out, err)
	}
}

func TestCostLimit(t *testing.T) {
	src := `id: costly
name: Costly
entry:
  trigger: {event: X, condition: '[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))'}
start: done
steps:
  done: {type: exit}
`
	d, err := Parse("costly.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Entry.Trigger.Condition.Program().Eval(map[string]any{"event": map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), "cost limit") {
		t.Fatalf("err = %v, want cost limit exceeded", err)
	}
}

// TestSchemaFile validates every example, and every bad file, against
// schema/journey.schema.json with a plain JSON Schema validator, as an
// editor would: examples must pass; a bad file must fail the schema or the
// semantic checks (TestBadDefinitions).
func TestSchemaFile(t *testing.T) {
	file, err := os.ReadFile("../../schema/journey.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, schema.Journey) {
		t.Fatal("embedded schema differs from the file")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("journey.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("journey.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(path string) error {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return err
		}
		return sch.Validate(v)
	}
	ex, _ := filepath.Glob(filepath.Join(examples, "*.[yj]*"))
	if len(ex) < 2 {
		t.Fatalf("examples: %v", ex)
	}
	for _, f := range ex {
		if err := validate(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, f := range bad {
		if validate(f) == nil {
			if _, err := loadFiles([]string{f}); err == nil {
				t.Errorf("%s: passes the schema and the semantic checks", f)
			}
		}
	}
}

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute,
		"1d12h": 36 * time.Hour, "1.5h": 90 * time.Minute, "500ms": 500 * time.Millisecond,
	} {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0s", "0d", "3 days", "d", "1w", "-1h", "h1", "99999999999999d"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"empty.yaml", "", "\nempty.yaml:1:1: empty file"},
		{"syntax.yaml", "id: x\n  name: [", "\nsyntax.yaml:2:1: invalid YAML:"},
		{"list.yaml", "- a\n", "\nlist.yaml:1:1: got array, want object"},
		{"two.yaml", "id: a\n---\nid: b\n", "\ntwo.yaml:2:1: more than one document"},
		{"j.json", "{\n  \"id\": \"a\",\n  \"name\": \"A\",\n  \"priority\": \"x\",\n  \"entry\": {\"trigger\": {\"event\": \"X\"}},\n  \"start\": \"d\",\n  \"steps\": {\"d\": {\"type\": \"exit\"}}\n}\n",
			"\nj.json:4:15: priority: got string, want integer"},
		{"dup.yaml", "id: a\nid: b\n", "\ndup.yaml:2:1: id: duplicate field"},
		{"block.yaml", "id: a\nname: A\nentry:\n  trigger:\n    event: X\n    condition: |\n      1 +\n        nope\nstart: d\nsteps:\n  d: {type: exit}\n",
			"\nblock.yaml:8:"},
	} {
		_, err := Parse(tc.name, []byte(tc.src))
		if err == nil || !strings.Contains("\n"+err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
