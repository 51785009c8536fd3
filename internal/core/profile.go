package core

import (
	"bytes"
	"encoding/json"
	"time"
)

// Profile is one person's canonical record. Its update rules make it a
// mergeable value: traits are last-write-wins by event timestamp, counts add,
// first/last seen are min/max. So applying events and merging profiles in
// any order gives the same result, which keeps merges across partitions safe.
type Profile struct {
	ID         string                `json:"id"`
	CreatedAt  time.Time             `json:"createdAt"`
	FirstSeen  time.Time             `json:"firstSeen"`
	LastSeen   time.Time             `json:"lastSeen"`
	Traits     map[string]Trait      `json:"traits"`
	Timezone   *Trait                `json:"timezone,omitempty"`
	Consent    map[string]Consent    `json:"consent"`
	Counts     map[string]int64      `json:"counts"`
	Events     int64                 `json:"events"`
	MergedInto string                `json:"mergedInto,omitempty"`
	Merged     []string              `json:"merged,omitempty"`     // profiles merged into this one
	Entered    map[string]Entries    `json:"entered,omitempty"`    // journey entries by journey id
	Computed   *Computed             `json:"computed,omitempty"`   // computed-trait windows (package computed keeps them)
	Audiences  map[string]Membership `json:"audiences,omitempty"`  // audience memberships by audience id, past ones included
	Contacts   []Contact             `json:"contacts,omitempty"`   // recent messages sent, oldest first (for frequency caps)
	Offers     map[string]OfferSeen  `json:"offers,omitempty"`     // impressions and conversions per offer id
	Engagement map[string]Engagement `json:"engagement,omitempty"` // deliveries and engagements per channel
}

// OfferSeen is a profile's history with one offer: impressions (a send
// carrying it, or a touchpoint showing it) and conversions.
type OfferSeen struct {
	Impressions int       `json:"impressions"`
	Last        time.Time `json:"last"`             // the last impression
	Bucket      string    `json:"bucket,omitempty"` // its context bucket
	Open        bool      `json:"open,omitempty"`   // the last impression has not converted (yet)
	Conversions int       `json:"conversions,omitempty"`
}

// Engagement counts a profile's messages on one channel: delivered, and
// of those opened or clicked.
type Engagement struct {
	Delivered int64 `json:"delivered"`
	Engaged   int64 `json:"engaged"`
}

// Membership is a profile's standing in one audience. Entries counts its
// entries (1 for the first), so each entry and exit has its own number.
type Membership struct {
	Member  bool      `json:"member"`
	Since   time.Time `json:"since"` // when it last entered or left
	Entries int       `json:"entries"`
}

// The events the engine emits on a profile's timeline when it enters or
// leaves an audience, or is a member when its audience is refreshed; their
// properties name the audience ("audience").
const (
	EventAudienceEntered   = "audience_entered"
	EventAudienceExited    = "audience_exited"
	EventAudienceRefreshed = "audience_refreshed"
)

// InternalSource is the SourceID of events the engine emits itself (they
// carry their ProfileID and skip identity resolution).
const InternalSource = "overture"

// Entries counts a person's entries into one journey.
type Entries struct {
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

// Enter records an entry into journey at t and returns the entry's number
// (1 for the first).
func (p *Profile) Enter(journey string, t time.Time) int {
	if p.Entered == nil {
		p.Entered = map[string]Entries{}
	}
	e := p.Entered[journey]
	e.Count++
	if t.After(e.Last) {
		e.Last = t
	}
	p.Entered[journey] = e
	return e.Count
}

// SetTrait sets a trait as an event at t would (last write wins).
func (p *Profile) SetTrait(k string, v json.RawMessage, t time.Time) {
	p.setTrait(k, Trait{Value: v, At: t})
}

// Trait is a trait value and the timestamp of the event that set it.
type Trait struct {
	Value json.RawMessage `json:"value"`
	At    time.Time       `json:"at"`
}

// Consent is a channel's consent state and when it was last set.
type Consent struct {
	Granted bool      `json:"granted"`
	At      time.Time `json:"at"`
}

// NewProfile returns an empty profile.
func NewProfile(id string, now time.Time) *Profile {
	return &Profile{ID: id, CreatedAt: now}
}

// Apply folds one event into the profile.
func (p *Profile) Apply(e *Event, f *Facts) {
	ts := e.Timestamp
	if p.FirstSeen.IsZero() || ts.Before(p.FirstSeen) {
		p.FirstSeen = ts
	}
	if ts.After(p.LastSeen) {
		p.LastSeen = ts
	}
	p.Events++
	if p.Counts == nil {
		p.Counts = map[string]int64{}
	}
	p.Counts[e.Label()]++
	if e.Type == TypeIdentify && len(e.Traits) > 0 {
		var traits map[string]json.RawMessage
		if json.Unmarshal(e.Traits, &traits) == nil {
			for k, v := range traits {
				if k == "consent" {
					continue
				}
				p.setTrait(k, Trait{Value: v, At: ts})
			}
		}
	}
	if f.Timezone != "" {
		tz, _ := json.Marshal(f.Timezone)
		p.setTimezone(Trait{Value: tz, At: ts})
	}
	for ch, granted := range f.Consent {
		p.setConsent(ch, Consent{Granted: granted, At: ts})
	}
}

// TimezoneName returns the profile's IANA timezone name, or "".
func (p *Profile) TimezoneName() string {
	var s string
	if p.Timezone != nil {
		_ = json.Unmarshal(p.Timezone.Value, &s)
	}
	return s
}

func (p *Profile) setTimezone(t Trait) {
	if p.Timezone == nil {
		p.Timezone = &t
		return
	}
	tz := *p.Timezone
	setLWW(&tz, t)
	p.Timezone = &tz
}

func (p *Profile) setTrait(k string, t Trait) {
	if p.Traits == nil {
		p.Traits = map[string]Trait{}
	}
	old, ok := p.Traits[k]
	if !ok {
		p.Traits[k] = t
		return
	}
	setLWW(&old, t)
	p.Traits[k] = old
}

// setLWW replaces cur with t if t is newer; equal timestamps are settled by
// comparing the values, so the outcome does not depend on arrival order.
func setLWW(cur *Trait, t Trait) {
	if cur.At.IsZero() && cur.Value == nil || t.At.After(cur.At) ||
		t.At.Equal(cur.At) && bytes.Compare(t.Value, cur.Value) > 0 {
		*cur = t
	}
}

func (p *Profile) setConsent(ch string, c Consent) {
	if p.Consent == nil {
		p.Consent = map[string]Consent{}
	}
	old, ok := p.Consent[ch]
	if !ok || c.At.After(old.At) || c.At.Equal(old.At) && !c.Granted {
		p.Consent[ch] = c // on a tie, a revocation wins
	}
}

// Absorb merges other into p (other is the profile being merged away).
func (p *Profile) Absorb(o *Profile) {
	if !o.FirstSeen.IsZero() && (p.FirstSeen.IsZero() || o.FirstSeen.Before(p.FirstSeen)) {
		p.FirstSeen = o.FirstSeen
	}
	if o.LastSeen.After(p.LastSeen) {
		p.LastSeen = o.LastSeen
	}
	if o.CreatedAt.Before(p.CreatedAt) {
		p.CreatedAt = o.CreatedAt
	}
	p.Events += o.Events
	for k, n := range o.Counts {
		if p.Counts == nil {
			p.Counts = map[string]int64{}
		}
		p.Counts[k] += n
	}
	for k, t := range o.Traits {
		p.setTrait(k, t)
	}
	if o.Timezone != nil {
		p.setTimezone(*o.Timezone)
	}
	for ch, c := range o.Consent {
		p.setConsent(ch, c)
	}
	for j, e := range o.Entered {
		if p.Entered == nil {
			p.Entered = map[string]Entries{}
		}
		cur := p.Entered[j]
		cur.Count += e.Count
		if e.Last.After(cur.Last) {
			cur.Last = e.Last
		}
		p.Entered[j] = cur
	}
	if o.Computed != nil {
		if p.Computed == nil {
			p.Computed = &Computed{}
		}
		p.Computed.Merge(o.Computed)
	}
	for id, x := range o.Offers {
		if p.Offers == nil {
			p.Offers = map[string]OfferSeen{}
		}
		cur := p.Offers[id]
		cur.Impressions += x.Impressions
		cur.Conversions += x.Conversions
		if x.Last.After(cur.Last) {
			cur.Last, cur.Bucket, cur.Open = x.Last, x.Bucket, x.Open
		}
		p.Offers[id] = cur
	}
	for ch, x := range o.Engagement {
		if p.Engagement == nil {
			p.Engagement = map[string]Engagement{}
		}
		cur := p.Engagement[ch]
		cur.Delivered += x.Delivered
		cur.Engaged += x.Engaged
		p.Engagement[ch] = cur
	}
	if len(o.Contacts) > 0 {
		p.Contacts = append(p.Contacts, o.Contacts...)
		p.pruneContacts(time.Time{})
	}
	p.Merged = append(p.Merged, o.ID)
	p.Merged = append(p.Merged, o.Merged...)
}
