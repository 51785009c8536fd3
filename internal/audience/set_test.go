package audience

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

func newSet(t *testing.T, auds ...*Audience) *Set {
	t.Helper()
	s, err := NewSet(auds)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func messageIDs(events []*core.Event) []string {
	var ids []string
	for _, e := range events {
		ids = append(ids, e.MessageID)
	}
	return ids
}

func TestEvaluateSequence(t *testing.T) {
	s := newSet(t, mustParse(t, "pro", `profile.traits.plan == "pro"`, "name: Pro customers"))
	p := profile(t, "p1", map[string]any{"plan": "free"}, nil)
	setPlan := func(plan string, at time.Time) {
		p.SetTrait("plan", []byte(`"`+plan+`"`), at)
	}
	type step struct {
		plan    string
		changes []core.MemberChange
		ids     []string
		m       core.Membership
	}
	var now time.Time
	steps := []step{
		{"free", nil, nil, core.Membership{}},
		{"pro", []core.MemberChange{{Audience: "pro", ProfileID: "p1", Member: true, Since: t0.Add(1 * time.Hour)}},
			[]string{"audience:pro:p1:entered:1"}, core.Membership{Member: true, Since: t0.Add(1 * time.Hour), Entries: 1}},
		{"pro", nil, nil, core.Membership{Member: true, Since: t0.Add(1 * time.Hour), Entries: 1}}, // stays
		{"free", []core.MemberChange{{Audience: "pro", ProfileID: "p1", Member: false, Since: t0.Add(3 * time.Hour)}},
			[]string{"audience:pro:p1:exited:1"}, core.Membership{Since: t0.Add(3 * time.Hour), Entries: 1}},
		{"pro", []core.MemberChange{{Audience: "pro", ProfileID: "p1", Member: true, Since: t0.Add(4 * time.Hour)}},
			[]string{"audience:pro:p1:entered:2"}, core.Membership{Member: true, Since: t0.Add(4 * time.Hour), Entries: 2}},
		{"free", []core.MemberChange{{Audience: "pro", ProfileID: "p1", Member: false, Since: t0.Add(5 * time.Hour)}},
			[]string{"audience:pro:p1:exited:2"}, core.Membership{Since: t0.Add(5 * time.Hour), Entries: 2}},
	}
	for i, st := range steps {
		now = t0.Add(time.Duration(i) * time.Hour)
		setPlan(st.plan, now)
		changes, events := s.Evaluate(p, Input{}, nil, now)
		if !reflect.DeepEqual(changes, st.changes) {
			t.Errorf("step %d: changes %+v, want %+v", i, changes, st.changes)
		}
		if got := messageIDs(events); !slices.Equal(got, st.ids) {
			t.Errorf("step %d: events %v, want %v", i, got, st.ids)
		}
		if got := p.Audiences["pro"]; got != st.m {
			t.Errorf("step %d: membership %+v, want %+v", i, got, st.m)
		}
		for _, e := range events {
			want := core.Event{
				SourceID: core.InternalSource, MessageID: e.MessageID, Type: core.TypeTrack,
				Event:     map[bool]string{true: core.EventAudienceEntered, false: core.EventAudienceExited}[strings.Contains(e.MessageID, ":entered:")],
				Timestamp: now, ReceivedAt: now, ProfileID: "p1",
				Properties: []byte(`{"audience":"pro","name":"Pro customers"}`),
			}
			if !reflect.DeepEqual(*e, want) {
				t.Errorf("step %d: event %+v, want %+v", i, *e, want)
			}
		}
	}
}

// TestEvaluateReplay checks that evaluating again from the same committed
// state gives the same changes and MessageIDs.
func TestEvaluateReplay(t *testing.T) {
	s := newSet(t, mustParse(t, "a", `profile.traits.plan == "pro"`), mustParse(t, "b", `profile.traits.plan != "pro"`))
	p := profile(t, "p1", map[string]any{"plan": "pro"}, nil)
	p.Audiences = map[string]core.Membership{"a": {Entries: 4}, "b": {Member: true, Entries: 5}}
	run := func() ([]core.MemberChange, []string, map[string]core.Membership) {
		q := *p
		q.Audiences = maps.Clone(p.Audiences)
		changes, events := s.Evaluate(&q, Input{}, nil, t0)
		return changes, messageIDs(events), q.Audiences
	}
	c1, ids1, m1 := run()
	c2, ids2, m2 := run()
	if !reflect.DeepEqual(c1, c2) || !slices.Equal(ids1, ids2) || !maps.Equal(m1, m2) {
		t.Errorf("replay differs: %v %v / %v %v", c1, ids1, c2, ids2)
	}
	if want := []string{"audience:a:p1:entered:5", "audience:b:p1:exited:5"}; !slices.Equal(ids1, want) {
		t.Errorf("ids %v, want %v", ids1, want)
	}
}

func TestEvaluateSelection(t *testing.T) {
	s := newSet(t,
		mustParse(t, "rt", `true`),
		mustParse(t, "batch", `true`, "realtime: false", `schedule: "@daily"`),
		mustParse(t, "in-cart", `in_journey("cart-abandonment")`, "name: In cart"))
	in := Input{InJourney: func(id string) bool { return id == "cart-abandonment" }}

	p := core.NewProfile("p", t0)
	_, events := s.Evaluate(p, in, nil, t0) // realtime only
	if got, want := messageIDs(events), []string{"audience:in-cart:p:entered:1", "audience:rt:p:entered:1"}; !slices.Equal(got, want) {
		t.Errorf("nil ids: %v, want %v", got, want)
	}
	_, events = s.Evaluate(p, in, []string{"nosuch", "batch", "rt", "batch"}, t0)
	if got, want := messageIDs(events), []string{"audience:batch:p:entered:1"}; !slices.Equal(got, want) {
		t.Errorf("explicit ids: %v, want %v", got, want)
	}
	if changes, events := s.Evaluate(p, in, []string{}, t0); changes != nil || events != nil {
		t.Errorf("empty ids: %v %v", changes, events)
	}
	// Leaving the journey leaves the audience.
	_, events = s.Evaluate(p, Input{}, nil, t0.Add(time.Minute))
	if got, want := messageIDs(events), []string{"audience:in-cart:p:exited:1"}; !slices.Equal(got, want) {
		t.Errorf("left the journey: %v, want %v", got, want)
	}
	if got := string(events[0].Properties); got != `{"audience":"in-cart","name":"In cart"}` {
		t.Errorf("properties %s", got)
	}
}

func TestEvaluateTombstone(t *testing.T) {
	s := newSet(t, mustParse(t, "all", `true`))
	p := core.NewProfile("old", t0)
	p.MergedInto = "new"
	p.Audiences = map[string]core.Membership{"all": {Member: true, Since: t0, Entries: 2}}
	now := t0.Add(time.Hour)
	changes, events := s.Evaluate(p, Input{}, nil, now)
	if want := []core.MemberChange{{Audience: "all", ProfileID: "old", Member: false, Since: now}}; !reflect.DeepEqual(changes, want) {
		t.Errorf("changes %+v, want %+v", changes, want)
	}
	if events != nil {
		t.Errorf("events %v, want none", messageIDs(events))
	}
	if got, want := p.Audiences["all"], (core.Membership{Since: now, Entries: 2}); got != want {
		t.Errorf("membership %+v, want %+v", got, want)
	}
	if changes, events := s.Evaluate(p, Input{}, nil, now); changes != nil || events != nil {
		t.Errorf("again: %v %v", changes, events)
	}
	if e := s.Refreshed(p, "all", now); e != nil {
		t.Errorf("Refreshed on a tombstone: %v", e.MessageID)
	}
}

func TestRefreshed(t *testing.T) {
	s := newSet(t, mustParse(t, "all", `true`), mustParse(t, "none", `false`))
	p := core.NewProfile("p", t0)
	s.Evaluate(p, Input{}, nil, t0)
	now := time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC)
	e := s.Refreshed(p, "all", now)
	if e == nil || e.MessageID != "audience:all:p:refreshed:1717221600000000000" || e.Event != core.EventAudienceRefreshed ||
		e.Type != core.TypeTrack || e.SourceID != core.InternalSource || !e.Timestamp.Equal(now) || e.ProfileID != "p" ||
		string(e.Properties) != `{"audience":"all","name":"all"}` {
		t.Errorf("Refreshed = %+v", e)
	}
	if e := s.Refreshed(p, "none", now); e != nil {
		t.Errorf("non-member: %v", e.MessageID)
	}
	if e := s.Refreshed(p, "nosuch", now); e != nil {
		t.Errorf("unknown audience: %v", e.MessageID)
	}
}

func TestDrop(t *testing.T) {
	s := newSet(t, mustParse(t, "kept", `true`))
	p := core.NewProfile("p", t0)
	p.Audiences = map[string]core.Membership{
		"kept":    {Member: true, Since: t0, Entries: 1},
		"gone":    {Member: true, Since: t0, Entries: 3},
		"also":    {Member: true, Since: t0, Entries: 1},
		"broken":  {Member: true, Since: t0, Entries: 1},
		"was-out": {Since: t0, Entries: 1},
	}
	now := t0.Add(time.Hour)
	changes := s.Drop(p, func(id string) bool { return id == "broken" }, now)
	want := []core.MemberChange{
		{Audience: "also", ProfileID: "p", Since: now},
		{Audience: "gone", ProfileID: "p", Since: now},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Errorf("changes %+v, want %+v", changes, want)
	}
	if got := p.Audiences["gone"]; got != (core.Membership{Since: now, Entries: 3}) {
		t.Errorf("gone: %+v", got)
	}
	if !p.Audiences["kept"].Member || !p.Audiences["broken"].Member || p.Audiences["was-out"] != (core.Membership{Since: t0, Entries: 1}) {
		t.Errorf("memberships %+v", p.Audiences)
	}
	if changes := s.Drop(p, nil, now); !reflect.DeepEqual(changes, []core.MemberChange{{Audience: "broken", ProfileID: "p", Since: now}}) {
		t.Errorf("known nil: %+v", changes)
	}
}

func TestSet(t *testing.T) {
	b, a := mustParse(t, "b", `true`), mustParse(t, "a", `true`)
	s := newSet(t, b, a)
	if s.Get("a") != a || s.Get("b") != b || s.Get("c") != nil {
		t.Error("Get")
	}
	if got := s.List(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("List %v", got)
	}
	if _, err := NewSet([]*Audience{a, mustParse(t, "a", `false`)}); err == nil || !strings.Contains(err.Error(), `duplicate audience id "a"`) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewSet([]*Audience{{ID: "hand-made"}}); err == nil {
		t.Error("NewSet accepted an audience not made by Parse")
	}
	if _, err := (&Audience{ID: "x"}).Match(Input{}); err == nil {
		t.Error("Match of an uncompiled audience")
	}
}
