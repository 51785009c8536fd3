package engine

import (
	"hash/fnv"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/machine"
)

// MaxTouches is how many recent events a View keeps.
const MaxTouches = 48

// View is a customer's committed state as the touchpoint API reads it
// from memory: published by the partition that owns the profile after
// each commit that changed it, never changed afterwards (a new commit
// publishes a new View).
type View struct {
	Profile *core.Profile // a deep copy
	// Active are the active instances (without their history), if
	// ActiveKnown; otherwise the partition did not have them in memory.
	Active      []*core.Instance
	ActiveKnown bool
	// Recent are the profile's newest applied events, newest first (at
	// most MaxTouches). They are every event applied to the profile since
	// Since (zero: since it was created) as long as fewer than
	// MaxTouches were.
	Recent []Touch
	Since  time.Time

	mapOnce sync.Once
	asMap   map[string]any
}

// ProfileMap returns core.ProfileMap of the view's profile, built once:
// callers must not change it (copy it to add keys).
func (v *View) ProfileMap() map[string]any {
	v.mapOnce.Do(func() { v.asMap = core.ProfileMap(v.Profile) })
	return v.asMap
}

// Touch is one applied event, as the touchpoint API counts interactions.
type Touch struct {
	At      time.Time
	Event   string
	Channel string
}

// Interactions returns the view's events at or after since, newest
// first, and whether that is all of them (false: read the timeline).
func (v *View) Interactions(since time.Time) ([]Touch, bool) {
	if !v.Since.IsZero() && v.Since.After(since) {
		return nil, false
	}
	n := 0
	for n < len(v.Recent) && !v.Recent[n].At.Before(since) {
		n++
	}
	// Events arrive roughly in time order; a full ring whose oldest entry
	// is still in the window may have lost some.
	if len(v.Recent) == MaxTouches && !v.Recent[len(v.Recent)-1].At.Before(since) {
		return nil, false
	}
	out := make([]Touch, 0, n)
	for _, t := range v.Recent {
		if !t.At.Before(since) {
			out = append(out, t)
		}
	}
	return out, true
}

const viewShards = 64

// views holds the published Views and an index of the identifiers seen on
// the events applied (user_id:, anonymous_id:) to their profile.
type views struct {
	limit  int // most views kept (per shard: limit/viewShards)
	shards [viewShards]viewShard
}

type viewShard struct {
	mu  sync.RWMutex
	by  map[string]*View
	ids map[string]string // identifier key -> profile id
}

func (vs *views) shard(key string) *viewShard {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &vs.shards[h.Sum32()%viewShards]
}

func (vs *views) get(id string) *View {
	s := vs.shard(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.by[id]
}

func (vs *views) put(v *View) {
	s := vs.shard(v.Profile.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = map[string]*View{}
	}
	if max := max(1, vs.limit/viewShards); len(s.by) >= max && s.by[v.Profile.ID] == nil {
		n := max/10 + 1
		for id := range s.by {
			if n--; n < 0 {
				break
			}
			delete(s.by, id)
		}
	}
	s.by[v.Profile.ID] = v
}

func (vs *views) drop(id string) {
	s := vs.shard(id)
	s.mu.Lock()
	delete(s.by, id)
	s.mu.Unlock()
}

func (vs *views) bind(key, id string) {
	s := vs.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]string{}
	}
	if max := max(1, 2*vs.limit/viewShards); len(s.ids) >= max && s.ids[key] == "" {
		n := max/10 + 1
		for k := range s.ids {
			if n--; n < 0 {
				break
			}
			delete(s.ids, k)
		}
	}
	s.ids[key] = id
}

func (vs *views) lookup(key string) string {
	s := vs.shard(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ids[key]
}

// View returns the customer's in-memory view and true, or false if the
// engine has none (the profile was not changed since start, or was
// evicted, merged away or erased): the caller reads the store then.
// An identifier key (user_id:X, anonymous_id:X) or a profile id may be
// given.
func (e *Engine) View(ref string) (*View, bool) {
	if id := e.views.lookup(ref); id != "" {
		ref = id
	}
	v := e.views.get(ref)
	return v, v != nil
}

// publish makes the views of a committed batch visible: each written
// profile with the events applied to it and its active instances.
// created are the profiles the batch made (no history before it).
func (p *partition) publish(written []*core.Profile, applied []*core.Event, customers map[string]*machine.Customer, created map[string]bool, now time.Time) {
	vs := &p.eng.views
	touches := map[string][]Touch{}
	for _, e := range applied {
		touches[e.ProfileID] = append(touches[e.ProfileID], Touch{At: e.Timestamp, Event: e.Label(), Channel: core.EventChannel(e)})
		if e.SourceID != core.InternalSource {
			if e.UserID != "" {
				vs.bind(core.KindUserID+":"+e.UserID, e.ProfileID)
			}
			if e.AnonymousID != "" {
				vs.bind(core.KindAnonymousID+":"+e.AnonymousID, e.ProfileID)
			}
		}
	}
	done := make(map[string]bool, len(written))
	for _, pr := range written {
		done[pr.ID] = true
		if pr.MergedInto != "" {
			vs.drop(pr.ID)
			continue
		}
		old := vs.get(pr.ID)
		v := &View{Profile: copyProfile(pr), Since: now}
		switch {
		case created[pr.ID]:
			v.Since = time.Time{}
		case old != nil:
			v.Since = old.Since
		}
		if c := customers[pr.ID]; c != nil {
			v.Active, v.ActiveKnown = activeCopies(c.Instances), true
		} else if created[pr.ID] {
			v.ActiveKnown = true // a new profile has no instances
		} else if old != nil {
			v.Active, v.ActiveKnown = old.Active, old.ActiveKnown
		} else if ins, ok := p.insts[pr.ID]; ok {
			v.Active, v.ActiveKnown = activeCopies(ins), true
		}
		t := touches[pr.ID]
		recent := make([]Touch, 0, min(MaxTouches, len(t)+len(v.recentOf(old))))
		for i := len(t) - 1; i >= 0 && len(recent) < MaxTouches; i-- {
			recent = append(recent, t[i])
		}
		for _, x := range v.recentOf(old) {
			if len(recent) == MaxTouches {
				break
			}
			recent = append(recent, x)
		}
		v.Recent = recent
		vs.put(v)
	}
	// Instances that changed without their profile being written.
	for id, c := range customers {
		if done[id] {
			continue
		}
		if old := vs.get(id); old != nil {
			v := &View{Profile: old.Profile, Recent: old.Recent, Since: old.Since}
			v.Active, v.ActiveKnown = activeCopies(c.Instances), true
			vs.put(v)
		}
	}
}

func (*View) recentOf(old *View) []Touch {
	if old == nil {
		return nil
	}
	return old.Recent
}

// activeCopies copies the active instances without their history.
func activeCopies(ins []*core.Instance) []*core.Instance {
	out := make([]*core.Instance, 0, len(ins))
	for _, in := range ins {
		if in.Status != core.InstanceActive {
			continue
		}
		c := *in
		c.History = nil
		c.Vars = nil
		if in.Held != nil {
			h := *in.Held
			c.Held = &h
		}
		out = append(out, &c)
	}
	return out
}

// copyProfile copies a profile deeply enough that later batches, which
// change the partition's own copy (its computed-trait state in place),
// never change it.
func copyProfile(p *core.Profile) *core.Profile {
	c := *p
	c.Traits = maps.Clone(p.Traits)
	c.Consent = maps.Clone(p.Consent)
	c.Counts = maps.Clone(p.Counts)
	c.Entered = maps.Clone(p.Entered)
	c.Audiences = maps.Clone(p.Audiences)
	c.Offers = maps.Clone(p.Offers)
	c.Engagement = maps.Clone(p.Engagement)
	c.Contacts = slices.Clone(p.Contacts)
	c.Merged = slices.Clone(p.Merged)
	if p.Timezone != nil {
		tz := *p.Timezone
		c.Timezone = &tz
	}
	if p.Computed != nil {
		cc := &core.Computed{Complete: p.Computed.Complete, Traits: make(map[string]*core.Window, len(p.Computed.Traits))}
		for k, w := range p.Computed.Traits {
			nw := &core.Window{Def: w.Def, Buckets: make([]core.Bucket, len(w.Buckets))}
			for i, b := range w.Buckets {
				b.D = slices.Clone(b.D)
				nw.Buckets[i] = b
			}
			cc.Traits[k] = nw
		}
		c.Computed = cc
	}
	return &c
}
