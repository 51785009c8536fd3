package core

// Identity resolution rules (documented in README "Identity resolution"):
//
//  1. An event belongs to the profile its userId is bound to. With an unbound
//     userId it goes to the first anonymous profile its other identifiers
//     point at, or to a new profile.
//  2. Without a userId it goes to the profile of its highest-priority bound
//     identifier (external id, email, phone, anonymousId), or a new profile.
//  3. Every other profile the event's identifiers point at is merged into the
//     event's profile, unless that would give one profile two different
//     userIds: such a profile is left alone and the clash is reported as a
//     conflict. A profile with a userId survives a merge with anonymous ones.
//  4. alias is explicit: the profile of previousId is merged into the
//     profile of userId even when both are known. An alias whose
//     previousId is already on userId's profile changes nothing (so a
//     replayed or repeated alias is harmless).
//  5. Identifiers not yet bound are bound to the surviving profile.

// Resolution is what resolving one event decided.
type Resolution struct {
	ProfileID string       // the profile the event belongs to
	Created   bool         // ProfileID is new
	Bound     []Identifier // identifiers newly bound to ProfileID
	Merged    []string     // profiles merged into ProfileID, in order
	Conflicts []Identifier // identifiers left on another known profile
}

// Graph is the loaded part of the identity index: identifier keys to
// profiles, and each loaded profile's complete set of keys. It is owned by
// one goroutine (the router); it does no I/O: the router loads what an event
// needs before calling Resolve.
type Graph struct {
	keys     map[string]string
	profiles map[string]*graphProfile
}

type graphProfile struct {
	keys  []Identifier
	users int // how many of keys are user ids
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{keys: map[string]string{}, profiles: map[string]*graphProfile{}}
}

// Len returns the number of loaded profiles.
func (g *Graph) Len() int { return len(g.profiles) }

// Lookup returns the profile a key is bound to, if loaded.
func (g *Graph) Lookup(key string) (string, bool) {
	p, ok := g.keys[key]
	return p, ok
}

// HasProfile reports whether a profile's keys are loaded.
func (g *Graph) HasProfile(id string) bool { _, ok := g.profiles[id]; return ok }

// Load adds a profile and all its identifiers, as read from the store.
func (g *Graph) Load(profileID string, ids []Identifier) {
	if old := g.profiles[profileID]; old != nil {
		g.Forget(profileID)
	}
	gp := &graphProfile{}
	g.profiles[profileID] = gp
	for _, id := range ids {
		g.bind(profileID, gp, id)
	}
}

// Keys returns the identifiers bound to a loaded profile.
func (g *Graph) Keys(profileID string) []Identifier {
	if gp := g.profiles[profileID]; gp != nil {
		return append([]Identifier(nil), gp.keys...)
	}
	return nil
}

// Forget drops a profile and its keys from the graph (eviction or erasure).
func (g *Graph) Forget(profileID string) {
	gp := g.profiles[profileID]
	if gp == nil {
		return
	}
	for _, id := range gp.keys {
		if g.keys[id.Key()] == profileID {
			delete(g.keys, id.Key())
		}
	}
	delete(g.profiles, profileID)
}

// Evict forgets up to n profiles, chosen by map order, except keep.
func (g *Graph) Evict(n int, keep map[string]bool) {
	for id := range g.profiles {
		if n <= 0 {
			return
		}
		if keep[id] {
			continue
		}
		g.Forget(id)
		n--
	}
}

func (g *Graph) bind(profileID string, gp *graphProfile, id Identifier) {
	g.keys[id.Key()] = profileID
	gp.keys = append(gp.keys, id)
	if id.Kind == KindUserID {
		gp.users++
	}
}

func (g *Graph) users(profileID string) map[string]bool {
	gp := g.profiles[profileID]
	if gp == nil || gp.users == 0 {
		return nil
	}
	m := make(map[string]bool, gp.users)
	for _, id := range gp.keys {
		if id.Kind == KindUserID {
			m[id.Value] = true
		}
	}
	return m
}

// AliasKeys are the identifiers an alias's previousId may be bound as.
func AliasKeys(e *Event) []Identifier {
	if e.Type != TypeAlias || e.PreviousID == "" {
		return nil
	}
	return []Identifier{{KindUserID, e.PreviousID}, {KindAnonymousID, e.PreviousID}}
}

// Resolve applies the rules above to one event. Every identifier of the
// event (ids, plus AliasKeys) must have been looked up and every profile
// they point at loaded; newID makes a fresh profile id.
func (g *Graph) Resolve(ids []Identifier, alias []Identifier, userID string, newID func() string) Resolution {
	if len(alias) > 0 && userID != "" {
		// An alias already carried out (one of previousId's keys is on
		// userId's profile) changes nothing more: replaying or repeating
		// it must not merge a profile that previousId's other key (user
		// or anonymous) has gained since.
		if t, ok := g.keys[Identifier{KindUserID, userID}.Key()]; ok {
			for _, id := range alias {
				if p, ok := g.keys[id.Key()]; ok && p == t {
					alias = nil
					break
				}
			}
		}
	}
	var found, explicit []string
	seen := map[string]bool{}
	for _, id := range ids {
		if p, ok := g.keys[id.Key()]; ok && !seen[p] {
			seen[p] = true
			found = append(found, p)
		}
	}
	aliasBound := false
	for _, id := range alias {
		if p, ok := g.keys[id.Key()]; ok {
			aliasBound = true
			if !seen[p] {
				seen[p] = true
				explicit = append(explicit, p)
			}
		}
	}

	var res Resolution
	target := ""
	if userID != "" {
		if p, ok := g.keys[Identifier{KindUserID, userID}.Key()]; ok {
			target = p
		} else {
			for _, p := range append(found, explicit...) {
				if g.profiles[p].users == 0 {
					target = p
					break
				}
			}
		}
	} else if len(found) > 0 {
		target = found[0]
	}
	if target == "" {
		target = newID()
		g.profiles[target] = &graphProfile{}
		res.Created = true
	}

	// Decide who joins the target; combine their user ids as we go.
	known := g.users(target)
	if known == nil {
		known = map[string]bool{}
	}
	if userID != "" {
		known[userID] = true
	}
	group := []string{target}
	consider := func(p string, forced bool) {
		if p == target {
			return
		}
		us := g.users(p)
		ok := forced || len(us) == 0 || len(known) == 0
		if !ok {
			ok = true
			for u := range us {
				if !known[u] {
					ok = false
					break
				}
			}
		}
		if !ok {
			return
		}
		for u := range us {
			known[u] = true
		}
		group = append(group, p)
	}
	for _, p := range found {
		consider(p, false)
	}
	for _, p := range explicit {
		consider(p, true)
	}

	// The survivor is the first member with a user id, else the target.
	survivor := target
	if g.profiles[target].users == 0 {
		for _, p := range group[1:] {
			if g.profiles[p].users > 0 {
				survivor = p
				break
			}
		}
	}
	if survivor != target && res.Created {
		// A fresh profile is never kept when a known one survives.
		delete(g.profiles, target)
		group = group[1:]
		res.Created = false
	}
	sp := g.profiles[survivor]
	for _, p := range group {
		if p == survivor {
			continue
		}
		for _, id := range g.profiles[p].keys {
			g.bind(survivor, sp, id)
		}
		delete(g.profiles, p)
		res.Merged = append(res.Merged, p)
	}

	bindNew := func(id Identifier) {
		if p, ok := g.keys[id.Key()]; ok {
			if p != survivor {
				res.Conflicts = append(res.Conflicts, id)
			}
			return
		}
		g.bind(survivor, sp, id)
		res.Bound = append(res.Bound, id)
	}
	for _, id := range ids {
		bindNew(id)
	}
	if len(alias) > 0 && !aliasBound {
		bindNew(alias[1]) // an unknown previousId is remembered as an anonymous id
	}
	res.ProfileID = survivor
	return res
}
