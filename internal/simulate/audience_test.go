package simulate_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/simulate"
)

// TestAudiencesOnTheVirtualClock checks that audiences enter and leave
// members at the right virtual times: a time-based condition ("contract
// ends within 30 days") at its daily 06:00 refreshes and, when a change
// makes it true, at once; a condition over a computed trait as its events
// arrive and, at the weekly refresh, once they have left the window. It
// also checks the journeys they trigger: one on entering, one for every
// member at each refresh.
func TestAudiencesOnTheVirtualClock(t *testing.T) {
	dir := "testdata/audience"
	defs, err := journey.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := machine.FromDefinitions(defs)
	if err != nil {
		t.Fatal(err)
	}
	traits, err := computed.Load(filepath.Join(dir, "traits"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := audience.Load(filepath.Join(dir, "audiences"))
	if err != nil {
		t.Fatal(err)
	}
	auds, err := audience.NewSet(list)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday
	events, err := simulate.ReadEvents("events.jsonl", strings.NewReader(`
{"type": "identify", "userId": "u1", "traits": {"contract_end": "2026-04-15T12:00:00Z"}}
{"type": "identify", "userId": "u2", "traits": {"contract_end": "2026-03-10T00:00:00Z"}}
{"type": "identify", "userId": "u3", "traits": {"contract_end": "2026-09-01T00:00:00Z"}}
{"event": "Order Completed", "userId": "u4", "at": "1h"}
{"event": "Order Completed", "userId": "u4", "at": "2h"}
`), start)
	if err != nil {
		t.Fatal(err)
	}
	res := simulate.Run(cat, events, simulate.Options{Until: time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC), Traits: traits, Audiences: auds})
	want := map[string][]string{
		"u1": {
			"2026-03-17T06:00:00Z audience_entered contract-ending", // the first 06:00 within 30 days of the end
			"2026-03-17T06:00:00Z renewal@1 entered",
			"2026-04-16T06:00:00Z audience_exited contract-ending", // the first 06:00 after it
		},
		"u2": {
			"2026-03-02T09:00:00Z audience_entered contract-ending", // at once: the identify made it true
			"2026-03-02T09:00:00Z renewal@1 entered",
			"2026-03-10T06:00:00Z audience_exited contract-ending",
		},
		"u3": nil,
		"u4": {
			"2026-03-02T11:00:00Z audience_entered active", // the second order
			"2026-03-08T00:00:00Z audience_refreshed active",
			"2026-03-08T00:00:00Z weekly-digest@1 entered",
			"2026-03-15T00:00:00Z audience_exited active", // both orders have left the 7d window
		},
	}
	for _, c := range res.Customers {
		var got []string
		for _, r := range c.Trace {
			line := r.String()
			if r.Journey == "" || r.Kind == "entered" {
				got = append(got, strings.Fields(line)[0]+" "+strings.Join(strings.Fields(line)[1:3], " "))
			}
		}
		if !slices.Equal(got, want[c.ID]) {
			t.Errorf("customer %s:\n got %q\nwant %q", c.ID, got, want[c.ID])
		}
	}
	if len(res.Customers) != len(want) {
		t.Errorf("%d customers, want %d", len(res.Customers), len(want))
	}
}
