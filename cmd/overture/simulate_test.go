package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs the built binary and returns its stdout, stderr and exit
// status.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var xe *exec.ExitError
	switch {
	case errors.As(err, &xe):
		code = xe.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const simEvents = `# bob orders the cart within the hour; dave's cart is too small.
{"at": "0s", "userId": "bob", "event": "Cart Updated", "properties": {"cart_id": "c2", "total": 50}}
{"at": "30m", "userId": "bob", "event": "Order Completed", "properties": {"cart_id": "c2"}}
{"at": "1m", "userId": "dave", "event": "Cart Updated", "properties": {"cart_id": "c4", "total": 10}}
`

// TestSimulateCommand runs `overture simulate` on the shipped examples.
func TestSimulateCommand(t *testing.T) {
	dir := t.TempDir()
	events := writeFile(t, dir, "events.jsonl", simEvents)
	args := []string{"simulate", "--definitions", "../../examples/journeys", "--events", events, "--start", "2026-03-02T09:00:00Z"}

	out, errOut, code := runBinary(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := `customer bob
  2026-03-02T09:00:00Z cart-abandonment@1 entered trigger Cart Updated -> wait_1h
  2026-03-02T09:00:00Z cart-abandonment@1 wait_1h wait until 2026-03-02T10:00:00Z
  2026-03-02T09:30:00Z cart-abandonment@1 goal Order Completed
  2026-03-02T09:30:00Z cart-abandonment@1 exit goal
customer dave
2 customers, 1 journey entries, 1 goals, 0 messages, 0 timers pending
`
	if out != want {
		t.Errorf("text output:\n%s\nwant:\n%s", out, want)
	}

	out, errOut, code = runBinary(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("--json: exit %d\n%s%s", code, out, errOut)
	}
	var doc struct {
		Customers []struct {
			ID    string `json:"id"`
			Trace []struct {
				Kind     string `json:"kind"`
				Instance string `json:"instance"`
			} `json:"trace"`
			Instances []struct {
				EndReason string `json:"endReason"`
				GoalAt    string `json:"goalAt"`
			} `json:"instances"`
		} `json:"customers"`
		Messages int `json:"messages"`
		Pending  int `json:"pending"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if len(doc.Customers) != 2 || doc.Customers[0].ID != "bob" || len(doc.Customers[0].Trace) != 4 ||
		doc.Customers[0].Trace[2].Kind != "goal" || doc.Customers[0].Trace[2].Instance != "cart-abandonment:bob:1" {
		t.Errorf("--json customers: %+v", doc.Customers)
	}
	if in := doc.Customers[0].Instances; len(in) != 1 || in[0].EndReason != "goal" || in[0].GoalAt != "2026-03-02T09:30:00Z" {
		t.Errorf("--json instances: %+v", in)
	}

	// --until stops the clock: bob's goal event comes after it.
	out, _, code = runBinary(t, append(args, "--until", "20m")...)
	if code != 0 || !strings.Contains(out, "0 goals, 0 messages, 1 timers pending") || strings.Contains(out, "goal Order") {
		t.Errorf("--until 20m: exit %d\n%s", code, out)
	}
}

// TestSimulateTimezoneAndWebhooks checks a wait until a time of day in the
// customer's timezone (the binary carries its own zone database) and canned
// webhook replies.
func TestSimulateTimezoneAndWebhooks(t *testing.T) {
	dir := t.TempDir()
	events := writeFile(t, dir, "events.jsonl", `{"at": "0s", "type": "identify", "userId": "ned", "traits": {"consent": {"push": true}}, "context": {"timezone": "America/New_York"}}
{"at": "0s", "userId": "ned", "event": "Cart Updated", "properties": {"cart_id": "c1", "total": 30}}
`)
	hooks := writeFile(t, dir, "hooks.json", `{"hook": {"status": 200, "body": {"ok": true}}}`)
	out, errOut, code := runBinary(t, "simulate", "--definitions", "../../examples/journeys", "--events", events,
		"--start", "2026-03-02T09:00:00Z", "--webhooks", hooks)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"2026-03-04T10:00:00Z cart-abandonment@1 hook resumed status 200 -> other",
		// Wednesday 05:00 in New York: 09:00 EST is 14:00 UTC.
		"2026-03-04T10:00:00Z follow-up@1 morning wait until 2026-03-04T14:00:00Z",
		"2026-03-04T14:00:00Z follow-up@1 nudge send push cart-follow-up -> done", // channel best: the one ned consented to
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	writeFile(t, dir, "bad-hooks.json", `{"hook": {"code": 200}}`)
	_, errOut, code = runBinary(t, "simulate", "--definitions", "../../examples/journeys", "--events", events,
		"--webhooks", filepath.Join(dir, "bad-hooks.json"))
	if code != 1 || !strings.Contains(errOut, `unknown field "code"`) {
		t.Errorf("bad webhooks file: exit %d\n%s", code, errOut)
	}
}

// TestSimulateErrors checks the exit status and message of each kind of bad
// input.
func TestSimulateErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.jsonl", simEvents)
	bad := writeFile(t, dir, "bad.jsonl", `{"at": "0s", "userId": "u1", "event": "A"}
{"at": "1h", "userId": "u1", "event": "B", "timestamp": "noon"}
`)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad definitions", []string{"--definitions", "../../internal/journey/testdata/bad", "--events", good}, 1,
			`bad-duration.yaml:7:33: steps.hello.duration: "3 days" is not a duration`},
		{"bad events", []string{"--definitions", "../../examples/journeys", "--events", bad}, 1,
			"bad.jsonl:2: at: give at or timestamp, not both"},
		{"missing events file", []string{"--definitions", "../../examples/journeys", "--events", filepath.Join(dir, "nope.jsonl")}, 1,
			"no such file"},
		{"no events flag", []string{"--definitions", "../../examples/journeys"}, 2,
			"--definitions and --events are required"},
		{"bad start", []string{"--definitions", "../../examples/journeys", "--events", good, "--start", "monday"}, 2,
			`--start "monday"`},
		{"bad until", []string{"--definitions", "../../examples/journeys", "--events", good, "--until", "later"}, 2,
			`--until "later"`},
		{"stray argument", []string{"--definitions", "../../examples/journeys", "--events", good, "extra"}, 2,
			`unexpected argument "extra"`},
	} {
		out, errOut, code := runBinary(t, append([]string{"simulate"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d (want %d), stderr lacks %q:\n%s%s", tc.name, code, tc.code, tc.want, out, errOut)
		}
	}

	out, errOut, code := runBinary(t, "simulate", "--help")
	if code != 0 || !strings.Contains(errOut, "Usage:\n  overture simulate --definitions DIR") {
		t.Errorf("--help: exit %d\n%s%s", code, out, errOut)
	}
}

// TestSimulateTimeBasedAudience runs `overture simulate` on the examples'
// contract-ending audience (refreshed daily at 06:00; "contract ends
// within 30 days"): a customer whose contract ends on April 15 at noon
// enters at the first 06:00 refresh within 30 days of it (March 17) and
// leaves at the first one after it (April 16).
func TestSimulateTimeBasedAudience(t *testing.T) {
	dir := t.TempDir()
	events := writeFile(t, dir, "events.jsonl", `{"type": "identify", "userId": "u1", "traits": {"contract_end": "2026-04-15T12:00:00Z", "email": "u1@example.com"}}`+"\n")
	out, errOut, code := runBinary(t, "simulate", "--definitions", "../../examples/journeys", "--events", events,
		"--start", "2026-03-02T09:00:00Z", "--until", "2026-04-20T00:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := []string{
		"  2026-03-17T06:00:00Z audience_entered contract-ending",
		"  2026-04-16T06:00:00Z audience_exited contract-ending",
	}
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "audience_") {
			got = append(got, line)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audience lines:\n%s\nwant:\n%s\nfull output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
}
