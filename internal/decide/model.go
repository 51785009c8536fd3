package decide

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Stat is what the model knows of one offer in one context bucket: how
// many impressions it had and how many of them converted.
type Stat struct {
	Offer       string
	Bucket      string
	Impressions int64
	Successes   int64
}

// Model holds the conversion counts behind the offers' posteriors, per
// offer and context bucket. It is safe for concurrent use: requests read
// it while the workers that see impressions and conversions add to it.
// The zero Model is not usable; call NewModel.
type Model struct {
	mu    sync.RWMutex // guards cells (the map); the counts are atomic
	cells map[cellKey]*cell
}

type cellKey struct{ offer, bucket string }

type cell struct{ impressions, successes atomic.Int64 }

// NewModel returns an empty model: every offer at its prior.
func NewModel() *Model {
	return &Model{cells: map[cellKey]*cell{}}
}

// Add adds impressions and successes (conversions) to the counts of offer
// in bucket. Negative deltas correct earlier ones. A concurrent Stat may
// see one of the two additions before the other.
func (m *Model) Add(offer, bucket string, impressions, successes int64) {
	k := cellKey{offer, bucket}
	m.mu.RLock()
	if c := m.cells[k]; c != nil {
		c.impressions.Add(impressions)
		c.successes.Add(successes)
		m.mu.RUnlock()
		return
	}
	m.mu.RUnlock()
	m.mu.Lock()
	c := m.cells[k]
	if c == nil {
		c = &cell{}
		m.cells[k] = c
	}
	c.impressions.Add(impressions)
	c.successes.Add(successes)
	m.mu.Unlock()
}

// Stat returns the counts of offer in bucket (zero if there are none,
// and from a nil model).
func (m *Model) Stat(offer, bucket string) Stat {
	s := Stat{Offer: offer, Bucket: bucket}
	if m == nil {
		return s
	}
	m.mu.RLock()
	c := m.cells[cellKey{offer, bucket}]
	m.mu.RUnlock()
	if c != nil {
		s.Impressions, s.Successes = c.impressions.Load(), c.successes.Load()
	}
	return s
}

// Snapshot returns every count, sorted by offer and bucket, to be saved
// and given back to Load.
func (m *Model) Snapshot() []Stat {
	m.mu.RLock()
	out := make([]Stat, 0, len(m.cells))
	for k, c := range m.cells {
		out = append(out, Stat{Offer: k.offer, Bucket: k.bucket, Impressions: c.impressions.Load(), Successes: c.successes.Load()})
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Stat) int {
		return cmp.Or(cmp.Compare(a.Offer, b.Offer), cmp.Compare(a.Bucket, b.Bucket))
	})
	return out
}

// Load replaces every count with stats, as Snapshot returned them. It
// leaves the model as it was and returns an error if a count is negative
// or an offer and bucket appear twice.
func (m *Model) Load(stats []Stat) error {
	cells := make(map[cellKey]*cell, len(stats))
	for _, s := range stats {
		k := cellKey{s.Offer, s.Bucket}
		if s.Impressions < 0 || s.Successes < 0 {
			return fmt.Errorf("decide: negative count for offer %q bucket %q", s.Offer, s.Bucket)
		}
		if cells[k] != nil {
			return fmt.Errorf("decide: offer %q bucket %q appears twice", s.Offer, s.Bucket)
		}
		c := &cell{}
		c.impressions.Store(s.Impressions)
		c.successes.Store(s.Successes)
		cells[k] = c
	}
	m.mu.Lock()
	m.cells = cells
	m.mu.Unlock()
	return nil
}
