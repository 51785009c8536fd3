package touchpoint_test

import (
	"fmt"
	"time"

	"github.com/overture-cjo/overture/internal/touchpoint"
)

func Example() {
	p, err := touchpoint.Parse("routing.yaml", []byte(`
id: contact-centre
interaction_window: 1h
value_tiers:
  - {name: high, description: lifetime value of 10000 or more, when: 'double(profile.traits.lifetime_value) >= 10000.0'}
rules:
  - id: transfer-priority-agent
    description: High-value customer stuck in a money transfer goes straight to a priority agent
    touchpoints: [ivr, chat]
    when: 'tier == "high" && in_journey("money-transfer") && interactions.web > 0 && interactions.ivr > 0'
    action: {type: route, target: priority_agent, skip_bot: true}
    priority: 100
    reason: used web and IVR in the last hour during a money transfer
  - id: default-bot
    description: everyone else starts with the virtual assistant
    touchpoints: [ivr, chat]
    when: 'true'
    action: {type: route, target: virtual_assistant}
    priority: 0
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := touchpoint.NewSet([]*touchpoint.Policy{p})
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	fmt.Println("count interactions since", now.Add(-set.Window()).Format(time.Kitchen))

	in := touchpoint.Input{
		Profile:      map[string]any{"traits": map[string]any{"lifetime_value": 25000}},
		Touchpoint:   "ivr",
		Interactions: map[string]int{"web": 2, "ivr": 1}, // since now - set.Window()
		Journeys:     []touchpoint.Journey{{ID: "money-transfer", Step: "confirm", EnteredAt: now.Add(-20 * time.Minute)}},
		Now:          now,
	}
	r := set.Evaluate(in)
	fmt.Printf("tier %s (%s)\n", r.Tier, r.TierReason)
	for _, a := range r.Actions {
		fmt.Printf("%d %s %s skip_bot=%v: %s\n", a.Priority, a.Type, a.Target, a.SkipBot, a.Reason)
	}

	// Without the IVR call, the bot answers first.
	in.Interactions = map[string]int{"web": 2}
	fmt.Println("first:", set.Evaluate(in).Actions[0].Target)
	// Output:
	// count interactions since 11:00AM
	// tier high (lifetime value of 10000 or more)
	// 100 route priority_agent skip_bot=true: used web and IVR in the last hour during a money transfer
	// 0 route virtual_assistant skip_bot=false: everyone else starts with the virtual assistant
	// first: virtual_assistant
}
