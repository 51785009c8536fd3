package policy

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the property and DST tests load zones by name
)

// examplePolicy parses examples/arbitration/policy/contact-policy.yaml.
func examplePolicy(t *testing.T) *Policy {
	t.Helper()
	const file = "../../examples/arbitration/policy/contact-policy.yaml"
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
	base := View{Consent: all, Location: ny, Profile: map[string]any{"traits": map[string]any{}}}
	vip := func(v *View) { v.Profile = map[string]any{"traits": map[string]any{"tier": "vip"}} }
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
		errs    string // a part of the only error; "": none
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
		{name: "suppression drop", v: with(func(v *View) { v.Active = []Active{{Journey: "fraud-alert", Category: "fraud"}} }),
			m:       Message{Channel: "email", Category: "marketing", Journey: "contract-renewal"},
			outcome: Suppress, rule: "suppression:fraud_drops_marketing", reason: `journey "fraud-alert"`},
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
		{name: "vip cap", v: with(func(v *View) {
			vip(v)
			v.Sent = []Sent{sent(3*time.Hour, "push", "marketing", "a", 0)}
		}), m: mkt, outcome: Delay, until: now.Add(21 * time.Hour), rule: "frequency_cap:vip_marketing_daily",
			reason: `1 of at most 1 matching sends in the last 24h0m0s (when has(profile.traits.tier) && profile.traits.tier == "vip")`},
		{name: "vip cap not for others", v: with(func(v *View) { v.Sent = []Sent{sent(3*time.Hour, "push", "marketing", "a", 0)} }), m: mkt, outcome: Send},
		{name: "vip cap other category", v: with(func(v *View) {
			vip(v)
			v.Sent = []Sent{sent(3*time.Hour, "push", "marketing", "a", 0)}
		}), m: Message{Channel: "email", Category: "service"}, outcome: Send},
		{name: "vip cap evaluation error", v: with(func(v *View) {
			v.Profile = nil // no traits: profile.traits fails
			v.Sent = []Sent{sent(3*time.Hour, "push", "marketing", "a", 0)}
		}), m: mkt, outcome: Send, errs: `frequency_cap:vip_marketing_daily: when has(profile.traits.tier) && profile.traits.tier == "vip": no such key: traits`},
		{name: "evaluation error, another rule decides", v: with(func(v *View) {
			v.Profile = map[string]any{"id": "ann"} // no traits
			v.Sent = []Sent{sent(3*time.Hour, "push", "marketing", "a", 0), sent(4*time.Hour, "push", "marketing", "a", 0), sent(5*time.Hour, "push", "marketing", "a", 0)}
		}), m: mkt, outcome: Delay, until: now.Add(7*24*time.Hour - 5*time.Hour), rule: "frequency_cap:marketing_weekly", errs: "frequency_cap:vip_marketing_daily: when"},
		{name: "evaluation error kept when expired", v: with(func(v *View) {
			v.Profile = nil
			v.Sent = []Sent{sent(3*time.Hour, "push", "marketing", "a", 0), sent(4*time.Hour, "push", "marketing", "a", 0), sent(5*time.Hour, "push", "marketing", "a", 0)}
		}), m: Message{Channel: "email", Category: "marketing", Deadline: now.Add(time.Hour)}, outcome: Suppress, rule: "expired",
			reason: "frequency_cap:marketing_weekly would delay it", errs: "no such key: traits"},
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
			if tc.errs == "" && len(d.Errors) > 0 || tc.errs != "" && (len(d.Errors) != 1 || !strings.Contains(d.Errors[0], tc.errs)) {
				t.Errorf("errors %q, want %q", d.Errors, tc.errs)
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

// TestDecideWhen checks conditional rules: each applies only when its
// condition holds, and one that fails to evaluate does not apply and is
// reported.
func TestDecideWhen(t *testing.T) {
	now := time.Date(2025, 6, 11, 22, 30, 0, 0, time.UTC)
	parse := func(src string) *Policy {
		t.Helper()
		p, err := Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	service := []Active{{Journey: "outage", Category: "service"}}
	for _, tc := range []struct {
		name    string
		policy  string
		v       View
		m       Message
		outcome Outcome
		until   time.Time
		rule    string
		reason  string
		errs    []string
	}{
		{name: "suppression applies", policy: "suppression:\n  - {name: s, while_category: service, suppress_category: marketing, action: hold, when: 'message.priority < 80'}\n",
			v: View{Active: service}, m: Message{Category: "marketing", Journey: "promo", Priority: 10},
			outcome: Delay, rule: "suppression:s", reason: `held until the customer's instance of journey "outage" (category "service") ends (when message.priority < 80)`},
		{name: "suppression does not apply", policy: "suppression:\n  - {name: s, while_category: service, suppress_category: marketing, action: hold, when: 'message.priority < 80'}\n",
			v: View{Active: service}, m: Message{Category: "marketing", Journey: "promo", Priority: 90}, outcome: Send, reason: "no rule objects"},
		{name: "next suppression rule", policy: "suppression:\n  - {name: s, while_category: service, suppress_category: marketing, action: drop, when: 'message.journey == \"other\"'}\n" +
			"  - {name: t, while_category: service, suppress_category: marketing, action: hold}\n",
			v: View{Active: service}, m: Message{Category: "marketing", Journey: "promo"}, outcome: Delay, rule: "suppression:t", reason: `(category "service") ends`},
		{name: "suppression error", policy: "suppression:\n  - {name: s, while_category: service, suppress_category: marketing, action: drop, when: 'profile.traits.vip'}\n",
			v: View{Active: service, Profile: map[string]any{"traits": map[string]any{}}}, m: Message{Category: "marketing", Journey: "promo"}, outcome: Send,
			errs: []string{"suppression:s: when profile.traits.vip: no such key: vip"}},
		{name: "not bool at run time", policy: "suppression:\n  - {name: s, while_category: service, suppress_category: marketing, action: drop, when: 'profile.flag'}\n",
			v: View{Active: service, Profile: map[string]any{"flag": "yes"}}, m: Message{Category: "marketing", Journey: "promo"}, outcome: Send,
			errs: []string{"suppression:s: when profile.flag: condition must be bool, not string"}},
		{name: "suppression not evaluated when nothing blocks", policy: "suppression:\n  - {name: s, while_category: service, suppress_category: marketing, action: drop, when: 'profile.flag'}\n",
			m: Message{Category: "marketing", Journey: "promo"}, outcome: Send},
		{name: "quiet hours apply", policy: "quiet_hours:\n  - {from: \"21:00\", to: \"08:00\", when: 'message.channel == \"sms\" && message.category != \"fraud\"'}\n",
			m: Message{Channel: "sms", Category: "service"}, outcome: Delay, until: time.Date(2025, 6, 12, 8, 0, 0, 0, time.UTC), rule: "quiet_hours:all",
			reason: `quiet hours 21:00-08:00 for all in UTC (when message.channel == "sms" && message.category != "fraud")`},
		{name: "quiet hours do not apply", policy: "quiet_hours:\n  - {from: \"21:00\", to: \"08:00\", when: 'message.channel == \"sms\" && message.category != \"fraud\"'}\n",
			m: Message{Channel: "sms", Category: "fraud"}, outcome: Send},
		{name: "quiet hours outside the period", policy: "quiet_hours:\n  - {from: \"08:00\", to: \"21:00\", when: 'profile.x'}\n",
			m: Message{Channel: "sms"}, outcome: Send}, // not evaluated: no error
		{name: "overlap applies", policy: "quiet_hours:\n  - {from: \"22:00\", to: \"23:00\"}\n  - {from: \"22:45\", to: \"06:00\", when: 'true'}\n",
			m: Message{Channel: "sms"}, outcome: Delay, until: time.Date(2025, 6, 12, 6, 0, 0, 0, time.UTC), rule: "quiet_hours:all", reason: "22:00-23:00"},
		{name: "overlap does not apply", policy: "quiet_hours:\n  - {from: \"22:00\", to: \"23:00\"}\n  - {from: \"22:45\", to: \"06:00\", when: 'false'}\n",
			m: Message{Channel: "sms"}, outcome: Delay, until: time.Date(2025, 6, 12, 23, 0, 0, 0, time.UTC).Add(-24 * time.Hour), rule: "quiet_hours:all"},
		{name: "overlap error reported once", policy: "quiet_hours:\n  - {from: \"22:00\", to: \"23:00\"}\n  - {from: \"22:45\", to: \"06:00\", when: 'profile.x'}\n",
			m: Message{Channel: "sms"}, outcome: Delay, until: time.Date(2025, 6, 11, 23, 0, 0, 0, time.UTC), rule: "quiet_hours:all",
			errs: []string{"quiet_hours:all: when profile.x: no such key: x"}},
		{name: "first period does not apply, second does", policy: "quiet_hours:\n  - {from: \"22:00\", to: \"23:00\", when: 'message.priority > 5'}\n  - {from: \"22:15\", to: \"22:45\"}\n",
			m: Message{Channel: "sms"}, outcome: Delay, until: time.Date(2025, 6, 11, 22, 45, 0, 0, time.UTC), rule: "quiet_hours:all", reason: "22:15-22:45 for all in UTC"},
		{name: "cap on now", policy: "frequency_caps:\n  - {name: c, max: 1, window: 1d, when: 'now < timestamp(\"2025-06-12T00:00:00Z\")'}\n",
			v: View{Sent: []Sent{{At: now.Add(-time.Hour)}}}, m: Message{Channel: "sms"}, outcome: Delay, until: now.Add(23 * time.Hour), rule: "frequency_cap:c"},
		{name: "cap on now, later", policy: "frequency_caps:\n  - {name: c, max: 1, window: 1d, when: 'now < timestamp(\"2025-06-11T00:00:00Z\")'}\n",
			v: View{Sent: []Sent{{At: now.Add(-time.Hour)}}}, m: Message{Channel: "sms"}, outcome: Send},
		{name: "later conditional cap does not apply", policy: "frequency_caps:\n  - {name: a, max: 1, window: 1d}\n  - {name: b, max: 1, window: 7d, when: 'message.priority == 1'}\n",
			v: View{Sent: []Sent{{At: now.Add(-time.Hour)}}}, m: Message{Channel: "sms"}, outcome: Delay, until: now.Add(23 * time.Hour), rule: "frequency_cap:a", reason: "last 24h0m0s"},
		{name: "later conditional cap applies", policy: "frequency_caps:\n  - {name: a, max: 1, window: 1d}\n  - {name: b, max: 1, window: 7d, when: 'message.priority == 1'}\n",
			v: View{Sent: []Sent{{At: now.Add(-time.Hour)}}}, m: Message{Channel: "sms", Priority: 1}, outcome: Delay, until: now.Add(7*24*time.Hour - time.Hour), rule: "frequency_cap:b",
			reason: "(when message.priority == 1)"},
		{name: "every error", policy: "suppression:\n  - {name: s, while_category: service, suppress_category: marketing, action: drop, when: 'profile.a'}\n" +
			"quiet_hours:\n  - {from: \"22:00\", to: \"23:00\", when: 'profile.b'}\nfrequency_caps:\n  - {name: c, max: 1, window: 1d, when: 'profile.c'}\n",
			v: View{Active: service, Sent: []Sent{{At: now.Add(-time.Hour)}}}, m: Message{Category: "marketing", Journey: "promo"}, outcome: Send,
			errs: []string{"suppression:s: when profile.a: no such key: a", "quiet_hours:all: when profile.b: no such key: b", "frequency_cap:c: when profile.c: no such key: c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := parse(tc.policy).Decide(tc.v, tc.m, now)
			if d.Outcome != tc.outcome || !d.Until.Equal(tc.until) || d.Rule != tc.rule || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("got %s until %v rule %q (%s)\nwant %s until %v rule %q (%s)", d.Outcome, d.Until, d.Rule, d.Reason, tc.outcome, tc.until, tc.rule, tc.reason)
			}
			if !slices.Equal(d.Errors, tc.errs) {
				t.Errorf("errors\n%q\nwant\n%q", d.Errors, tc.errs)
			}
		})
	}
}

// TestDecideAllocs checks that conditions cost nothing when none is
// evaluated: no activation is built.
func TestDecideAllocs(t *testing.T) {
	p := examplePolicy(t)
	now := time.Date(2025, 6, 11, 12, 0, 0, 0, time.UTC)
	v := View{Consent: map[string]bool{"email": true, "sms": true}}
	for _, m := range []Message{
		{Channel: "email", Category: "marketing", Journey: "promo", Priority: 1}, // the VIP cap is not full: not evaluated
		{Channel: "sms", Category: "service", Journey: "billing"},                // no condition
	} {
		if d := p.Decide(v, m, now); d.Outcome != Send || d.Errors != nil {
			t.Fatalf("%+v: got %+v, want send", m, d)
		}
		if n := testing.AllocsPerRun(100, func() { p.Decide(v, m, now) }); n != 0 {
			t.Errorf("%+v: %v allocations per Decide, want 0", m, n)
		}
	}
}

// BenchmarkDecide measures one decision with the example policy, without
// and with a condition to evaluate.
func BenchmarkDecide(b *testing.B) {
	data, err := os.ReadFile("../../examples/arbitration/policy/contact-policy.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p, err := Parse("p.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2025, 6, 11, 22, 0, 0, 0, time.UTC)
	v := View{Consent: map[string]bool{"email": true, "sms": true}, Profile: map[string]any{"traits": map[string]any{"tier": "vip"}}}
	b.Run("no condition", func(b *testing.B) {
		m := Message{Channel: "email", Category: "service", Journey: "billing"}
		for b.Loop() {
			p.Decide(v, m, now)
		}
	})
	b.Run("condition", func(b *testing.B) {
		m := Message{Channel: "email", Category: "marketing", Journey: "promo"}
		v := v
		v.Sent = []Sent{{At: now.Add(-time.Hour), Channel: "email", Category: "marketing", Journey: "other"}} // the VIP cap is full
		for b.Loop() {
			p.Decide(v, m, now)
		}
	})
}
