package simulate

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
)

// catalogOf parses journey definitions into a catalog.
func catalogOf(t *testing.T, srcs ...string) *machine.Catalog {
	t.Helper()
	var defs []*journey.Definition
	for i, src := range srcs {
		d, err := journey.Parse("j"+string(rune('0'+i))+".yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		defs = append(defs, d)
	}
	cat, err := machine.FromDefinitions(defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// events reads JSON lines with ReadEvents or fails the test.
func events(t *testing.T, start time.Time, lines string) []Input {
	t.Helper()
	evs, err := ReadEvents("events.jsonl", strings.NewReader(lines), start)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func text(t *testing.T, res *Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteText(&b, res); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRunUntil(t *testing.T) {
	cat := catalogOf(t, `id: w
name: W
entry: {trigger: {event: Go}, reentry: always, max_concurrent: 5}
start: wait
steps:
  wait: {type: wait, duration: 1d, next: hi}
  hi: {type: send, channel: email, template: hi, next: done}
  done: {type: exit}
`)
	evs := events(t, goldenStart, `{"at": "0s", "userId": "u1", "event": "Go"}
{"at": "12h", "userId": "u1", "event": "Go"}
{"at": "3d", "userId": "u2", "event": "Go"}
`)
	// Until 1d6h: u1's first timer fires, the second (1d12h) stays pending,
	// and u2's event (3d) is not simulated.
	res := Run(cat, evs, Options{Until: goldenStart.Add(30 * time.Hour)})
	got := text(t, res)
	want := `customer u1
  2026-03-02T09:00:00Z w@1 entered trigger Go -> wait
  2026-03-02T09:00:00Z w@1 wait wait until 2026-03-03T09:00:00Z
  2026-03-02T21:00:00Z w@1#2 entered trigger Go -> wait
  2026-03-02T21:00:00Z w@1#2 wait wait until 2026-03-03T21:00:00Z
  2026-03-03T09:00:00Z w@1 wait resumed timer -> hi
  2026-03-03T09:00:00Z w@1 hi send email hi -> done
  2026-03-03T09:00:00Z w@1 done exit exit step
1 customers, 2 journey entries, 0 goals, 1 messages, 1 timers pending
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// Without Until, everything runs to the end.
	if got := text(t, Run(cat, evs, Options{})); !strings.HasSuffix(got, "2 customers, 3 journey entries, 0 goals, 3 messages, 0 timers pending\n") {
		t.Errorf("without until:\n%s", got)
	}
}

func TestRunWebhookDefaults(t *testing.T) {
	cat := catalogOf(t, `id: h
name: H
entry: {trigger: {event: Go}}
start: one
steps:
  one: {type: webhook, url: 'https://a.example.com', capture: {a: response.status}, next: two, on_error: failed}
  two: {type: webhook, url: 'https://b.example.com', capture: {b: response.status}, next: done, on_error: failed}
  done: {type: exit, reason: ok}
  failed: {type: exit, reason: failed}
`)
	evs := events(t, goldenStart, `{"userId": "u1", "event": "Go"}`)
	for _, tc := range []struct {
		name  string
		hooks map[string]machine.Reply
		want  string
	}{
		{"no replies: 200", nil, "two resumed status 200 -> done"},
		{"by step", map[string]machine.Reply{"two": {Status: 404}}, "two resumed status 404 -> failed"},
		{"any step", map[string]machine.Reply{"": {Status: 202}}, "two resumed status 202 -> done"},
		{"a step beats any", map[string]machine.Reply{"": {Err: "down"}, "one": {Status: 200}}, "two resumed down -> failed"},
	} {
		got := text(t, Run(cat, evs, Options{Webhooks: tc.hooks}))
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: trace lacks %q:\n%s", tc.name, tc.want, got)
		}
	}
}

func TestParseWebhooks(t *testing.T) {
	hooks, err := ParseWebhooks([]byte(`{"a": {"status": 201, "body": {"id": 1}}, "": {"err": "refused"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if hooks["a"].Status != 201 || string(hooks["a"].Body) != `{"id": 1}` || hooks[""].Err != "refused" {
		t.Errorf("hooks: %+v", hooks)
	}
	for src, want := range map[string]string{
		`{"a": {"code": 200}}`: `unknown field "code"`,
		`{"a": {}}`:            "a: give a status, or err",
		`[1]`:                  "want an object of step name",
	} {
		if _, err := ParseWebhooks([]byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", src, err, want)
		}
	}
}
