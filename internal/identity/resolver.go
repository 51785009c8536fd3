// Package identity is the second stage of the data path: it maps each
// event's identifiers to one canonical profile, creating profiles and
// merging them by the rules of core.Graph, and makes those decisions
// durable before the event moves on.
package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"

	"github.com/overture-cjo/overture/internal/core"
)

// Store is the part of core.Store the resolver uses.
type Store interface {
	LookupIdentities(ctx context.Context, keys []string) (map[string]string, error)
	IdentitiesOf(ctx context.Context, profileIDs []string) (map[string][]core.Identifier, error)
	CommitIdentities(ctx context.Context, ops []core.IdentityOp) error
}

// Resolved is one event after resolution.
type Resolved struct {
	Event  *core.Event
	Facts  core.Facts
	Merges []core.Merge // merges this event caused, to carry out before it
}

// Resolver owns the identity graph. It is used by one goroutine.
type Resolver struct {
	store    Store
	graph    *core.Graph
	maxCache int
	NewID    func() string // makes profile ids; random by default

	merges, conflicts, created atomic.Int64
}

// NewResolver returns a resolver that keeps up to maxCache profiles' keys in
// memory.
func NewResolver(s Store, maxCache int) *Resolver {
	return &Resolver{store: s, graph: core.NewGraph(), maxCache: maxCache, NewID: NewProfileID}
}

// NewProfileID returns a new profile id: a random prefix drawn once per
// process, then a counter. IDs made by one process sort in the order they
// were made, so the rows keyed by them (profiles, their timeline index,
// journey instances, outbox keys) are inserted next to each other in the
// B-trees instead of at random places, which dirties far fewer pages per
// transaction. The 64-bit prefix keeps ids from different runs apart.
func NewProfileID() string {
	n := idCounter.Add(1)
	var b [2 + 16 + 12]byte
	copy(b[:], "p_")
	hex.Encode(b[2:18], idPrefix[:])
	const digits = "0123456789abcdef"
	for i := len(b) - 1; i >= 18; i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	return string(b[:])
}

var (
	idPrefix  = func() (p [8]byte) { _, _ = rand.Read(p[:]); return p }()
	idCounter atomic.Uint64
)

// Resolve assigns every event its ProfileID, commits the identity changes
// durably, and returns the events with their facts and merges.
func (r *Resolver) Resolve(ctx context.Context, events []*core.Event) ([]Resolved, error) {
	out := make([]Resolved, len(events))
	ids := make([][]core.Identifier, len(events))
	var missing []string
	seen := map[string]bool{}
	for i, e := range events {
		out[i].Event = e
		out[i].Facts = core.DeriveFacts(e)
		ids[i] = core.Identifiers(e, &out[i].Facts)
		for _, id := range append(ids[i], core.AliasKeys(e)...) {
			k := id.Key()
			if _, ok := r.graph.Lookup(k); !ok && !seen[k] {
				seen[k] = true
				missing = append(missing, k)
			}
		}
	}
	keep := map[string]bool{}
	if len(missing) > 0 {
		found, err := r.store.LookupIdentities(ctx, missing)
		if err != nil {
			return nil, fmt.Errorf("resolve: %w", err)
		}
		var load []string
		for _, p := range found {
			if !r.graph.HasProfile(p) && !keep[p] {
				load = append(load, p)
			}
			keep[p] = true
		}
		if len(load) > 0 {
			all, err := r.store.IdentitiesOf(ctx, load)
			if err != nil {
				return nil, fmt.Errorf("resolve: %w", err)
			}
			for _, p := range load {
				r.graph.Load(p, all[p])
			}
		}
	}
	var ops []core.IdentityOp
	for i, e := range events {
		res := r.graph.Resolve(ids[i], core.AliasKeys(e), e.UserID, r.NewID)
		e.ProfileID = res.ProfileID
		keep[res.ProfileID] = true
		if res.Created {
			r.created.Add(1)
		}
		for _, from := range res.Merged {
			m := core.Merge{From: from, Into: res.ProfileID}
			ops = append(ops, core.IdentityOp{Merge: &m})
			out[i].Merges = append(out[i].Merges, m)
			r.merges.Add(1)
		}
		for j := range res.Bound {
			ops = append(ops, core.IdentityOp{Bind: &res.Bound[j], ProfileID: res.ProfileID})
		}
		r.conflicts.Add(int64(len(res.Conflicts)))
	}
	if len(ops) > 0 {
		if err := r.store.CommitIdentities(ctx, ops); err != nil {
			// The graph is ahead of the store now: drop what this
			// batch touched so it is reloaded.
			for p := range keep {
				r.graph.Forget(p)
			}
			return nil, fmt.Errorf("resolve: %w", err)
		}
	}
	if over := r.graph.Len() - r.maxCache; over > 0 {
		r.graph.Evict(over+r.maxCache/10, keep)
	}
	return out, nil
}

// Forget drops a profile from the in-memory graph (before erasure).
func (r *Resolver) Forget(profileID string) { r.graph.Forget(profileID) }

// Stats reports profiles created, merges and conflicts since start.
func (r *Resolver) Stats() (created, merges, conflicts int64) {
	return r.created.Load(), r.merges.Load(), r.conflicts.Load()
}
