package simulate

import (
	"strings"
	"testing"
	"time"
)

func TestReadEvents(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	in := `# a comment, then a blank line

{"at": "1h", "userId": "u1", "event": "B"}
{"timestamp": "2026-03-02T09:30:00+01:00", "userId": "u1", "event": "A"}
{"type": "identify", "anonymousId": "a1", "traits": {"x": 1}}
{"at": "2d", "userId": "u2", "event": "C", "messageId": "m-1"}
`
	evs, err := ReadEvents("ev.jsonl", strings.NewReader(in), start)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Event.Timestamp.Format(time.RFC3339)+" "+e.Event.Type+" "+e.Event.Label()+" "+e.Event.MessageID)
	}
	want := []string{
		"2026-03-02T08:30:00Z track A ev.jsonl:4", // an absolute time before start sorts first
		"2026-03-02T09:00:00Z identify identify ev.jsonl:5",
		"2026-03-02T10:00:00Z track B ev.jsonl:3",
		"2026-03-04T09:00:00Z track C m-1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if evs[0].Line != 4 {
		t.Errorf("line = %d, want 4", evs[0].Line)
	}
}

func TestReadEventsErrors(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		line string
		want string
	}{
		{`{"userId": "u1", "event": "A"`, "ev.jsonl:2: not a JSON object"},
		{`not json`, "ev.jsonl:2: not a JSON object"},
		{`{"userId": "u1", "event": "A"} {"userId": "u2"}`, "ev.jsonl:2: more than one JSON value"},
		{`{"userId": "u1"}`, "ev.jsonl:2: event: a track event needs a name"},
		{`{"userId": "u1", "type": "track", "event": ""}`, "ev.jsonl:2: event: a track event needs a name"},
		{`{"event": "A"}`, "ev.jsonl:2: userId: one of userId or anonymousId is required"},
		{`{"userId": "u1", "event": "A", "timestamp": "yesterday"}`, `ev.jsonl:2: timestamp: "yesterday" is not an RFC 3339 time`},
		{`{"userId": "u1", "event": "A", "timestamp": 12}`, "ev.jsonl:2: timestamp: want a string, not a number"},
		{`{"userId": 7, "event": "A"}`, "ev.jsonl:2: userId: want a string, not a number"},
		{`{"userId": "u1", "event": "A", "at": "3 days"}`, `ev.jsonl:2: at: "3 days" is not a duration`},
		{`{"userId": "u1", "event": "A", "at": "-1h"}`, `ev.jsonl:2: at: "-1h" is not a duration`},
		{`{"userId": "u1", "event": "A", "at": "1h", "timestamp": "2026-03-02T09:00:00Z"}`, "ev.jsonl:2: at: give at or timestamp, not both"},
		{`{"userId": "u1", "event": "A", "properties": [1]}`, "ev.jsonl:2: properties: want an object"},
		{`{"userId": "u1", "type": "trak", "event": "A"}`, `ev.jsonl:2: type: "trak" is not a Segment message type`},
		{`{"userId": "u1", "event": {"x": 1}}`, "ev.jsonl:2: event: want a string, not an object"},
	} {
		_, err := ReadEvents("ev.jsonl", strings.NewReader(`{"userId": "ok", "event": "Fine"}`+"\n"+tc.line+"\n"), start)
		if err == nil {
			t.Errorf("%s: no error", tc.line)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s...", tc.line, err, tc.want)
		}
	}
}
