package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTestCommandExamples runs the shipped journey tests.
func TestTestCommandExamples(t *testing.T) {
	out, errOut, code := runBinary(t, "test", "../../examples/journeys/tests")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "ok   a cart left alone gets an email after an hour") || !strings.HasSuffix(out, "ok: 10 passed\n") {
		t.Errorf("output:\n%s", out)
	}
}

// TestTestCommandArbitration runs the shipped contact-policy tests: a
// service journey holds marketing, consent, a fraud journey drops
// marketing, quiet hours in the customer's timezone, a frequency cap.
func TestTestCommandArbitration(t *testing.T) {
	out, errOut, code := runBinary(t, "test", "../../examples/arbitration/tests")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "ok   a bill dispute holds the renewal offer until it is resolved") || !strings.HasSuffix(out, "ok: 5 passed\n") {
		t.Errorf("output:\n%s", out)
	}
}

const passingTest = `name: bob orders within the hour
journeys: JOURNEYS
start: 2026-03-02T09:00:00Z
events:
  - {at: 0s, userId: bob, event: Cart Updated, properties: {cart_id: c2, total: 50}}
  - {at: 30m, userId: bob, event: Order Completed, properties: {cart_id: c2}}
expect:
  bob:
    - +0s cart-abandonment entered trigger Cart Updated
    - +30m cart-abandonment exit goal
`

const failingTests = `journeys: JOURNEYS
start: 2026-03-02T09:00:00Z
tests:
  - name: passes
    events: [{at: 0s, userId: bob, event: Cart Updated, properties: {cart_id: c2, total: 50}}]
    expect: {bob: ["+0s cart-abandonment entered"]}
  - name: expects a reminder that the order prevents
    events:
      - {at: 0s, userId: bob, event: Cart Updated, properties: {cart_id: c2, total: 50}}
      - {at: 30m, userId: bob, event: Order Completed, properties: {cart_id: c2}}
    expect:
      bob:
        - +0s cart-abandonment entered
        - +1h cart-abandonment remind send email
`

// TestTestCommand runs `overture test` on a passing and a failing file.
func TestTestCommand(t *testing.T) {
	dir := t.TempDir()
	journeys, err := filepath.Abs("../../examples/journeys")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "pass/bob.test.yaml", strings.ReplaceAll(passingTest, "JOURNEYS", journeys))
	writeFile(t, dir, "fail/bob.test.yaml", strings.ReplaceAll(failingTests, "JOURNEYS", journeys))
	writeFile(t, dir, "fail/notes.yaml", "not a test file: it does not end in .test.yaml\n")

	out, errOut, code := runBinary(t, "test", filepath.Join(dir, "pass"))
	if code != 0 || !strings.Contains(out, "ok   bob orders within the hour ("+filepath.Join(dir, "pass", "bob.test.yaml")+")") ||
		!strings.HasSuffix(out, "ok: 1 passed\n") {
		t.Errorf("passing file: exit %d\n%s%s", code, out, errOut)
	}

	out, errOut, code = runBinary(t, "test", dir)
	if code != 1 {
		t.Errorf("failing file: exit %d, want 1\n%s%s", code, out, errOut)
	}
	file := filepath.Join(dir, "fail", "bob.test.yaml")
	for _, want := range []string{
		"ok   passes (" + file + ":4)\n",
		"FAIL expects a reminder that the order prevents (" + file + ":7)\n",
		"    customer bob: expected line 2 not found after trace line 1:\n        +1h cart-abandonment remind send email\n",
		"\n        1 = +0s cart-abandonment entered trigger Cart Updated -> wait_1h\n",
		"\n        4   +30m cart-abandonment exit goal\n",
		"ok   bob orders within the hour",
		"FAIL: 2 passed, 1 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestTestCommandErrors checks invalid test files and usage errors.
func TestTestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "bad.test.yaml", `name: bad
journeys: ../nowhere
start: 2026-03-02T09:00:00Z
colour: red
events:
  - {at: 1x, userId: u1, event: A}
expect: {u1: [entered]}
`)
	out, errOut, code := runBinary(t, "test", file)
	if code != 1 {
		t.Errorf("invalid file: exit %d, want 1", code)
	}
	for _, want := range []string{
		"FAIL " + file + ": invalid test file\n",
		file + ":4:1: colour: unknown field (want name, journeys,",
		file + `:6:10: events[0].at: "1x" is not a duration`,
		file + `:7:15: expect.u1[0]: "entered": a trace line starts with its offset from start`,
		"FAIL: 0 passed, 0 failed, 1 invalid file(s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s%s", want, out, errOut)
		}
	}

	// Journeys that do not load fail the test that uses them.
	file = writeFile(t, dir, "nojourneys.test.yaml", `name: no journeys
journeys: ../nowhere
start: 2026-03-02T09:00:00Z
events: [{at: 0s, userId: u1, event: A}]
expect: {u1: []}
`)
	out, _, code = runBinary(t, "test", file)
	if code != 1 || !strings.Contains(out, "FAIL no journeys ("+file+")\n    journeys "+filepath.Join(filepath.Dir(dir), "nowhere")+":\n") {
		t.Errorf("missing journeys: exit %d\n%s", code, out)
	}

	_, errOut, code = runBinary(t, "test")
	if code != 2 || !strings.Contains(errOut, "Usage:\n  overture test") {
		t.Errorf("no arguments: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runBinary(t, "test", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "no *.test.yaml files") {
		t.Errorf("empty directory: exit %d\n%s", code, errOut)
	}
}

func TestDecodeTestFile(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // problems, in order
	}{
		{"tests beside name", `name: x
journeys: .
start: 2026-03-02T09:00:00Z
tests:
  - {name: a, events: [], expect: {u1: []}}
`, []string{"t.test.yaml:1:7: name: goes in each test of the tests list"}},
		{"missing fields", `tests:
  - {name: a}
`, []string{
			"t.test.yaml:2:12: tests[0].journeys: missing",
			"t.test.yaml:2:12: tests[0].start: missing",
		}},
		{"duplicate field", `name: a
journeys: .
start: 2026-03-02T09:00:00Z
events: []
expect: {u1: []}
name: b
`, []string{"t.test.yaml:6:1: name: duplicate field"}},
		{"bad yaml", "name: [a\n", []string{"t.test.yaml:1:1: invalid YAML: did not find expected ',' or ']'"}},
		{"not a mapping", "- a\n", []string{"t.test.yaml:1:1: want a mapping with fields"}},
		{"bad webhook body", `name: a
journeys: .
start: 2026-03-02T09:00:00Z
webhooks: {hook: {status: 200, body: {n: .inf}}}
events: []
expect: {u1: []}
`, []string{`t.test.yaml:4:42: webhooks.hook.body.n: ".inf" is not a JSON number`}},
		{"bad until", `name: a
journeys: .
start: 2026-03-02T09:00:00Z
until: soon
events: []
expect: {u1: []}
`, []string{`t.test.yaml:4:8: until: "soon": want an RFC 3339 time`}},
	} {
		_, problems := decodeTestFile("t.test.yaml", []byte(tc.src))
		if len(problems) != len(tc.want) {
			t.Errorf("%s: problems %q, want %d", tc.name, problems, len(tc.want))
			continue
		}
		for i, want := range tc.want {
			if !strings.HasPrefix(problems[i], want) {
				t.Errorf("%s: problem %q, want %q...", tc.name, problems[i], want)
			}
		}
	}

	tests, problems := decodeTestFile("dir/t.test.yaml", []byte(`journeys: ../journeys
start: 2026-03-02T09:00:00Z
webhooks: {hook: {err: refused}}
tests:
  - name: first
    events:
      - {at: 2h, userId: u1, event: B, properties: {n: 1, f: 1.5, ok: true, none: null, list: [a]}}
      - {timestamp: 2026-03-02T09:30:00Z, type: identify, userId: u1, traits: {plan: pro}}
    expect: {u1: ["+0s a", "+1h b"], u2: []}
  - name: second
    start: 2026-03-03T00:00:00Z
    until: 2d
    webhooks: {}
    exact: true
    events: []
    expect: {u1: []}
`))
	if len(problems) > 0 {
		t.Fatalf("problems: %q", problems)
	}
	if len(tests) != 2 {
		t.Fatalf("%d tests, want 2", len(tests))
	}
	a, b := tests[0], tests[1]
	if a.name != "first" || a.where != "dir/t.test.yaml:5" || a.journeys != "journeys" || a.exact || a.webhooks["hook"].Err != "refused" {
		t.Errorf("first: %+v", a)
	}
	if len(a.events) != 2 || a.events[0].Event.Type != "identify" || a.events[1].Event.Event != "B" ||
		string(a.events[1].Event.Properties) != `{"f":1.5,"list":["a"],"n":1,"none":null,"ok":true}` {
		t.Errorf("first's events (sorted by time): %+v, %+v", a.events[0].Event, a.events[1].Event)
	}
	if len(a.expect) != 2 || a.expect[0].customer != "u1" || len(a.expect[0].lines) != 2 || a.expect[1].customer != "u2" {
		t.Errorf("first's expect: %+v", a.expect)
	}
	if b.start.Format("2006-01-02") != "2026-03-03" || b.until.Format("2006-01-02") != "2026-03-05" || !b.exact || len(b.webhooks) != 0 {
		t.Errorf("second: %+v", b)
	}
}
