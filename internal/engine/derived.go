package engine

import (
	"context"
	"time"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/machine"
)

// This file holds what partitions derive from a profile beyond the
// journeys: computed traits (kept in the profile, backfilled from its
// timeline when a trait is new to it) and audience memberships (re-evaluated
// when the profile changes, their events emitted through the log).

// SetTraits makes the partitions maintain a set of computed traits from
// the next batch on. A profile whose state lacks one of them (a trait added
// or changed since it was last touched) is backfilled from its timeline the
// next time a partition loads it; Backfill walks every profile to do so
// without waiting for their next event.
func (e *Engine) SetTraits(s *computed.Set) {
	old := e.traits.Swap(s)
	known := map[string]bool{}
	if old != nil {
		for _, t := range old.Traits {
			known[t.Source()] = true
		}
	}
	grown := false
	if s != nil {
		for _, t := range s.Traits {
			grown = grown || !known[t.Source()]
		}
	}
	e.jobsMu.Lock()
	ctx := e.runCtx
	e.jobsMu.Unlock()
	if grown && ctx != nil {
		e.Backfill(ctx)
	}
}

// SetAudiences sets the audiences whose memberships the partitions keep.
func (e *Engine) SetAudiences(s *audience.Set) { e.audiences.Store(s) }

// touchInput asks a partition to load profiles (backfilling their computed
// traits) and re-evaluate their audiences; with an audience set, that
// audience too (realtime or not) and, with every, to emit
// audience_refreshed for each member.
type touchInput struct {
	ids      []string
	audience string
	every    bool
	done     chan touchResult
}

// touchResult is what a touch changed, sent once its batch committed.
type touchResult struct {
	in              *touchInput
	entered, exited int64 // memberships of in.audience
	refreshed       int64 // audience_refreshed events
}

// usesJourneys reports whether any audience calls in_journey (the
// partition then loads instances even with no journeys running).
func usesJourneys(s *audience.Set) bool {
	if s == nil {
		return false
	}
	for _, a := range s.List() {
		if a.UsesJourneys {
			return true
		}
	}
	return false
}

// backfillEvents loads the recent timeline of the loaded profiles that
// lack one of the traits' windows.
func (p *partition) backfillEvents(ctx context.Context, traits *computed.Set, profiles map[string]*core.Profile, now time.Time) (map[string][]*core.Event, error) {
	if traits == nil {
		return nil, nil
	}
	var need []string
	for id, pr := range profiles {
		if pr.MergedInto == "" && len(traits.Missing(pr.Computed)) > 0 {
			need = append(need, id)
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	past, err := p.eng.store.ProfileEvents(ctx, need, traits.Since(now))
	if err != nil {
		return nil, err
	}
	for id, evs := range past {
		own := evs[:0]
		for _, e := range evs {
			if e.SourceID != core.InternalSource {
				own = append(own, e) // audience events do not count in traits
			}
		}
		past[id] = own
	}
	p.eng.backfilled.Add(int64(len(need)))
	return past, nil
}

// absorb merges from into into, computed traits included. A trait one of
// the two had not built yet is dropped from the result, so it is
// backfilled from the merged timeline the next time into is loaded.
func absorb(traits *computed.Set, into, from *core.Profile) {
	var drop []string
	if traits != nil {
		for _, pr := range []*core.Profile{into, from} {
			for _, t := range traits.Missing(pr.Computed) {
				drop = append(drop, t.Name)
			}
		}
	}
	into.Absorb(from)
	for _, name := range drop {
		if into.Computed != nil {
			delete(into.Computed.Traits, name)
			into.Computed.Complete = 0 // Missing must look again
		}
	}
}

// evaluate re-evaluates the audiences of the batch's changed profiles (and
// of those its touch inputs name), adding membership changes and the
// events to emit to c. It returns the touch inputs' results.
func (p *partition) evaluate(auds *audience.Set, traits *computed.Set, run []input, working map[string]*core.Profile,
	dirty map[string]bool, customers map[string]*machine.Customer, instances map[string][]*core.Instance, now time.Time, c *core.PartitionCommit) []touchResult {
	touches := touchesOf(run)
	if auds == nil || len(auds.List()) == 0 && !anyMemberships(working) {
		return results(touches)
	}
	// Which audiences to evaluate for whom: realtime ones for every
	// changed profile, a refreshed one for those its touch names.
	extra := map[string][]string{}
	for _, t := range touches {
		if t.audience != "" {
			for _, id := range t.ids {
				extra[id] = append(extra[id], t.audience)
			}
		}
	}
	ids := make([]string, 0, len(dirty)+len(extra))
	for id := range dirty {
		ids = append(ids, id)
	}
	for id := range customers {
		if !dirty[id] {
			ids = append(ids, id)
		}
	}
	for id := range extra {
		if !dirty[id] && customers[id] == nil {
			ids = append(ids, id)
		}
	}
	entered := map[string]map[string]bool{} // audience -> profiles that entered it here
	exited := map[string]map[string]bool{}
	note := func(m map[string]map[string]bool, aud, id string) {
		if m[aud] == nil {
			m[aud] = map[string]bool{}
		}
		m[aud][id] = true
	}
	realtime := false
	for _, a := range auds.List() {
		realtime = realtime || a.Realtime
	}
	for _, id := range ids {
		pr := working[id]
		if pr == nil {
			continue
		}
		changes := auds.Drop(pr, func(a string) bool { return auds.Get(a) != nil }, now)
		if realtime || len(extra[id]) > 0 { // else skip building the profile's view
			in := audience.Input{Profile: core.ProfileMap(pr), Now: now, InJourney: inJourney(customers[id], instances[id])}
			in.Profile["computed"] = map[string]any{}
			if traits != nil && pr.Computed != nil {
				in.Profile["computed"] = traits.Values(pr.Computed, now)
			}
			ch, evs := auds.Evaluate(pr, in, nil, now)
			changes = append(changes, ch...)
			c.Emits = append(c.Emits, evs...)
			if len(extra[id]) > 0 {
				ch, evs := auds.Evaluate(pr, in, extra[id], now)
				changes = append(changes, ch...)
				c.Emits = append(c.Emits, evs...)
			}
		}
		for _, x := range changes {
			if x.Member {
				note(entered, x.Audience, x.ProfileID)
			} else {
				note(exited, x.Audience, x.ProfileID)
			}
		}
		if len(changes) > 0 {
			dirty[id] = true
			c.Members = append(c.Members, changes...)
		}
	}
	out := make([]touchResult, 0, len(touches))
	for _, t := range touches {
		r := touchResult{in: t}
		if t.audience != "" {
			for _, id := range t.ids {
				if entered[t.audience][id] {
					r.entered++
				}
				if exited[t.audience][id] {
					r.exited++
				}
				if t.every {
					if pr := working[id]; pr != nil {
						if ev := auds.Refreshed(pr, t.audience, now); ev != nil {
							c.Emits = append(c.Emits, ev)
							r.refreshed++
						}
					}
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// touchesOf returns a run's touch inputs.
func touchesOf(run []input) []*touchInput {
	var out []*touchInput
	for _, in := range run {
		if in.touch != nil {
			out = append(out, in.touch)
		}
	}
	return out
}

// results are empty results for touches: every touch gets one, so that
// its sender learns its batch committed.
func results(touches []*touchInput) []touchResult {
	out := make([]touchResult, len(touches))
	for i, t := range touches {
		out[i] = touchResult{in: t}
	}
	return out
}

// anyMemberships reports whether a profile among ps is in an audience (so
// that deleting the last audience still empties it).
func anyMemberships(ps map[string]*core.Profile) bool {
	for _, pr := range ps {
		for _, m := range pr.Audiences {
			if m.Member {
				return true
			}
		}
	}
	return false
}

// inJourney answers in_journey for a customer: does it have an active
// instance of the journey, after this batch (c) or as committed.
func inJourney(c *machine.Customer, committed []*core.Instance) func(string) bool {
	return func(id string) bool {
		list := committed
		if c != nil {
			list = c.Instances
		}
		for _, in := range list {
			if in.JourneyID == id && in.Status == core.InstanceActive {
				return true
			}
		}
		return false
	}
}

// Traits returns the computed traits the partitions maintain, or nil.
func (e *Engine) Traits() *computed.Set { return e.traits.Load() }
