package simulate

import (
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/machine"
)

func TestFormatOffset(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{45 * time.Second, "45s"},
		{90 * time.Minute, "1h30m"},
		{51*time.Hour + 5*time.Second, "2d3h5s"},
		{24 * time.Hour, "1d"},
		{time.Minute + 500*time.Millisecond, "1m500ms"},
		{-time.Hour, "-1h"},
		{1500 * time.Nanosecond, "1us500ns"},
	} {
		if got := FormatOffset(tc.d); got != tc.want {
			t.Errorf("FormatOffset(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestRelativeLine(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	rec := func(at time.Duration, step, kind, detail, next string) machine.Record {
		return machine.Record{Journey: "j", Version: 3, StepRecord: core.StepRecord{At: start.Add(at), Step: step, Kind: kind, Detail: detail, Next: next}}
	}
	for _, tc := range []struct {
		r    machine.Record
		want string
	}{
		{rec(0, "", core.RecordEntered, "trigger Signed Up", "hello"), "+0s j entered trigger Signed Up -> hello"},
		{rec(time.Hour, "w", core.RecordWait, "until 2026-03-03T10:30:00Z", ""), "+1h j w wait until +1d1h30m"},
		{rec(time.Hour, "w", core.RecordWaitFor, "Order Completed until 2026-03-02T09:00:05Z", ""), "+1h j w wait_for Order Completed until +5s"},
		{rec(time.Hour, "u", core.RecordUpdate, `at="2026-03-02T09:00:00Z"`, "n"), `+1h j u update at="2026-03-02T09:00:00Z" -> n`},
		{rec(2*time.Hour, "", core.RecordExit, "exit[0]  when  x", ""), "+2h j exit exit[0] when x"},
	} {
		if got := RelativeLine(tc.r, start); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

func TestLineMatches(t *testing.T) {
	got := "+1h cart remind send email cart-reminder offer best -> wait"
	for want, ok := range map[string]bool{
		got: true,
		"+1h cart remind send email cart-reminder":  true,
		"+1h  cart remind   send":                   true,
		"+1h":                                       true,
		"+1h cart remind send email cart":           false, // not at a word boundary
		"+1h30m cart remind":                        false,
		"+1 cart":                                   false,
		"+1h cart remind send sms":                  false,
		got + " extra":                              false,
		"+1h cart remind send email cart-reminder ": true, // trailing space ignored
	} {
		if LineMatches(want, got) != ok {
			t.Errorf("LineMatches(%q) = %v, want %v", want, !ok, ok)
		}
	}
}

func TestMatch(t *testing.T) {
	trace := []string{"+0s j entered", "+0s j a send x", "+1h j b wait", "+2h j exit done"}
	for _, tc := range []struct {
		name  string
		want  []string
		exact bool
		miss  int // -2: matches
		after int
	}{
		{"subsequence", []string{"+0s j a send", "+2h j exit"}, false, -2, 0},
		{"empty", nil, false, -2, 0},
		{"out of order", []string{"+1h j b", "+0s j a"}, false, 1, 3},
		{"missing", []string{"+0s j entered", "+0s j c send"}, false, 1, 1},
		{"same line twice", []string{"+0s j a send", "+0s j a send"}, false, 1, 2},
		{"exact", []string{"+0s j entered", "+0s j a", "+1h j b", "+2h j exit"}, true, -2, 0},
		{"exact with a gap", []string{"+0s j entered", "+1h j b"}, true, 1, 1},
		{"exact too short", []string{"+0s j entered", "+0s j a", "+1h j b"}, true, -1, 3},
		{"exact empty", nil, true, -1, 0},
	} {
		m := Match(tc.want, trace, tc.exact)
		switch {
		case tc.miss == -2 && m != nil:
			t.Errorf("%s: mismatch %+v, want a match", tc.name, m)
		case tc.miss != -2 && m == nil:
			t.Errorf("%s: matched, want a mismatch at %d", tc.name, tc.miss)
		case m != nil && (m.Want != tc.miss || m.After != tc.after):
			t.Errorf("%s: mismatch at %d after %d, want at %d after %d", tc.name, m.Want, m.After, tc.miss, tc.after)
		}
	}
	if m := Match(nil, nil, true); m != nil {
		t.Errorf("exact empty against empty: %+v", m)
	}
	m := Match([]string{"+0s j a send", "+9h nope"}, trace, false)
	if m == nil || m.Matched[1] != 0 || m.Matched[0] != -1 {
		t.Errorf("Matched = %+v, want trace line 1 matched by expected line 0", m)
	}
}
