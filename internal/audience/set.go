package audience

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// Set is an immutable set of compiled audiences by id, safe for concurrent
// use. It holds the membership rules shared by the engine and the
// simulator.
type Set struct {
	byID     map[string]*Audience
	list     []*Audience // by id
	realtime []*Audience // the realtime ones, by id
}

// NewSet returns the set of auds, which must come from Parse or Load and
// have distinct ids.
func NewSet(auds []*Audience) (*Set, error) {
	s := &Set{byID: make(map[string]*Audience, len(auds))}
	for _, a := range auds {
		if a == nil || a.program == nil {
			return nil, fmt.Errorf("audience: NewSet needs audiences made by Parse")
		}
		if _, dup := s.byID[a.ID]; dup {
			return nil, fmt.Errorf("audience: duplicate audience id %q", a.ID)
		}
		s.byID[a.ID] = a
		s.list = append(s.list, a)
	}
	slices.SortFunc(s.list, func(a, b *Audience) int { return strings.Compare(a.ID, b.ID) })
	for _, a := range s.list {
		if a.Realtime {
			s.realtime = append(s.realtime, a)
		}
	}
	return s, nil
}

// Get returns the audience with the id, or nil.
func (s *Set) Get(id string) *Audience { return s.byID[id] }

// List returns the audiences sorted by id. The caller must not change the
// slice.
func (s *Set) List() []*Audience { return s.list }

// Evaluate matches profile p against the audiences named by ids (nil: every
// realtime audience; unknown ids are skipped), in id order, and records
// every change of membership in p.Audiences: entering sets Member, Since
// to now and adds one to Entries; leaving clears Member and sets Since.
// For each change it returns a MemberChange and the audience_entered or
// audience_exited event to append to p's timeline (see the package
// documentation for their MessageIDs).
//
// Every audience sees the same input, the profile as it was before this
// call: in.Profile, or core.ProfileMap(p) if it is nil (without computed
// traits); in.Now, or now if it is zero. A condition that fails to
// evaluate does not match (call Match for the error).
//
// A merge tombstone (p.MergedInto set) is never a member: its memberships
// end with a MemberChange and no event, since its timeline has moved to
// the profile it was merged into.
func (s *Set) Evaluate(p *core.Profile, in Input, ids []string, now time.Time) (changes []core.MemberChange, events []*core.Event) {
	tombstone := p.MergedInto != ""
	if in.Profile == nil && !tombstone {
		in.Profile = core.ProfileMap(p)
	}
	if in.Now.IsZero() {
		in.Now = now
	}
	for _, a := range s.pick(ids) {
		cur := p.Audiences[a.ID]
		match := false
		if !tombstone {
			match, _ = a.Match(in)
		}
		if match == cur.Member {
			continue
		}
		cur.Member, cur.Since = match, now
		kind, typ := "exited", core.EventAudienceExited
		if match {
			cur.Entries++
			kind, typ = "entered", core.EventAudienceEntered
		}
		if p.Audiences == nil {
			p.Audiences = map[string]core.Membership{}
		}
		p.Audiences[a.ID] = cur
		changes = append(changes, core.MemberChange{Audience: a.ID, ProfileID: p.ID, Member: match, Since: now})
		if !tombstone {
			events = append(events, a.event(p.ID, typ, kind+":"+strconv.Itoa(cur.Entries), now))
		}
	}
	return changes, events
}

// pick returns the audiences named by ids, sorted and each once; nil ids
// pick the realtime ones.
func (s *Set) pick(ids []string) []*Audience {
	if ids == nil {
		return s.realtime
	}
	var out []*Audience
	for _, id := range ids {
		if a := s.byID[id]; a != nil && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *Audience) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Refreshed returns the audience_refreshed event of audience id for p at
// now if p is a member of it, or nil (also for an id not in the set and a
// merge tombstone). Its MessageID ends in now's Unix nanoseconds, so
// refreshes at the same instant collapse into one.
func (s *Set) Refreshed(p *core.Profile, id string, now time.Time) *core.Event {
	a := s.byID[id]
	if a == nil || p.MergedInto != "" || !p.Audiences[id].Member {
		return nil
	}
	return a.event(p.ID, core.EventAudienceRefreshed, "refreshed:"+strconv.FormatInt(now.UnixNano(), 10), now)
}

// Drop ends p's memberships of audiences that are no longer defined:
// neither in s nor, if known is not nil, known to it (say, defined but
// failing to compile). Each ends with a MemberChange and no event. The
// memberships stay in p.Audiences, not a member, keeping their Entries, so
// that an audience defined again with the same id does not reuse the
// MessageIDs of earlier entries. Changes are in id order.
func (s *Set) Drop(p *core.Profile, known func(id string) bool, now time.Time) []core.MemberChange {
	var ids []string
	for id, m := range p.Audiences {
		if m.Member && s.byID[id] == nil && (known == nil || !known(id)) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var changes []core.MemberChange
	for _, id := range ids {
		m := p.Audiences[id]
		m.Member, m.Since = false, now
		p.Audiences[id] = m
		changes = append(changes, core.MemberChange{Audience: id, ProfileID: p.ID, Member: false, Since: now})
	}
	return changes
}

// event builds an audience event for profile id; its MessageID is
// audience:<id>:<profile>:<suffix>.
func (a *Audience) event(profileID, typ, suffix string, now time.Time) *core.Event {
	name := a.Name
	if name == "" {
		name = a.ID
	}
	props, _ := json.Marshal(struct {
		Audience string `json:"audience"`
		Name     string `json:"name"`
	}{a.ID, name})
	return &core.Event{
		SourceID:   core.InternalSource,
		MessageID:  "audience:" + a.ID + ":" + profileID + ":" + suffix,
		Type:       core.TypeTrack,
		Event:      typ,
		Timestamp:  now,
		ReceivedAt: now,
		Properties: props,
		ProfileID:  profileID,
	}
}
