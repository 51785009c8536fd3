package audience

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// mustParse parses an audience with the given condition.
func mustParse(t *testing.T, id, condition string, more ...string) *Audience {
	t.Helper()
	src := fmt.Sprintf("id: %s\ncondition: %q\n%s", id, condition, strings.Join(more, "\n"))
	a, err := Parse(id+".yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// profile returns a profile with the traits and consent given.
func profile(t *testing.T, id string, traits map[string]any, consent map[string]bool) *core.Profile {
	t.Helper()
	p := core.NewProfile(id, t0)
	for k, v := range traits {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p.SetTrait(k, raw, t0)
	}
	for ch, g := range consent {
		if p.Consent == nil {
			p.Consent = map[string]core.Consent{}
		}
		p.Consent[ch] = core.Consent{Granted: g, At: t0}
	}
	return p
}

func TestMatch(t *testing.T) {
	pro := profile(t, "p1", map[string]any{"plan": "pro", "contract_end": "2024-05-20T00:00:00Z", "n": 3}, map[string]bool{"email": true, "sms": false})
	free := profile(t, "p2", map[string]any{"plan": "free"}, nil)
	withComputed := func(p *core.Profile, computed map[string]any) map[string]any {
		m := core.ProfileMap(p)
		m["computed"] = computed
		return m
	}
	inCart := func(id string) bool { return id == "cart-abandonment" }
	contract := `has(profile.traits.contract_end) && timestamp(profile.traits.contract_end) - now <= duration("720h")`
	big := make([]any, 1000)
	for i := range big {
		big[i] = float64(i)
	}
	for _, tc := range []struct {
		name, condition string
		in              Input
		want            bool
		err             string // part of the error, "" for none
	}{
		{"trait", `profile.traits.plan == "pro"`, Input{Profile: core.ProfileMap(pro)}, true, ""},
		{"trait/other", `profile.traits.plan == "pro"`, Input{Profile: core.ProfileMap(free)}, false, ""},
		{"trait/number", `profile.traits.n >= 3.0`, Input{Profile: core.ProfileMap(pro)}, true, ""},
		{"trait/missing", `profile.traits.n >= 3.0`, Input{Profile: core.ProfileMap(free)}, false, "no such key: n"},
		{"trait/has", `has(profile.traits.n) && profile.traits.n >= 3.0`, Input{Profile: core.ProfileMap(free)}, false, ""},
		{"consent", `has(profile.consent.email) && profile.consent.email.granted`, Input{Profile: core.ProfileMap(pro)}, true, ""},
		{"consent/revoked", `profile.consent.sms.granted`, Input{Profile: core.ProfileMap(pro)}, false, ""},
		{"consent/none", `has(profile.consent.email) && profile.consent.email.granted`, Input{Profile: core.ProfileMap(free)}, false, ""},
		{"computed", `profile.computed.orders_30d >= 3.0`, Input{Profile: withComputed(pro, map[string]any{"orders_30d": float64(3)})}, true, ""},
		{"computed/below", `profile.computed.orders_30d >= 3.0`, Input{Profile: withComputed(pro, map[string]any{"orders_30d": float64(2)})}, false, ""},
		{"now/within", contract, Input{Profile: core.ProfileMap(pro), Now: t0}, true, ""},
		{"now/before", contract, Input{Profile: core.ProfileMap(pro), Now: t0.Add(-30 * 24 * time.Hour)}, false, ""},
		{"now/no-trait", contract, Input{Profile: core.ProfileMap(free), Now: t0}, false, ""},
		{"in_journey", `in_journey("cart-abandonment")`, Input{InJourney: inCart}, true, ""},
		{"in_journey/other", `in_journey("follow-up")`, Input{InJourney: inCart}, false, ""},
		{"in_journey/nil", `in_journey("cart-abandonment")`, Input{}, false, ""},
		{"in_journey/comprehension", `["a", "cart-abandonment"].exists(j, in_journey(j))`, Input{InJourney: inCart}, false, "in_journey takes"},
		{"audiences", `"vip" in profile.audiences`, Input{Profile: core.ProfileMap(&core.Profile{Audiences: map[string]core.Membership{"vip": {Member: true}}})}, true, ""},
		{"nil profile", `has(profile.traits)`, Input{}, false, ""},
		{"not bool", `profile.traits.plan`, Input{Profile: core.ProfileMap(pro)}, false, "condition must be bool, not string"},
		{"cost", `profile.traits.big.all(x, profile.traits.big.all(y, x + y >= 0.0))`, Input{Profile: map[string]any{"traits": map[string]any{"big": big}}}, false, "cost limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse("m.yaml", []byte(fmt.Sprintf("id: m\ncondition: %q\n", tc.condition)))
			if err != nil {
				if tc.err != "" && strings.Contains(err.Error(), tc.err) {
					return // refused when parsed
				}
				t.Fatal(err)
			}
			got, err := a.Match(tc.in)
			if got != tc.want {
				t.Errorf("Match = %v, want %v (err %v)", got, tc.want, err)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one with %q", err, tc.err)
			}
		})
	}
}

func TestUsesNow(t *testing.T) {
	for cond, want := range map[string]bool{
		`true`:                                  false,
		`profile.lastSeen < now`:                true,
		`[1].exists(x, now > profile.lastSeen)`: true,
		`profile.traits.now == 1`:               false,
	} {
		if a := mustParse(t, "n", cond); a.UsesNow != want {
			t.Errorf("%s: UsesNow %v, want %v", cond, a.UsesNow, want)
		}
	}
}
