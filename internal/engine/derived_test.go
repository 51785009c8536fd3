package engine_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
)

// derivedTraits are the computed traits the derived-state tests keep: one
// of each aggregate, over a 2h window (bucket width 113 s).
const derivedTraits = `traits:
  - {name: a_count, aggregate: count, event: A, window: 2h}
  - {name: v_sum, aggregate: sum, event: A, property: properties.v, window: 2h}
  - {name: v_min, aggregate: min, filter: 'event.event == "B"', property: properties.v, window: 2h}
  - {name: v_max, aggregate: max, filter: 'event.type == "track"', property: properties.v, window: 2h}
  - {name: c_last, aggregate: last, event: A, property: properties.c, window: 2h}
  - {name: first_b, aggregate: first_time, event: B, window: 2h}
  - {name: last_any, aggregate: last_time, filter: 'event.type == "track"', window: 2h}
  - {name: c_distinct, aggregate: distinct_count, event: B, property: properties.c, window: 2h}
`

// busyAudience is a realtime audience over a computed trait: it changes as
// events arrive and as they leave the window.
const busyAudience = `id: busy
condition: 'profile.computed.a_count >= 2.0'
`

func mustTraits(t testing.TB, src string) *computed.Set {
	t.Helper()
	set, err := computed.Parse("traits.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func mustAudiences(t testing.TB, srcs ...string) *audience.Set {
	t.Helper()
	var list []*audience.Audience
	for i, src := range srcs {
		a, err := audience.Parse(fmt.Sprintf("audience%d.yaml", i), []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, a)
	}
	set, err := audience.NewSet(list)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestComputedTraitsMatchRecount is computed traits' promise in the
// server: for random streams of events with out-of-order timestamps (up to
// 1.5 windows late, half a window early), across profile merges, an
// engine restart at a random point (abrupt or idle) and traits added
// mid-stream (then backfilled from the stored timelines while events go
// on), every profile's traits at the end equal a recount over the raw
// events of its timeline. A realtime audience over a trait agrees, after
// a refresh, with the recount too, and its entered/exited events on each
// timeline alternate and end with the membership.
func TestComputedTraitsMatchRecount(t *testing.T) {
	limitChecks(t)
	all := mustTraits(t, derivedTraits)
	first := mustTraits(t, "traits:\n  - {name: a_count, aggregate: count, event: A, window: 2h}\n")
	auds := mustAudiences(t, busyAudience)
	const window = 2 * time.Hour
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 60).Draw(rt, "events")
		restartAt := rapid.IntRange(-1, n-1).Draw(rt, "restartAt")
		abrupt := rapid.Bool().Draw(rt, "abrupt")
		addAt := rapid.IntRange(-1, n-1).Draw(rt, "addTraitsAt") // -1: all traits from the start

		h := newHarness(t, t.TempDir(), engine.Options{Partitions: 2, TimerTick: time.Millisecond, Linger: time.Millisecond})
		h.traits, h.audiences = all, auds
		if addAt >= 0 {
			h.traits = first
		}
		clock := h.opts.Clock.(*core.ManualClock)
		now := clock.Now()
		h.start()
		users := []string{"u1", "u2", "u3", "u4"}
		for i := range n {
			now = now.Add(time.Duration(rapid.IntRange(0, 40).Draw(rt, "gapMinutes")) * time.Minute)
			clock.Set(now)
			var e core.Event
			switch rapid.IntRange(0, 9).Draw(rt, "kind") {
			case 0: // an anonymous visitor logs in: their profiles merge
				e = alias(i, rapid.SampledFrom(users).Draw(rt, "user"), "anon-"+rapid.SampledFrom([]string{"x", "y"}).Draw(rt, "anon"))
				e.Timestamp, e.ReceivedAt = now, now
			default:
				skew := time.Duration(rapid.Int64Range(-int64(window)*3/2, int64(window)/2).Draw(rt, "skew"))
				props := map[string]any{"c": rapid.SampledFrom([]string{"p", "q", "r"}).Draw(rt, "c")}
				if v := rapid.IntRange(-1, 5).Draw(rt, "v"); v >= 0 {
					props["v"] = float64(v) - 1.5
				}
				e = core.Event{SourceID: "src", MessageID: fmt.Sprintf("m%03d", i), Type: core.TypeTrack,
					Event: rapid.SampledFrom([]string{"A", "A", "B"}).Draw(rt, "name"), Timestamp: now.Add(skew), ReceivedAt: now,
					Properties: mustJSON(props)}
				if rapid.IntRange(0, 3).Draw(rt, "anonymous") == 0 {
					e.AnonymousID = "anon-" + rapid.SampledFrom([]string{"x", "y"}).Draw(rt, "anon")
				} else {
					e.UserID = rapid.SampledFrom(users).Draw(rt, "user")
				}
			}
			h.append([]core.Event{e}, true)
			if i == addAt {
				h.traits = all
				h.eng.SetTraits(all) // backfills every stored profile while events go on
			}
			if i == restartAt {
				if !abrupt {
					h.waitIdle()
				}
				h.stop()
				h.start()
			}
			if rapid.Bool().Draw(rt, "settle") {
				h.waitIdle()
			}
		}
		h.waitIdle()
		waitBackfill(rt, h)
		if _, err := h.eng.Refresh(h.ctx, "busy", "test"); err != nil {
			rt.Fatal(err)
		}
		h.waitIdle()
		h.stop()
		h.start() // the state read back after a restart is the state kept
		h.waitIdle()
		h.stop()

		members := map[string]bool{}
		ms, err := h.st.AudienceMembers(h.ctx, "busy", "", 1000)
		if err != nil {
			rt.Fatal(err)
		}
		for _, m := range ms {
			members[m.ProfileID] = true
		}
		profiles, err := h.st.ScanProfiles(h.ctx, "", 1000)
		if err != nil {
			rt.Fatal(err)
		}
		for _, pr := range profiles {
			evs := timeline(rt, h, pr.ID)
			want := &core.Computed{}
			var own []*core.Event
			for _, e := range evs {
				if e.SourceID != core.InternalSource {
					own = append(own, e)
				}
			}
			all.Backfill(want, own, now)
			got, exp := all.Values(pr.Computed, now), all.Values(want, now)
			if !reflect.DeepEqual(got, exp) {
				rt.Fatalf("profile %s (%d events): traits\n got %v\nwant %v", pr.ID, len(own), got, exp)
			}
			if m := all.Missing(pr.Computed); len(m) > 0 {
				rt.Fatalf("profile %s lacks traits %v", pr.ID, m)
			}
			isMember := exp["a_count"].(float64) >= 2
			if pr.Audiences["busy"].Member != isMember || members[pr.ID] != isMember {
				rt.Fatalf("profile %s: a_count %v, member in profile %v, in members table %v", pr.ID, exp["a_count"], pr.Audiences["busy"].Member, members[pr.ID])
			}
			if len(pr.Merged) > 0 {
				continue // a merged profile's timeline holds the others' audience events too
			}
			var kinds []string
			for _, e := range evs {
				if e.SourceID == core.InternalSource {
					kinds = append(kinds, e.Event)
				}
			}
			for i, k := range kinds {
				want := core.EventAudienceEntered
				if i%2 == 1 {
					want = core.EventAudienceExited
				}
				if k != want {
					rt.Fatalf("profile %s: audience events %v do not alternate", pr.ID, kinds)
				}
			}
			if (len(kinds)%2 == 1) != isMember {
				rt.Fatalf("profile %s: audience events %v, member %v", pr.ID, kinds, isMember)
			}
		}
	})
}

// waitBackfill waits for the engine's backfill to finish.
func waitBackfill(t interface{ Fatalf(string, ...any) }, h *harness) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := h.eng.BackfillProgress()
		if st == nil || !st.Running {
			if st != nil && st.Error != "" {
				t.Fatalf("backfill: %s", st.Error)
			}
			h.waitIdle()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfill still running: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}

// timeline returns a profile's whole timeline, oldest first.
func timeline(t interface{ Fatal(...any) }, h *harness, id string) []*core.Event {
	var out []*core.Event
	var before int64
	for {
		page, err := h.st.ListEvents(h.ctx, id, before, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		out = append(out, page...)
		before = page[len(page)-1].Seq
	}
	slices.Reverse(out)
	return out
}
