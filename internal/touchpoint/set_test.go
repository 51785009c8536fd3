package touchpoint

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// routing returns the set of the example policy.
func routing(t testing.TB) *Set {
	t.Helper()
	pols, err := Load("../../examples/journeys/interactions")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(pols)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustSet parses the policies in srcs (file name -> source).
func mustSet(t testing.TB, srcs ...string) *Set {
	t.Helper()
	var pols []*Policy
	for i, src := range srcs {
		p, err := Parse(fmt.Sprintf("p%d.yaml", i), []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		pols = append(pols, p)
	}
	s, err := NewSet(pols)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// customer is a request for a customer with lifetime value ltv.
func customer(ltv float64, tp string) Input {
	return Input{
		Profile:    map[string]any{"id": "p1", "traits": map[string]any{"lifetime_value": ltv}},
		Touchpoint: tp,
		Now:        now,
	}
}

// anon is the profile of a customer with no traits.
var anon = map[string]any{"id": "p0", "traits": map[string]any{}}

var inTransfer = []Journey{{ID: "money-transfer", Step: "confirm", Category: "servicing", EnteredAt: now.Add(-20 * time.Minute)}}

// rules returns the rule ids of the actions.
func rules(r Result) []string {
	var ids []string
	for _, a := range r.Actions {
		ids = append(ids, a.Rule)
	}
	return ids
}

func TestClassicScenario(t *testing.T) {
	s := routing(t)
	if s.Window() != time.Hour {
		t.Errorf("Window %v", s.Window())
	}

	in := customer(25000, "ivr")
	in.Interactions = map[string]int{"web": 2, "ivr": 1}
	in.Journeys = inTransfer
	r := s.Evaluate(in)
	if r.Errors != nil {
		t.Fatal(r.Errors)
	}
	want := Action{Rule: "transfer-priority-agent", Policy: "contact-centre", Type: ActionRoute, Target: "priority_agent",
		SkipBot: true, Priority: 100, Reason: "used web and IVR in the last hour during a money transfer"}
	if len(r.Actions) == 0 || !equalAction(r.Actions[0], want) {
		t.Fatalf("actions %+v, want first %+v", r.Actions, want)
	}
	if r.Tier != "high" || r.TierReason != "lifetime value of 10,000 or more" {
		t.Errorf("tier %q (%q)", r.Tier, r.TierReason)
	}
	if got := rules(r); !slices.Equal(got, []string{"transfer-priority-agent", "default-bot"}) {
		t.Errorf("actions %v", got)
	}

	// The same customer on chat: the rule answers chat too, and the
	// transfer status message comes after it.
	in.Touchpoint = "chat"
	if got := rules(s.Evaluate(in)); !slices.Equal(got, []string{"transfer-priority-agent", "transfer-status-message", "default-bot"}) {
		t.Errorf("chat: %v", got)
	}
	// On the web it does not apply.
	in.Touchpoint = "web"
	if got := rules(s.Evaluate(in)); !slices.Equal(got, []string{"transfer-status-message"}) {
		t.Errorf("web: %v", got)
	}

	for name, change := range map[string]func(*Input){
		"medium value":   func(in *Input) { in.Profile = customer(5000, "ivr").Profile },
		"no IVR":         func(in *Input) { in.Interactions = map[string]int{"web": 3} },
		"no interaction": func(in *Input) { in.Interactions = nil },
		"not in journey": func(in *Input) { in.Journeys = []Journey{{ID: "onboarding", Step: "welcome"}} },
	} {
		in := customer(25000, "ivr")
		in.Interactions = map[string]int{"web": 2, "ivr": 1}
		in.Journeys = inTransfer
		change(&in)
		r := s.Evaluate(in)
		if r.Errors != nil {
			t.Errorf("%s: errors %v", name, r.Errors)
		}
		if slices.Contains(rules(r), "transfer-priority-agent") {
			t.Errorf("%s: %v", name, rules(r))
		}
		if len(r.Actions) == 0 || r.Actions[0].Target != "virtual_assistant" {
			t.Errorf("%s: first action %+v, want the virtual assistant", name, r.Actions)
		}
	}
}

func equalAction(a, b Action) bool { return reflect.DeepEqual(a, b) }

func TestExampleRules(t *testing.T) {
	s := routing(t)
	for _, c := range []struct {
		name string
		in   Input
		want []string
	}{
		{"fraud hold on the app", Input{Touchpoint: "app", Profile: anon, Journeys: []Journey{{ID: "money-transfer", Step: "fraud-check"}}},
			[]string{"fraud-hold-specialist", "transfer-status-message"}},
		{"repeat contact", Input{Touchpoint: "chat", Profile: anon, Interactions: map[string]int{"ivr": 1, "chat": 1}},
			[]string{"repeat-contact-agent", "default-bot"}},
		{"medium on the web gets the offer", customer(2000, "web"), []string{"premium-card-offer"}},
		{"premium card holder gets none", Input{Touchpoint: "web", Profile: map[string]any{"traits": map[string]any{"lifetime_value": 2000, "card_type": "premium"}}}, nil},
		{"complaint suppresses the offer", Input{Touchpoint: "agent", Profile: customer(2000, "").Profile, Journeys: []Journey{{ID: "complaint-handling"}}},
			[]string{"open-complaint-no-offers"}},
		{"standard on ivr", Input{Touchpoint: "ivr", Profile: anon}, []string{"default-bot"}},
	} {
		r := s.Evaluate(c.in)
		if r.Errors != nil {
			t.Errorf("%s: errors %v", c.name, r.Errors)
		}
		if got := rules(r); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	r := s.Evaluate(Input{Touchpoint: "app", Profile: anon, Journeys: []Journey{{ID: "money-transfer", Step: "fraud-check"}}})
	if a := r.Actions[0]; a.Params["queue_note"] != "transfer held for fraud check" || a.Reason != "A transfer held for a fraud check is handled by the fraud team, whatever the tier" {
		t.Errorf("fraud action %+v", a)
	}
}

func TestRanking(t *testing.T) {
	s := mustSet(t, `
id: a
rules:
  - {id: low, when: 'true', action: {type: message, target: m}, priority: 1}
  - {id: b-mid, when: 'true', action: {type: offer, target: o1}}
  - {id: a-mid, when: 'true', action: {type: offer, target: o2}}
  - {id: top, when: 'true', action: {type: route, target: agent}, priority: 1000}
  - {id: never, when: 'false', action: {type: route, target: agent}, priority: 999}
`, `
id: b
rules:
  - {id: hush, when: 'context.intent == "complaint"', action: {type: suppress_offers}, priority: 52}
  - {id: above, when: 'true', action: {type: offer, target: o3}, priority: 53}
  - {id: chat-only, touchpoints: [chat], when: 'true', action: {type: message, target: hi}, priority: 2}
`)
	r := s.Evaluate(Input{Touchpoint: "web"})
	if got, want := rules(r), []string{"top", "above", "a-mid", "b-mid", "low"}; !slices.Equal(got, want) {
		t.Errorf("web: %v, want %v", got, want)
	}
	if r.Actions[2].Policy != "a" || r.Actions[1].Policy != "b" || r.Actions[2].Priority != DefaultPriority {
		t.Errorf("actions %+v", r.Actions)
	}
	r = s.Evaluate(Input{Touchpoint: "chat", Context: map[string]any{"intent": "complaint"}})
	// hush drops the offers ranked below it; the one above stays.
	if got, want := rules(r), []string{"top", "above", "hush", "chat-only", "low"}; !slices.Equal(got, want) {
		t.Errorf("chat with a complaint: %v, want %v", got, want)
	}
}

func TestTier(t *testing.T) {
	s := routing(t)
	for _, c := range []struct {
		ltv          any
		tier, reason string
	}{
		{25000.0, "high", "lifetime value of 10,000 or more"},
		{10000, "high", "lifetime value of 10,000 or more"},
		{"1500", "medium", "lifetime value of 1,000 or more"},
		{999.9, "standard", "matched no value tier"},
	} {
		in := Input{Profile: map[string]any{"traits": map[string]any{"lifetime_value": c.ltv}}}
		if tier, reason := s.Tier(in); tier != c.tier || reason != c.reason {
			t.Errorf("ltv %v: %q (%q), want %q (%q)", c.ltv, tier, reason, c.tier, c.reason)
		}
	}
	if tier, reason := s.Tier(Input{Profile: anon}); tier != "standard" || reason != "matched no value tier" {
		t.Errorf("no profile: %q (%q)", tier, reason)
	}

	s = mustSet(t, `
id: t
value_tiers:
  - {name: broken, when: 'profile.traits.x > 1'}
  - {name: vip, when: 'touchpoint == "agent" && "vip" in profile.audiences'}
rules:
  - {id: r, when: 'tier == "vip"', action: {type: route, target: vip_desk}}
`)
	r := s.Evaluate(Input{Touchpoint: "agent", Profile: map[string]any{"audiences": []any{"vip"}}})
	if r.Tier != "vip" || r.TierReason != `touchpoint == "agent" && "vip" in profile.audiences` || !slices.Equal(rules(r), []string{"r"}) {
		t.Errorf("result %+v", r)
	}
	if len(r.Errors) != 1 || !strings.HasPrefix(r.Errors[0], "value tier broken (policy t): no such key") {
		t.Errorf("errors %q", r.Errors)
	}
	if tier, reason := mustSet(t, `id: none`).Tier(Input{}); tier != StandardTier || reason != "no value tiers are declared" {
		t.Errorf("no tiers: %q (%q)", tier, reason)
	}
}

func TestVariables(t *testing.T) {
	s := mustSet(t, `
id: vars
interaction_window: 2d
rules:
  - id: journeys
    when: 'journeys.exists(j, j.category == "servicing" && now - j.entered_at > duration("10m"))'
    action: {type: route, target: a}
  - id: step
    when: 'in_step("money-transfer", "confirm") && !in_step("money-transfer", "fraud-check")'
    action: {type: route, target: a}
  - id: custom-channel
    when: 'interactions.kiosk == 0 && interactions["web"] == 2 && interactions.email == 0'
    action: {type: route, target: a}
  - id: iterate
    when: 'size(interactions) == 11 && interactions.all(ch, ch == "web" || ch == "fax" || interactions[ch] == 0) && has(interactions.anything) && "x" in interactions'
    action: {type: route, target: a}
  - id: where
    when: 'touchpoint == "app" && context.page == "transfer" && profile.id == "p1" && tier == "standard"'
    action: {type: route, target: a}
  - id: equal
    when: 'interactions == {"email": 0, "sms": 0, "push": 0, "voice": 0, "whatsapp": 0, "web": 2, "app": 0, "ivr": 0, "chat": 0, "agent": 0, "fax": 0}'
    action: {type: route, target: a}
`)
	if s.Window() != 48*time.Hour {
		t.Errorf("Window %v", s.Window())
	}
	in := Input{
		Profile:      map[string]any{"id": "p1"},
		Touchpoint:   "app",
		Context:      map[string]any{"page": "transfer"},
		Interactions: map[string]int{"web": 2, "fax": 0},
		Journeys:     inTransfer,
		Now:          now,
	}
	r := s.Evaluate(in)
	if r.Errors != nil {
		t.Fatal(r.Errors)
	}
	if got, want := rules(r), []string{"custom-channel", "equal", "iterate", "journeys", "step", "where"}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	in.Now = now.Add(-15 * time.Minute)
	in.Journeys = []Journey{{ID: "money-transfer", Step: "fraud-check", Category: "servicing", EnteredAt: inTransfer[0].EnteredAt}}
	if got, want := rules(s.Evaluate(in)), []string{"custom-channel", "equal", "iterate", "where"}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

func TestEvaluationErrors(t *testing.T) {
	s := mustSet(t, `
id: errs
rules:
  - {id: missing, when: 'profile.traits.plan == "pro"', action: {type: route, target: a}, priority: 90}
  - {id: not-bool, when: 'context.flag', action: {type: route, target: a}, priority: 80}
  - {id: costly, when: '[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))', action: {type: route, target: a}, priority: 70}
  - {id: fine, when: 'true', action: {type: route, target: b}}
`)
	r := s.Evaluate(Input{Touchpoint: "web", Context: map[string]any{"flag": "yes"}})
	if got := rules(r); !slices.Equal(got, []string{"fine"}) {
		t.Errorf("actions %v", got)
	}
	if len(r.Errors) != 3 ||
		!strings.HasPrefix(r.Errors[0], "rule missing (policy errs): no such key: traits") ||
		r.Errors[1] != "rule not-bool (policy errs): condition must be bool, not string" ||
		!strings.Contains(r.Errors[2], "rule costly (policy errs): ") || !strings.Contains(r.Errors[2], "cost limit exceeded") {
		t.Errorf("errors:\n%s", strings.Join(r.Errors, "\n"))
	}

	r = s.Evaluate(Input{Touchpoint: "kiosk"})
	if r.Tier != "" || r.Actions != nil || len(r.Errors) != 1 || r.Errors[0] != `unknown touchpoint "kiosk" (want chat, ivr, web, app, agent)` {
		t.Errorf("bad touchpoint: %+v", r)
	}
	for _, tp := range Touchpoints {
		if err := ValidTouchpoint(tp); err != nil {
			t.Error(err)
		}
	}
	if ValidTouchpoint("") == nil || ValidTouchpoint("CHAT") == nil {
		t.Error("ValidTouchpoint accepts bad names")
	}
}

func TestNewSet(t *testing.T) {
	if _, err := NewSet([]*Policy{nil}); err == nil {
		t.Error("nil policy: no error")
	}
	if _, err := NewSet([]*Policy{{ID: "x", Rules: []*Rule{{ID: "r"}}}}); err == nil {
		t.Error("uncompiled rule: no error")
	}
	s, err := NewSet(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Window() != DefaultWindow || s.Tiers() != nil || s.Policies() != nil {
		t.Errorf("empty set: %v %v %v", s.Window(), s.Tiers(), s.Policies())
	}
	if r := s.Evaluate(Input{Touchpoint: "chat"}); r.Tier != StandardTier || r.Actions != nil || r.Errors != nil {
		t.Errorf("empty set: %+v", r)
	}

	// Windows that agree, tiers in one file, ids sorted.
	s = mustSet(t, "id: z\ninteraction_window: 60m\n", "id: a\ninteraction_window: 1h\nvalue_tiers: [{name: x, when: 'true'}]\n", "id: m\n")
	if s.Window() != time.Hour || len(s.Tiers()) != 1 || s.Policies()[0].ID != "a" || s.Policies()[2].ID != "z" {
		t.Errorf("set: %v %v %v", s.Window(), s.Tiers(), s.Policies())
	}

	var pols []*Policy
	for i, src := range []string{
		"id: a\nrules: [{id: r, when: 'tier == \"gold\"', action: {type: route, target: x}}]\n",
		"id: b\nrules: [{id: r, when: 'true', action: {type: route, target: x}}]\n",
	} {
		p, err := Parse(fmt.Sprintf("f%d.yaml", i), []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		pols = append(pols, p)
	}
	_, err = NewSet(pols)
	want := `f0.yaml:2:32: rules[0].when: no value tier "gold" (want standard)
f1.yaml:2:14: rules[0].id: duplicate rule id "r" (also in f0.yaml:2:14)`
	if err == nil || err.Error() != want {
		t.Errorf("NewSet:\n%v\nwant\n%s", err, want)
	}
}

// TestConcurrent evaluates one set from many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	s := routing(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				in := customer(float64(i*j*100), Touchpoints[j%len(Touchpoints)])
				in.Interactions = map[string]int{"web": j % 2, "ivr": j % 3}
				in.Journeys = inTransfer
				r := s.Evaluate(in)
				if r.Errors != nil {
					t.Error(r.Errors)
					return
				}
			}
		})
	}
	wg.Wait()
}

const benchPolicy = `
id: bench
interaction_window: 1h
value_tiers:
  - {name: high, when: 'double(profile.traits.lifetime_value) >= 10000.0'}
  - {name: medium, when: 'double(profile.traits.lifetime_value) >= 1000.0'}
rules:
  - {id: r01, when: 'tier == "high" && in_journey("money-transfer") && interactions.web > 0 && interactions.ivr > 0', action: {type: route, target: priority_agent, skip_bot: true}, priority: 100}
  - {id: r02, when: 'in_step("money-transfer", "fraud-check")', action: {type: route, target: fraud_team}, priority: 90}
  - {id: r03, when: 'interactions.ivr + interactions.chat + interactions.agent >= 2', action: {type: route, target: general_agent}, priority: 80}
  - {id: r04, when: 'in_journey("complaint-handling")', action: {type: suppress_offers}, priority: 70}
  - {id: r05, when: 'tier == "medium" && profile.traits.plan == "basic"', action: {type: offer, target: upgrade}, priority: 60}
  - {id: r06, when: 'has(context.intent) && context.intent == "cancel"', action: {type: route, target: retention}, priority: 55}
  - {id: r07, when: 'journeys.exists(j, j.category == "onboarding")', action: {type: message, target: welcome}, priority: 50}
  - {id: r08, when: '"vip" in profile.audiences && touchpoint == "ivr"', action: {type: route, target: vip_line}, priority: 45}
  - {id: r09, when: 'tier in ["high", "medium"] && interactions.email > 3', action: {type: message, target: sorry}, priority: 40}
  - {id: r10, when: 'true', action: {type: route, target: virtual_assistant}, priority: 0}
`

// BenchmarkEvaluate answers one IVR request with the ten rules of
// benchPolicy, as the HTTP server would for each request.
func BenchmarkEvaluate(b *testing.B) {
	s := mustSet(b, benchPolicy)
	in := Input{
		Profile: map[string]any{
			"id":        "p1",
			"traits":    map[string]any{"lifetime_value": 25000.0, "plan": "basic", "email": "a@example.com"},
			"audiences": []any{"newsletter", "vip"},
			"counts":    map[string]any{"order_completed": 3},
		},
		Touchpoint:   "ivr",
		Context:      map[string]any{"intent": "transfer_status"},
		Interactions: map[string]int{"web": 2, "ivr": 1},
		Journeys:     inTransfer,
		Now:          now,
	}
	if r := s.Evaluate(in); r.Errors != nil || len(r.Actions) != 3 {
		b.Fatalf("%+v", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Evaluate(in)
	}
}
