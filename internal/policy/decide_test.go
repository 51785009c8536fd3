package policy

import (
	"os"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the property and DST tests load zones by name
)

// examplePolicy parses examples/policy/contact-policy.yaml.
func examplePolicy(t *testing.T) *Policy {
	t.Helper()
	const file = "../../examples/policy/contact-policy.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestDecide(t *testing.T) {
	p := examplePolicy(t)
	ny := mustLoc(t, "America/New_York")
	// noon in New York on a Wednesday; no quiet hours apply
	now := time.Date(2025, 6, 11, 12, 0, 0, 0, ny)
	all := map[string]bool{"email": true, "sms": true, "push": true, "voice": true}
	base := View{Consent: all, Location: ny}
	with := func(f func(v *View)) View {
		v := base
		f(&v)
		return v
	}
	mkt := Message{Channel: "email", Category: "marketing", Journey: "promo", Priority: 1}
	sent := func(ago time.Duration, ch, cat, j string, prio int) Sent {
		return Sent{At: now.Add(-ago), Channel: ch, Category: cat, Journey: j, Priority: prio}
	}
	for _, tc := range []struct {
		name    string
		v       View
		m       Message
		now     time.Time
		outcome Outcome
		until   time.Time
		rule    string
		reason  string // a part of the reason
	}{
		{name: "send", v: base, m: mkt, outcome: Send},
		{name: "no consent", v: with(func(v *View) { v.Consent = map[string]bool{"email": false} }), m: mkt,
			outcome: Suppress, rule: "consent:email", reason: "not consented to email"},
		{name: "consent override", v: with(func(v *View) { v.Consent = nil }),
			m: Message{Channel: "sms", Category: "fraud", Journey: "fraud-alert"}, outcome: Send},
		{name: "channel needs no consent", v: with(func(v *View) { v.Consent = nil }),
			m: Message{Channel: "webhook", Category: "marketing"}, outcome: Send},
		{name: "suppression hold", v: with(func(v *View) { v.Active = []Active{{Journey: "outage", Category: "service"}} }), m: mkt,
			outcome: Delay, rule: "suppression:service_mutes_marketing", reason: `held until the customer's instance of journey "outage"`},
		{name: "suppression drop", v: with(func(v *View) { v.Active = []Active{{Journey: "bill-dispute", Category: "care"}} }),
			m:       Message{Channel: "email", Category: "sales", Journey: "contract-renewal"},
			outcome: Suppress, rule: "suppression:bill-dispute_mutes_contract-renewal", reason: `journey "bill-dispute"`},
		{name: "journey does not mute itself", v: with(func(v *View) { v.Active = []Active{{Journey: "promo", Category: "service"}} }), m: mkt, outcome: Send},
		{name: "quiet hours evening", v: base, m: Message{Channel: "sms", Category: "service"}, now: time.Date(2025, 6, 11, 22, 30, 0, 0, ny),
			outcome: Delay, until: time.Date(2025, 6, 12, 8, 0, 0, 0, ny), rule: "quiet_hours:sms", reason: "21:00-08:00"},
		{name: "quiet hours morning", v: base, m: Message{Channel: "sms", Category: "service"}, now: time.Date(2025, 6, 11, 7, 59, 0, 0, ny),
			outcome: Delay, until: time.Date(2025, 6, 11, 8, 0, 0, 0, ny), rule: "quiet_hours:sms"},
		{name: "quiet hours end is open", v: base, m: Message{Channel: "sms", Category: "service"}, now: time.Date(2025, 6, 11, 8, 0, 0, 0, ny), outcome: Send},
		{name: "quiet hours start is closed", v: base, m: Message{Channel: "sms", Category: "service"}, now: time.Date(2025, 6, 11, 21, 0, 0, 0, ny),
			outcome: Delay, until: time.Date(2025, 6, 12, 8, 0, 0, 0, ny), rule: "quiet_hours:sms"},
		{name: "quiet hours other channel", v: base, m: mkt, now: time.Date(2025, 6, 11, 22, 30, 0, 0, ny), outcome: Send},
		{name: "quiet hours in the customer's zone", v: with(func(v *View) { v.Location = mustLoc(t, "Asia/Tokyo") }),
			m: Message{Channel: "sms", Category: "service"}, now: time.Date(2025, 6, 11, 22, 30, 0, 0, ny), outcome: Send}, // 11:30 in Tokyo
		{name: "category cap", v: with(func(v *View) {
			v.Sent = []Sent{sent(6*24*time.Hour, "email", "marketing", "a", 0), sent(2*24*time.Hour, "push", "marketing", "b", 0), sent(3*24*time.Hour, "email", "marketing", "c", 0)}
		}), m: mkt, outcome: Delay, until: now.Add(24 * time.Hour), rule: "frequency_cap:marketing_weekly", reason: "3 of at most 3"},
		{name: "category cap window is open at the start", v: with(func(v *View) {
			v.Sent = []Sent{sent(7*24*time.Hour, "email", "marketing", "a", 0), sent(2*24*time.Hour, "push", "marketing", "b", 0), sent(3*24*time.Hour, "email", "marketing", "c", 0)}
		}), m: mkt, outcome: Send},
		{name: "channel cap", v: with(func(v *View) { v.Sent = []Sent{sent(3*time.Hour, "sms", "service", "a", 0)} }),
			m: Message{Channel: "sms", Category: "service"}, outcome: Delay, until: now.Add(21 * time.Hour), rule: "frequency_cap:sms_daily"},
		{name: "global cap", v: with(func(v *View) {
			for i := range 5 {
				v.Sent = append(v.Sent, sent(time.Duration(i+1)*time.Hour, "push", "service", "a", 0))
			}
		}), m: mkt, outcome: Delay, until: now.Add(19 * time.Hour), rule: "frequency_cap:global_daily"},
		{name: "latest cap wins", v: with(func(v *View) {
			v.Sent = []Sent{sent(23*time.Hour, "sms", "marketing", "a", 0), sent(6*24*time.Hour, "email", "marketing", "a", 0), sent(5*24*time.Hour, "email", "marketing", "a", 0)}
		}), m: Message{Channel: "sms", Category: "marketing"}, outcome: Delay, until: now.Add(24 * time.Hour), rule: "frequency_cap:marketing_weekly"},
		{name: "priority delay", v: with(func(v *View) { v.Sent = []Sent{sent(20*time.Minute, "push", "service", "billing", 5)} }), m: mkt,
			outcome: Delay, until: now.Add(40 * time.Minute), rule: "priority", reason: `journey "billing" (priority 5)`},
		{name: "priority drop", v: with(func(v *View) { v.Sent = []Sent{sent(20*time.Minute, "push", "service", "billing", 5)} }),
			m: Message{Channel: "email", Category: "marketing", Journey: "promo", Priority: 1, LoserAction: "drop"}, outcome: Suppress, rule: "priority"},
		{name: "priority equal", v: with(func(v *View) { v.Sent = []Sent{sent(20*time.Minute, "push", "service", "billing", 1)} }), m: mkt, outcome: Send},
		{name: "priority same journey", v: with(func(v *View) { v.Sent = []Sent{sent(20*time.Minute, "push", "service", "promo", 9)} }), m: mkt, outcome: Send},
		{name: "priority window passed", v: with(func(v *View) { v.Sent = []Sent{sent(time.Hour, "push", "service", "billing", 5)} }), m: mkt, outcome: Send},
		{name: "deadline passed", v: base, m: Message{Channel: "email", Category: "marketing", Deadline: now.Add(-time.Second)},
			outcome: Suppress, rule: "expired", reason: "has passed"},
		{name: "deadline now", v: base, m: Message{Channel: "email", Category: "marketing", Deadline: now}, outcome: Send},
		{name: "delay past deadline", v: base, m: Message{Channel: "sms", Category: "service", Deadline: time.Date(2025, 6, 12, 7, 0, 0, 0, ny)},
			now: time.Date(2025, 6, 11, 22, 30, 0, 0, ny), outcome: Suppress, rule: "expired", reason: "quiet_hours:sms would delay it"},
		{name: "delay up to deadline", v: base, m: Message{Channel: "sms", Category: "service", Deadline: time.Date(2025, 6, 12, 8, 0, 0, 0, ny)},
			now: time.Date(2025, 6, 11, 22, 30, 0, 0, ny), outcome: Delay, until: time.Date(2025, 6, 12, 8, 0, 0, 0, ny), rule: "quiet_hours:sms"},
		{name: "hold has no deadline check", v: with(func(v *View) { v.Active = []Active{{Journey: "outage", Category: "service"}} }),
			m: Message{Channel: "email", Category: "marketing", Deadline: now.Add(time.Minute)}, outcome: Delay, rule: "suppression:service_mutes_marketing"},
		// ordering: each earlier rule wins over every later one
		{name: "consent before suppression", v: with(func(v *View) {
			v.Consent = nil
			v.Active = []Active{{Journey: "outage", Category: "service"}}
		}), m: mkt, outcome: Suppress, rule: "consent:email"},
		{name: "suppression before quiet hours", v: with(func(v *View) { v.Active = []Active{{Journey: "outage", Category: "service"}} }),
			m: Message{Channel: "sms", Category: "marketing"}, now: time.Date(2025, 6, 11, 22, 30, 0, 0, ny), outcome: Delay, rule: "suppression:service_mutes_marketing"},
		{name: "quiet hours before caps", v: with(func(v *View) {
			v.Sent = []Sent{{At: time.Date(2025, 6, 11, 20, 0, 0, 0, ny), Channel: "sms"}}
		}), m: Message{Channel: "sms", Category: "service"}, now: time.Date(2025, 6, 11, 22, 30, 0, 0, ny),
			outcome: Delay, until: time.Date(2025, 6, 12, 8, 0, 0, 0, ny), rule: "quiet_hours:sms"},
		{name: "caps before priority", v: with(func(v *View) { v.Sent = []Sent{sent(20*time.Minute, "sms", "service", "billing", 5)} }),
			m: Message{Channel: "sms", Category: "service", LoserAction: "drop"}, outcome: Delay, until: now.Add(24*time.Hour - 20*time.Minute), rule: "frequency_cap:sms_daily"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.now
			if at.IsZero() {
				at = now
			}
			d := p.Decide(tc.v, tc.m, at)
			if d.Outcome != tc.outcome || !d.Until.Equal(tc.until) || d.Rule != tc.rule || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("got %s until %v rule %q (%s)\nwant %s until %v rule %q (%s)", d.Outcome, d.Until, d.Rule, d.Reason, tc.outcome, tc.until, tc.rule, tc.reason)
			}
			if d.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}

// TestQuietHoursDST checks periods whose end falls in a skipped or repeated
// hour: the delay ends at the first wall-clock time outside the period,
// strictly after now.
func TestQuietHoursDST(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	for _, tc := range []struct {
		name     string
		from, to int
		now      time.Time
		want     time.Time
	}{
		// 2025-03-09 02:00 EST jumps to 03:00 EDT: 02:30 does not exist.
		{"end skipped", 22 * 60, 2*60 + 30, time.Date(2025, 3, 9, 1, 45, 0, 0, ny), time.Date(2025, 3, 9, 3, 0, 0, 0, ny)},
		{"across the jump", 22 * 60, 8 * 60, time.Date(2025, 3, 8, 23, 0, 0, 0, ny), time.Date(2025, 3, 9, 8, 0, 0, 0, ny)},
		// 2025-11-02 02:00 EDT falls back to 01:00 EST: 01:15 happens twice.
		{"end repeated, first pass", 0, 60 + 30, time.Date(2025, 11, 2, 1, 15, 0, 0, ny), time.Date(2025, 11, 2, 5, 30, 0, 0, time.UTC)},
		{"end repeated, second pass", 0, 60 + 30, time.Date(2025, 11, 2, 6, 15, 0, 0, time.UTC), time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Policy{QuietHours: []QuietHours{{From: tc.from, To: tc.to}}}
			d := p.Decide(View{Location: ny}, Message{Channel: "sms"}, tc.now)
			if d.Outcome != Delay || !d.Until.Equal(tc.want) {
				t.Fatalf("got %s until %v (%s), want delay until %v", d.Outcome, d.Until, d.Reason, tc.want.In(ny))
			}
			if d := p.Decide(View{Location: ny}, Message{Channel: "sms"}, d.Until); d.Outcome != Send {
				t.Errorf("at the end: got %s until %v, want send", d.Outcome, d.Until)
			}
		})
	}
}
