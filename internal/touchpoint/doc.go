// Package touchpoint defines interaction policies: the rules that answer a
// touchpoint (chat, ivr, web, app or agent) asking "who is this and what
// should we do next?" with the customer's value tier and ranked
// recommendations: route to a queue (perhaps skipping the bot), make an
// offer, show a message, or make no offers.
//
// One policy is one file (YAML or JSON; schema/interaction.schema.json
// describes it):
//
//	id: contact-centre
//	interaction_window: 1h        # how far back interactions counts (default 1h; 7d works too)
//	value_tiers:                  # first match wins; anyone else is "standard"
//	  - {name: high, when: 'double(profile.traits.lifetime_value) >= 10000.0'}
//	  - {name: medium, when: 'double(profile.traits.lifetime_value) >= 1000.0'}
//	rules:
//	  - id: transfer-priority-agent
//	    description: High-value customer stuck in a money transfer goes straight to a priority agent
//	    touchpoints: [ivr, chat]  # default: all five
//	    when: 'tier == "high" && in_journey("money-transfer") && interactions.web > 0 && interactions.ivr > 0'
//	    action: {type: route, target: priority_agent, skip_bot: true}
//	    priority: 100             # 0..1000, default 50; higher first
//	    reason: used web and IVR in the last hour during a money transfer
//
// The action types are route (target: a queue, team or bot flow; skip_bot
// bypasses the bot or IVR menus), offer (target: an offer), message
// (target: a message) and suppress_offers (no target), each with optional
// string params for the touchpoint.
//
// The package is pure: apart from Load reading files, no I/O, no clock
// reads and no goroutines. The request, its time included, is an Input,
// so a server and a simulator answer the same way.
//
// # Sets of policies
//
// The files of a directory form one Set (NewSet; Load checks the same
// things). Policy ids and rule ids are unique across the files. The value
// tiers are one list, declared by at most one policy of the set; the
// policies that set interaction_window must agree on it, since the caller
// counts a request's interactions once, over Set.Window. A rule comparing
// tier with a string literal (==, != or in a list) must name a declared
// tier or "standard".
//
// # Conditions
//
// Conditions (`when`) are CEL of type bool, compiled once when the policy
// is parsed and evaluated with a cost limit (CostLimit), over:
//
//	profile       map: core.ProfileMap of the profile plus "computed"
//	tier          string: the value tier (rules only: a tier's own condition cannot read it)
//	touchpoint    string: chat, ivr, web, app or agent
//	context       map: whatever the touchpoint sent with the request
//	interactions  map(string, int): interactions per channel over the window
//	journeys      list of maps {id, step, category, entered_at}: active journey instances
//	now           timestamp: the time of the request
//	in_journey(journey)       bool: the customer has an active instance of the journey
//	in_step(journey, step)    bool: ... and it is at that step
//
// Every channel name is present in interactions, with the count given or
// 0, so interactions.web > 0 needs no has() and works for channels of any
// name; iteration and size() see InteractionChannels and the channels
// given. in_journey and in_step are declared with a late binding: their
// implementations, closed over the request, are supplied with each
// evaluation's variables, so one compiled program serves every request.
// Their arguments must be string literals, so the journeys a policy
// depends on are known (Rule.Journeys) and can be checked against the
// journeys defined (Policy.CheckJourneys).
//
// A condition that fails to evaluate (a missing profile field, a wrong
// type, the cost limit) does not match; Evaluate reports its error in
// Result.Errors instead of failing the request.
//
// # Ranking
//
// Evaluate tries the rules for the request's touchpoint from the highest
// priority down (equal priorities by rule id) and returns the action of
// each that matches, in that order: the first is the recommendation, the
// others alternatives. A suppress_offers action drops the offer actions
// ranked below it. Each action carries its reason: the rule's reason, else
// its description, else its condition.
package touchpoint
