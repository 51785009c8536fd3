package outbox_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/message"
	"github.com/overture-cjo/overture/internal/outbox"
)

const renderTemplate = `id: welcome
email:
  subject: "Hi {{ profile.traits.first_name }}, your {{ event.properties.plan }} plan"
  text: "Code {{ journey.code }}{% if offer %}, offer {{ offer.name }}{% endif %}"
sample:
  event: {properties: {plan: gold}}
  journey: {code: "1"}
`

type tagTracker struct{}

func (tagTracker) Track(e *core.OutboxEntry, m *deliver.Message) { m.Receipt = "https://t.example/" + e.Key }

// TestRenderer prepares messages the way the server does and turns every
// message that cannot go into a reason: a gone profile, a missing
// template, address or offer, consent withdrawn after queueing.
func TestRenderer(t *testing.T) {
	st := openStore(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	signup := &core.Event{Seq: 0, SourceID: "src", MessageID: "su-1", Type: core.TypeTrack, Event: "Signed Up", UserID: "ada",
		Timestamp: now, ReceivedAt: now, Properties: json.RawMessage(`{"plan":"gold"}`)}
	if err := st.Append(t.Context(), []*core.Event{signup}); err != nil {
		t.Fatal(err)
	}
	signup.ProfileID = "ada"
	if _, err := st.ApplyBatch(t.Context(), &core.ApplyBatch{Events: []*core.Event{signup}, DedupeSince: now.Add(-time.Hour)},
		func([]*core.Event) (*core.PartitionCommit, error) { return &core.PartitionCommit{}, nil }); err != nil {
		t.Fatal(err)
	}
	tpl, err := message.Parse("welcome.yaml", []byte(renderTemplate))
	if err != nil {
		t.Fatal(err)
	}
	set, err := message.NewSet([]*message.Template{tpl})
	if err != nil {
		t.Fatal(err)
	}
	trait := func(v string) core.Trait { return core.Trait{Value: json.RawMessage(`"` + v + `"`)} }
	profiles := map[string]*core.Profile{
		"ada": {ID: "ada", Traits: map[string]core.Trait{"first_name": trait("Ada"), "email": trait("ada@example.com")}},
		"bob": {ID: "bob", Traits: map[string]core.Trait{"first_name": trait("Bob")}},
		"cy": {ID: "cy", Traits: map[string]core.Trait{"email": trait("cy@example.com")},
			Consent: map[string]core.Consent{"email": {Granted: false, At: now.Add(time.Minute)}}},
	}
	r := &outbox.Renderer{Store: st, Clock: core.NewManualClock(now), Templates: func() *message.Set { return set },
		Profile: func(id string) (*core.Profile, bool) { p, ok := profiles[id]; return p, ok },
		Offer: func(id string) map[string]any {
			if id == "spring" {
				return map[string]any{"id": id, "name": "Spring 10%"}
			}
			return nil
		},
		Tracker: tagTracker{}}
	entry := func(key, profile, template, offer string) *core.OutboxEntry {
		return &core.OutboxEntry{ID: 7, Key: key, ProfileID: profile, JourneyID: "onboarding", Version: 2, Step: "mail", Channel: "email",
			Template: template, Offer: offer, Vars: `{"code":"4711"}`, EventSeq: signup.Seq, CreatedAt: now}
	}
	got, err := r.Prepare(t.Context(), []*core.OutboxEntry{
		entry("k1", "ada", "welcome", "spring"),
		entry("k2", "bob", "welcome", ""),
		entry("k3", "cy", "welcome", ""),
		entry("k4", "ada", "farewell", ""),
		entry("k5", "gone", "welcome", ""),
		entry("k6", "ada", "welcome", "winter"),
	})
	if err != nil {
		t.Fatal(err)
	}
	m := got[0].Msg
	if got[0].Err != nil || m.To != "ada@example.com" || m.Subject != "Hi Ada, your gold plan" || m.Text != "Code 4711, offer Spring 10%" ||
		m.Key != "k1" || m.Receipt != "https://t.example/k1" || m.Meta["offer"] != "spring" || m.Meta["version"] != "2" {
		t.Errorf("rendered: %+v (err %v)", m, got[0].Err)
	}
	for i, want := range []string{
		"", "the customer has no email trait", "withdrew consent for email", `template "farewell" is not defined`,
		"profile is gone", `offer "winter" is not defined`,
	} {
		if i == 0 {
			continue
		}
		if got[i].Err == nil || !strings.Contains(got[i].Err.Error(), want) {
			t.Errorf("message %d: error %v, want one saying %q", i+1, got[i].Err, want)
		}
	}
}
