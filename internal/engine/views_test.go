package engine_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
)

// TestViewsFollowCommits checks the in-memory views the touchpoint API
// reads: after each commit a customer's view, found by profile id or by
// user_id:, holds the committed profile, the active instances and the
// newest events (complete for a profile created since start); a merged-
// away profile and an erased one have none. Readers run concurrently
// with the partitions all along (run it with -race).
func TestViewsFollowCommits(t *testing.T) {
	d, err := journey.Parse("transfer.yaml", []byte(`id: transfer
name: Transfer
category: service
entry: {trigger: {event: Transfer Started}}
start: wait
steps:
  wait: {type: wait_for, event: Transfer Completed, timeout: 1d, on_event: done, on_timeout: done}
  done: {type: exit}
`))
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := machine.FromDefinitions([]*journey.Definition{d})
	h := newHarness(t, t.TempDir(), engine.Options{Partitions: 3})
	h.catalog = cat
	h.start()
	clock := h.opts.Clock.(*core.ManualClock)
	n := 0
	ev := func(user, anon, name, props string) core.Event {
		n++
		return core.Event{SourceID: "s", MessageID: fmt.Sprint(n), Type: core.TypeTrack, Event: name, UserID: user, AnonymousID: anon,
			Timestamp: clock.Now(), ReceivedAt: clock.Now(), Properties: json.RawMessage(props)}
	}

	stop := make(chan struct{})
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, ref := range []string{"user_id:ann", "user_id:bob", "anonymous_id:a-9"} {
					if v, ok := h.eng.View(ref); ok {
						_ = v.Profile.Traits["plan"]
						_, _ = v.Interactions(time.Time{})
						for _, in := range v.Active {
							_ = in.Step
						}
						if v.Profile.Computed != nil {
							_ = len(v.Profile.Computed.Traits)
						}
						reads.Add(1)
					}
				}
			}
		}()
	}

	h.append([]core.Event{
		ev("ann", "", "Page Viewed", `{"channel":"web"}`),
		ev("ann", "", "Transfer Started", `{}`),
		ev("bob", "", "Call Received", `{"channel":"ivr"}`),
	}, true)
	h.waitIdle()
	v, ok := h.eng.View("user_id:ann")
	if !ok {
		t.Fatal("no view of ann")
	}
	if !v.ActiveKnown || len(v.Active) != 1 || v.Active[0].Step != "wait" {
		t.Errorf("ann's active instances: known %v, %+v", v.ActiveKnown, v.Active)
	}
	touches, complete := v.Interactions(clock.Now().Add(-time.Hour))
	if !complete || len(touches) != 2 || touches[0].Event != "Transfer Started" || touches[1].Channel != "web" {
		t.Errorf("ann's interactions: complete %v, %+v", complete, touches)
	}
	if byID, ok := h.eng.View(v.Profile.ID); !ok || byID != v {
		t.Errorf("the view by profile id differs from the one by user_id")
	}
	annID := v.Profile.ID

	// The instance ends: the view follows; the old view is unchanged.
	clock.Advance(time.Minute)
	h.append([]core.Event{ev("ann", "", "Transfer Completed", `{}`)}, true)
	h.waitIdle()
	v2, _ := h.eng.View("user_id:ann")
	if len(v2.Active) != 0 || len(v.Active) != 1 {
		t.Errorf("after the transfer: new view %d active, old view %d (want 0 and 1)", len(v2.Active), len(v.Active))
	}
	if v2.Profile.Counts["Transfer Completed"] != 1 || v.Profile.Counts["Transfer Completed"] != 0 {
		t.Errorf("counts: new %v, old %v", v2.Profile.Counts, v.Profile.Counts)
	}

	// An anonymous visitor who logs in as ann is merged into one of the
	// two; the other has no view, and both keys find the survivor.
	h.append([]core.Event{ev("", "a-9", "Page Viewed", `{}`)}, true)
	h.waitIdle()
	if _, ok := h.eng.View("anonymous_id:a-9"); !ok {
		t.Fatal("no view of the anonymous visitor")
	}
	h.append([]core.Event{ev("ann", "a-9", "Signed In", `{}`)}, true)
	h.waitIdle()
	va, okA := h.eng.View("user_id:ann")
	if !okA || va.Profile.Counts["Signed In"] != 1 || va.Profile.Counts["Page Viewed"] != 2 {
		t.Fatalf("ann after the merge: %v %+v", okA, va)
	}
	for _, id := range va.Profile.Merged {
		if _, ok := h.eng.View(id); ok {
			t.Errorf("the merged-away profile %s still has a view", id)
		}
	}

	// Erasure drops the view.
	if _, err := h.eng.Erase(h.ctx, va.Profile.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.eng.View("user_id:ann"); ok {
		t.Errorf("ann's view survived her erasure")
	}
	if _, ok := h.eng.View(annID); ok && annID == va.Profile.ID {
		t.Errorf("ann's view by id survived her erasure")
	}
	close(stop)
	wg.Wait()
	if reads.Load() == 0 {
		t.Errorf("the readers never found a view")
	}
}
