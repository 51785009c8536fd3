package track

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func props(t *testing.T, e *core.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Properties, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMessageEvents(t *testing.T) {
	now := t0
	later := t0.Add(time.Hour)
	ev := Delivered(testRef, "SM1", now)
	if ev.SourceID != core.InternalSource || ev.Type != core.TypeTrack || ev.Event != core.EventMessageDelivered ||
		ev.ProfileID != "p1" || !ev.Timestamp.Equal(now) || !ev.ReceivedAt.Equal(now) {
		t.Fatalf("delivered: %+v", ev)
	}
	p := props(t, ev)
	for k, want := range map[string]any{"channel": "email", "journey": "welcome", "version": 1.0, "step": "email_1",
		"key": "welcome:p1:1:3", "offer": "spring-sale", "status": "delivered", "providerMessageId": "SM1"} {
		if p[k] != want {
			t.Errorf("properties.%s = %v, want %v", k, p[k], want)
		}
	}
	if core.EventChannel(ev) != "email" {
		t.Errorf("EventChannel = %q", core.EventChannel(ev))
	}

	failed := Failed(testRef, "undelivered", "30003", "unreachable", "SM1", now)
	p = props(t, failed)
	if failed.Event != EventMessageFailed || p["errorCode"] != "30003" || p["reason"] != "unreachable" || p["status"] != "undelivered" {
		t.Errorf("failed: %s", failed.Properties)
	}
	noOffer := testRef
	noOffer.Offer = ""
	if _, ok := props(t, Opened(noOffer, now))["offer"]; ok {
		t.Error("an empty offer is in the properties")
	}
	click := Clicked(testRef, "https://shop.example.com/a", now)
	if props(t, click)["url"] != "https://shop.example.com/a" || click.Event != core.EventMessageClicked {
		t.Errorf("clicked: %s", click.Properties)
	}
	if (Receipt{Status: "sent"}).Event(testRef, now) != nil {
		t.Error("a status on the way made an event")
	}

	// Deterministic message ids: the same fact twice is one event, another
	// fact is another.
	same := []struct {
		name string
		a, b *core.Event
	}{
		{"delivered twice", Delivered(testRef, "SM1", now), Delivered(testRef, "SM1", later)},
		{"failed twice", Failed(testRef, "failed", "30008", "", "SM1", now), Failed(testRef, "failed", "30008", "x", "SM1", later)},
		{"opened twice", Opened(testRef, now), Opened(testRef, later)},
		{"opened by read receipt", Opened(testRef, now), Receipt{Name: core.EventMessageOpened, Status: "read"}.Event(testRef, later)},
		{"clicked twice", Clicked(testRef, "https://a.example.com/", now), Clicked(testRef, "https://a.example.com/", later)},
	}
	for _, c := range same {
		if c.a.MessageID != c.b.MessageID {
			t.Errorf("%s: ids %q and %q differ", c.name, c.a.MessageID, c.b.MessageID)
		}
	}
	other := testRef
	other.Key = "welcome:p1:1:4"
	distinct := []*core.Event{
		Delivered(testRef, "SM1", now), Delivered(other, "SM1", now),
		Failed(testRef, "failed", "", "", "", now), Failed(testRef, "undelivered", "", "", "", now),
		Opened(testRef, now), Opened(other, now),
		Clicked(testRef, "https://a.example.com/", now), Clicked(testRef, "https://b.example.com/", now),
	}
	seen := map[string]bool{}
	for _, e := range distinct {
		if seen[e.MessageID] {
			t.Errorf("id %q reused", e.MessageID)
		}
		seen[e.MessageID] = true
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		body, keyword string
		kind          ReplyKind
	}{
		{"STOP", "STOP", OptOut}, {"  stop\n", "STOP", OptOut}, {"Stop!", "STOP", OptOut}, {"StopAll", "STOPALL", OptOut},
		{"unsubscribe", "UNSUBSCRIBE", OptOut}, {"cancel", "CANCEL", OptOut}, {"End", "END", OptOut},
		{"quit", "QUIT", OptOut}, {"revoke", "REVOKE", OptOut}, {"optout", "OPTOUT", OptOut},
		{"START", "START", OptIn}, {"unstop", "UNSTOP", OptIn}, {"yes", "YES", OptIn},
		{"stop sending me this", "", PlainReply}, {"Thanks!", "", PlainReply}, {"", "", PlainReply}, {"HELP", "", PlainReply},
		{"opt out", "", PlainReply},
	}
	for _, tt := range tests {
		kw, kind := ParseReply(tt.body)
		if kw != tt.keyword || kind != tt.kind {
			t.Errorf("ParseReply(%q) = %q %v, want %q %v", tt.body, kw, kind, tt.keyword, tt.kind)
		}
	}
}

// TestReplyConsent applies replies to a profile through the fact path the
// engine uses (DeriveFacts, then Profile.Apply).
func TestReplyConsent(t *testing.T) {
	pr := core.NewProfile("p1", t0)
	pr.Consent = map[string]core.Consent{"sms": {Granted: true, At: t0.Add(-time.Hour)}, "email": {Granted: true, At: t0.Add(-time.Hour)}}
	apply := func(e *core.Event) core.Facts {
		f := core.DeriveFacts(e)
		pr.Apply(e, &f)
		return f
	}

	stop := Replied("+15551234567", "+15557654321", " Stop ", "SM9", t0)
	if stop.ProfileID != "" || stop.SourceID != core.InternalSource || stop.Type != core.TypeTrack || stop.Event != EventMessageReplied ||
		stop.MessageID != "message_replied:SM9" || !stop.Timestamp.Equal(t0) {
		t.Fatalf("stop event: %+v", stop)
	}
	p := props(t, stop)
	if p["channel"] != "sms" || p["body"] != " Stop " || p["keyword"] != "STOP" || p["providerMessageId"] != "SM9" {
		t.Errorf("properties: %s", stop.Properties)
	}
	f := apply(stop)
	// Identity resolution finds the customer by the phone number.
	ids := core.Identifiers(stop, &f)
	if len(ids) != 1 || ids[0] != (core.Identifier{Kind: core.KindPhone, Value: "+15551234567"}) {
		t.Errorf("identifiers: %v", ids)
	}
	if pr.Consent["sms"].Granted || !pr.Consent["sms"].At.Equal(t0) {
		t.Errorf("after STOP: sms consent %+v", pr.Consent["sms"])
	}
	if !pr.Consent["email"].Granted {
		t.Error("STOP changed email consent")
	}

	apply(Replied("+15551234567", "", "thanks", "SM10", t0.Add(time.Minute)))
	if pr.Consent["sms"].Granted {
		t.Error("a plain reply changed consent")
	}
	if props(t, Replied("+15551234567", "", "thanks", "SM10", t0))["keyword"] != "" {
		t.Error("a plain reply has a keyword")
	}

	apply(Replied("+15551234567", "", "START", "SM11", t0.Add(2*time.Minute)))
	if !pr.Consent["sms"].Granted {
		t.Error("START did not grant sms consent again")
	}
}
