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

// An instance round-trips, zero times included, in UTC, and the profile
// id given (the store's column) wins over the encoded one.
func TestInstanceRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 5, time.FixedZone("x", 3600))
	in := &core.Instance{
		ID: "j:p1:2", ProfileID: "p1", JourneyID: "j", Version: 3, Status: core.InstanceActive, Step: "wait",
		Due: at.Add(time.Hour), EnteredAt: at, UpdatedAt: at, Holdout: true, Steps: 4,
		Vars:    map[string]any{"cart": "c1", "total": 12.5, "items": []any{"a", "b"}},
		History: []core.StepRecord{{At: at, Kind: core.RecordEntered, Detail: "trigger X", Next: "wait"}},
	}
	b, err := EncodeInstance(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeInstance(b, "p2")
	if err != nil {
		t.Fatal(err)
	}
	want := *in
	want.ProfileID = "p2"
	want.Due, want.EnteredAt, want.UpdatedAt = in.Due.UTC(), at.UTC(), at.UTC()
	want.History = []core.StepRecord{{At: at.UTC(), Kind: core.RecordEntered, Detail: "trigger X", Next: "wait"}}
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, &want)
	}
	if !got.GoalAt.IsZero() || !got.EndedAt.IsZero() {
		t.Errorf("zero times came back as %v, %v", got.GoalAt, got.EndedAt)
	}
	if _, err := DecodeInstance([]byte(`{"id":`), "p"); err == nil {
		t.Error("a truncated state decoded")
	}
}
