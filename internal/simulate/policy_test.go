package simulate_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/policy"
	"github.com/overture-cjo/overture/internal/simulate"
)

func loadPolicyScenario(t *testing.T) (*machine.Catalog, *policy.Policy) {
	t.Helper()
	dir := "testdata/arbitration"
	defs, err := journey.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := machine.FromDefinitions(defs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dir + "/policy/contact-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse("policy.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	return cat, pol
}

// TestServiceJourneyMutesMarketing is the defining scenario: a customer
// in a bill-dispute (service) journey gets no contract-renewal message
// while it is active, and gets it once the dispute is resolved, if still
// eligible; the decision log says why at each point.
func TestServiceJourneyMutesMarketing(t *testing.T) {
	cat, pol := loadPolicyScenario(t)
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	events, err := simulate.ReadEvents("events.jsonl", strings.NewReader(`
{"type": "identify", "userId": "ann", "traits": {"consent": {"email": true, "sms": true}}}
{"type": "identify", "userId": "bob", "traits": {"consent": {"email": true, "sms": true}}}
{"type": "identify", "userId": "cat", "traits": {"consent": {"email": true, "sms": true}}}
{"event": "Bill Disputed", "userId": "ann", "at": "1m"}
{"event": "Bill Disputed", "userId": "bob", "at": "1m"}
{"event": "Contract Ending", "userId": "ann", "at": "1h"}
{"event": "Contract Ending", "userId": "bob", "at": "1h"}
{"event": "Contract Ending", "userId": "cat", "at": "1h"}
{"event": "Contract Renewed", "userId": "bob", "at": "2d"}
{"event": "Dispute Resolved", "userId": "ann", "at": "3d"}
{"event": "Dispute Resolved", "userId": "bob", "at": "3d"}
`), start)
	if err != nil {
		t.Fatal(err)
	}
	res := simulate.Run(cat, events, simulate.Options{Policy: pol, Until: start.Add(40 * 24 * time.Hour)})
	got := map[string][]string{}
	for _, c := range res.Customers {
		for _, d := range c.Decisions {
			got[c.ID] = append(got[c.ID], d.At.Sub(start).String()+" "+d.JourneyID+" "+d.Outcome+" "+d.Rule)
		}
	}
	want := map[string][]string{
		// Held while the dispute is open (looked at again daily), sent
		// the moment it is resolved.
		"ann": {
			"1m0s bill-dispute send ",
			"1h0m0s contract-renewal delay suppression:service_mutes_marketing",
			"25h0m0s contract-renewal delay suppression:service_mutes_marketing",
			"49h0m0s contract-renewal delay suppression:service_mutes_marketing",
			"72h0m0s contract-renewal send ",
		},
		// Renewed meanwhile: no longer eligible (the exit criterion ended
		// the held instance), so nothing is sent after the dispute.
		"bob": {
			"1m0s bill-dispute send ",
			"1h0m0s contract-renewal delay suppression:service_mutes_marketing",
			"25h0m0s contract-renewal delay suppression:service_mutes_marketing",
		},
		// No dispute: sent at once.
		"cat": {"1h0m0s contract-renewal send "},
	}
	for id, w := range want {
		if strings.Join(got[id], "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: decisions\n%s\nwant\n%s", id, strings.Join(got[id], "\n"), strings.Join(w, "\n"))
		}
	}
	for _, c := range res.Customers {
		for _, d := range c.Decisions {
			if d.Reason == "" {
				t.Errorf("%s: decision %s has no reason", c.ID, d.Key)
			}
			if d.Outcome == core.OutcomeDelay && !strings.Contains(d.Reason, `journey "bill-dispute"`) {
				t.Errorf("%s: delay reason %q does not name the blocking journey", c.ID, d.Reason)
			}
		}
	}
	if res.Messages != 4 {
		t.Errorf("messages = %d, want 4 (2 acknowledgements, 2 renewals)", res.Messages)
	}
}

// TestHeldSendExpires checks that a send held past its expires_after is
// dropped at its deadline with rule "expired", not sent late.
func TestHeldSendExpires(t *testing.T) {
	cat, pol := loadPolicyScenario(t)
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	events, err := simulate.ReadEvents("events.jsonl", strings.NewReader(`
{"type": "identify", "userId": "dan", "traits": {"consent": {"email": true, "sms": true}}}
{"event": "Bill Disputed", "userId": "dan", "at": "1m"}
{"event": "Contract Ending", "userId": "dan", "at": "1h"}
{"event": "Dispute Resolved", "userId": "dan", "at": "25d"}
`), start)
	if err != nil {
		t.Fatal(err)
	}
	res := simulate.Run(cat, events, simulate.Options{Policy: pol, Until: start.Add(40 * 24 * time.Hour)})
	var last *core.Decision
	for _, d := range res.Customers[0].Decisions {
		if d.JourneyID == "contract-renewal" {
			last = d
		}
	}
	if last == nil || last.Outcome != core.OutcomeSuppress || last.Rule != "expired" {
		t.Fatalf("last renewal decision = %+v, want suppressed as expired", last)
	}
	if want := start.Add(time.Hour + 20*24*time.Hour); !last.At.Equal(want) {
		t.Errorf("expired at %s, want %s (20d after the step was reached)", last.At, want)
	}
}

// TestChannelBestUsesTemplateChannels checks that `channel: best` chooses
// only among the channels the step's template has content for: a stated
// preference for another channel is passed over, and a customer consented
// to none of them gets nothing (channel:none).
func TestChannelBestUsesTemplateChannels(t *testing.T) {
	d, err := journey.Parse("nudge.yaml", []byte(`id: nudge
name: Nudge
category: marketing
entry: {trigger: {event: Nudge Me}}
start: send
steps:
  send: {type: send, channel: best, template: email-only, next: done}
  done: {type: exit}
`))
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := machine.FromDefinitions([]*journey.Definition{d})
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	events, err := simulate.ReadEvents("events.jsonl", strings.NewReader(`
{"type": "identify", "userId": "ann", "traits": {"consent": {"email": true, "sms": true}, "preferred_channel": "sms"}}
{"type": "identify", "userId": "bob", "traits": {"consent": {"sms": true}}}
{"event": "Nudge Me", "userId": "ann", "at": "1m"}
{"event": "Nudge Me", "userId": "bob", "at": "1m"}
`), start)
	if err != nil {
		t.Fatal(err)
	}
	channels := func(template string) []string {
		if template == "email-only" {
			return []string{"email"}
		}
		return nil
	}
	res := simulate.Run(cat, events, simulate.Options{TemplateChannels: channels})
	got := map[string]string{}
	for _, c := range res.Customers {
		for _, dec := range c.Decisions {
			got[c.ID] = dec.Outcome + " " + dec.Channel + " " + dec.Rule
		}
	}
	if got["ann"] != "send email " {
		t.Errorf("ann (prefers sms, template has email only): %q, want send email", got["ann"])
	}
	if got["bob"] != "suppress best channel:none" {
		t.Errorf("bob (consented to sms only): %q, want suppressed channel:none", got["bob"])
	}
}
