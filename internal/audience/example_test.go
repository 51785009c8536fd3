package audience_test

import (
	"fmt"
	"time"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/core"
)

func Example() {
	a, err := audience.Parse("vip.yaml", []byte(`
id: vip
name: VIP customers
condition: 'profile.traits.plan == "pro" && !in_journey("cart-abandonment")'
schedule: "@daily"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	set, _ := audience.NewSet([]*audience.Audience{a})
	fmt.Println("journeys:", a.Journeys, "next refresh:", a.Next(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)))

	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	p := core.NewProfile("p1", now)
	p.SetTrait("plan", []byte(`"pro"`), now)
	in := audience.Input{InJourney: func(id string) bool { return false }}

	_, events := set.Evaluate(p, in, nil, now)
	for _, e := range events {
		fmt.Println(e.Event, e.MessageID, string(e.Properties))
	}
	// Evaluating again changes nothing.
	changes, _ := set.Evaluate(p, in, nil, now.Add(time.Minute))
	fmt.Println("changes:", len(changes))

	// Entering the journey leaves the audience.
	in.InJourney = func(id string) bool { return id == "cart-abandonment" }
	changes, events = set.Evaluate(p, in, nil, now.Add(time.Hour))
	fmt.Println(changes[0].Member, events[0].Event, events[0].MessageID)
	// Output:
	// journeys: [cart-abandonment] next refresh: 2024-05-02 00:00:00 +0000 UTC
	// audience_entered audience:vip:p1:entered:1 {"audience":"vip","name":"VIP customers"}
	// changes: 0
	// false audience_exited audience:vip:p1:exited:1
}
