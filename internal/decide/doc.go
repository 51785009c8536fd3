// Package decide chooses what to say and where: the next best offer for a
// customer, learnt from how offers convert, and the channel to reach them
// on.
//
// One offer is one file (YAML or JSON; schema/offer.schema.json describes
// it):
//
//	id: renewal-discount
//	name: 20% off a 24-month renewal
//	category: retention               # what the contact policy caps by
//	eligibility: 'profile.traits.plan == "postpaid" && profile.computed.months_left < 3'
//	value: 120                        # the business value of a conversion
//	weight: 1                         # a business lever on the score (default 1)
//	channels: [email, sms, app]       # default: any channel
//	cool_off: 3d                      # not shown again within 3 days of an impression
//	max_impressions: 3                # per customer (default: no limit)
//	explore: true                     # Thompson sampling (default); false: the posterior mean
//	prior: {alpha: 1, beta: 19}       # Beta prior of the conversion rate (default {1, 1})
//	context: 'profile.traits.segment' # one posterior per value (the bucket)
//	outcome: {events: [offer_accepted, offer_converted], within: 7d}
//
// The package is pure: apart from Load reading files, no I/O, no clock
// reads and no goroutines. Time comes in with the Input, and randomness
// from the caller's source, so the engine and the simulator decide the
// same way, and a seeded source makes a decision reproducible.
//
// # Expressions
//
// The eligibility condition (CEL of type bool) and the context
// expression (CEL giving a string, or another scalar formatted as one)
// see `profile` (core.ProfileMap plus "computed"), `context` (at a
// touchpoint: the request's context plus "touchpoint" and "channel"; in a
// journey's send step: "journey", "step" and, unless `best`, "channel")
// and `now` (a timestamp). They are
// compiled once, by Parse, and run under CostLimit. A condition that
// fails makes the offer not eligible; a context expression that fails or
// gives null puts the customer in bucket "".
//
// # Ranking
//
// Set.Rank drops the offers a customer may not get now (wrong channel,
// max impressions reached, in cool-off, eligibility false or failing) and
// ranks the rest by
//
//	score = propensity × value × weight
//
// where propensity is a draw from the Beta posterior of the offer's
// conversion rate in the customer's bucket (Thompson sampling), or its
// mean when the offer does not explore. The posterior is Beta(α + s,
// β + n − s) for the offer's prior Beta(α, β) and the Model's n
// impressions and s conversions. Thompson sampling shows an offer about
// as often as it is likely to be the best, so uncertain offers get tried
// and proven ones exploited, and its regret grows as log T. Every Ranked
// carries a Reason detailed enough for a decision log to answer "why this
// offer and not that one".
//
// The Model is the only mutable state: counts per (offer, bucket), safe
// for concurrent use, fed by whoever sees impressions and conversions
// (Offer.Converts tells which events convert), and saved and restored
// with Snapshot and Load.
//
// # Channel choice
//
// ChooseChannel picks, among the consented candidates, the customer's
// stated preference, or else the channel with the highest engagement
// rate, the customer's own record shrunk towards the population's (a Beta
// prior worth Strength deliveries), so that one lucky open does not
// outweigh what the population has proven.
package decide
