// Package audience defines audiences: named sets of customers given by a CEL
// condition over their profile, kept up to date as profiles change
// (realtime) and on a schedule, and exported with some of their traits.
//
// One audience is one file (YAML or JSON; schema/audience.schema.json
// describes it):
//
//	id: contract-ending
//	name: Contract ends within 30 days
//	condition: 'has(profile.traits.contract_end) && timestamp(profile.traits.contract_end) - now <= duration("720h")'
//	schedule: "0 6 * * *"   # optional: cron (5 fields, or @daily, @every 1h...), in UTC
//	realtime: true          # the default: re-evaluated whenever the profile changes
//	activation:
//	  traits: [email, first_name]
//	  webhook: {url: https://example.com/hook, secret_env: AUDIENCE_HOOK_SECRET}
//
// The package is pure: apart from Load reading files, no I/O and no clock
// reads. Time is passed in, so the engine and the simulator decide
// membership the same way.
//
// # Conditions
//
// A condition is CEL of type bool over `profile` (core.ProfileMap plus
// "computed", the computed traits' values), `now` (a timestamp) and the
// function in_journey(id), true when the customer has an active instance
// of journey id. in_journey is declared with a late binding: its
// implementation, closed over the customer at hand (Input.InJourney), is
// supplied with each evaluation's variables, so one compiled program
// serves every customer. Its argument must be a string literal, so the
// journeys an audience depends on are known (Audience.Journeys) and
// checked against the journeys defined (Audience.CheckJourneys). A
// condition that fails to evaluate does not match.
//
// # Membership and its events
//
// A profile's memberships are core.Profile.Audiences. Set.Evaluate turns a
// match that differs from the recorded membership into a change of it and
// an event on the profile's timeline, audience_entered or audience_exited
// (track events from core.InternalSource, properties {"audience", "name"}).
// Their MessageIDs are deterministic:
//
//	audience:<id>:<profile>:entered:<n>
//	audience:<id>:<profile>:exited:<n>
//
// where n is the Entries number of the membership entered or left, so
// evaluating again from the same committed state gives the same events,
// which the store deduplicates. A member at a refresh gets
// audience_refreshed, audience:<id>:<profile>:refreshed:<unix nanos>.
package audience
