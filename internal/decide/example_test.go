package decide_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/overture-cjo/overture/internal/decide"
)

func Example() {
	renewal, err := decide.Parse("renewal-discount.yaml", []byte(`
id: renewal-discount
category: retention
eligibility: 'profile.traits.plan == "postpaid"'
value: 120
channels: [email, sms]
cool_off: 3d
explore: false
prior: {alpha: 1, beta: 19}
context: 'profile.traits.segment'
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	addon, _ := decide.Parse("data-addon.yaml", []byte(`
id: data-addon
category: upsell
value: 15
explore: false
`))
	set, _ := decide.NewSet([]*decide.Offer{renewal, addon})

	// What the workers learnt: gold customers accept the renewal 1 time in
	// 10, the add-on 3 times in 10.
	model := decide.NewModel()
	model.Add("renewal-discount", "gold", 180, 19)
	model.Add("data-addon", "", 198, 59)

	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	in := decide.Input{
		Profile: map[string]any{"traits": map[string]any{"plan": "postpaid", "segment": "gold"}},
		Channel: "sms",
		Now:     now,
		Rand:    rand.New(rand.NewPCG(1, 2)),
	}
	for _, r := range set.Rank(in, model) {
		fmt.Println(r.Rank, r.Offer.ID+":", r.Reason)
	}

	// Seen yesterday: in cool-off.
	in.Seen = map[string]decide.Seen{"renewal-discount": {Impressions: 1, Last: now.Add(-24 * time.Hour)}}
	best, _ := set.Best(in, model)
	fmt.Println("best:", best.Offer.ID)
	fmt.Println(set.Rank(in, model)[1].Reason)

	// Channel: one open of one push is no proof against email's record.
	c := decide.ChooseChannel(decide.ChannelInput{
		Candidates: []string{"push", "email"},
		Own:        map[string]decide.Engagement{"push": {Delivered: 1, Engaged: 1}},
		Population: map[string]decide.Engagement{"push": {Delivered: 5000, Engaged: 400}, "email": {Delivered: 9000, Engaged: 2700}},
	})
	fmt.Println(c.Channel+":", c.Reason)
	// Output:
	// 1 renewal-discount: rank 1 of 2: score 12 = propensity 0.1 (posterior mean of Beta(20, 180): 19 conversions in 180 impressions, bucket "gold") × value 120 × weight 1
	// 2 data-addon: rank 2 of 2: score 4.5 = propensity 0.3 (posterior mean of Beta(60, 140): 59 conversions in 198 impressions) × value 15 × weight 1; below renewal-discount (score 12)
	// best: data-addon
	// in cool-off until 2025-03-03T12:00:00Z (3d after the last impression)
	// email: highest engagement: email 0.3 (0 of 0 own, population 0.3) over push 0.12 (1 of 1 own, population 0.08)
}
