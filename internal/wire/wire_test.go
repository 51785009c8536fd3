package wire

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// Both directions must agree with encoding/json.
func TestRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)
	e := &core.Event{SourceID: "s", MessageID: "m\u2028<x>", Type: "track", Event: "Viewed", UserID: "u", Timestamp: ts, ReceivedAt: ts,
		SentAt: ts.Add(time.Second), Properties: json.RawMessage(`{"a":[1,2,{"b":null}]}`), Context: json.RawMessage(`{"ip":"1.2.3.4"}`)}
	got, err := DecodeEvent(e.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	var std core.Event
	if err := json.Unmarshal(e.AppendJSON(nil), &std); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, std) || got.MessageID != e.MessageID || !got.SentAt.Equal(e.SentAt) {
		t.Fatalf("decoded\n%+v\nencoding/json\n%+v", got, std)
	}
	p := core.NewProfile("p1", ts)
	p.Apply(e, &core.Facts{Timezone: "Europe/Paris", Consent: map[string]bool{"sms": true}})
	b, err := EncodeProfile(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeProfile(b)
	if err != nil {
		t.Fatal(err)
	}
	var std2 core.Profile
	if err := json.Unmarshal(b, &std2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, &std2) || back.TimezoneName() != "Europe/Paris" || back.Counts["Viewed"] != 1 {
		t.Fatalf("profile round trip: %+v vs %+v", back, std2)
	}
}
