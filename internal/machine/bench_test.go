package machine_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/machine"
)

// benchCatalog has 20 live journeys, all triggered by the same event, each
// running a branch, an update, a send and a split before it waits.
func benchCatalog(b *testing.B) *machine.Catalog {
	var defs []*journey.Definition
	for i := 0; i < 20; i++ {
		src := fmt.Sprintf(`
id: j%02d
name: Journey %d
category: marketing
entry: {trigger: {event: Cart Updated, condition: 'event.properties.total > 10.0'}, reentry: always, max_concurrent: 1000000}
variables: {cart: event.properties.cart_id}
goal: {event: Order Completed, condition: 'event.properties.cart_id == journey.cart'}
start: check
steps:
  check: {type: branch, cases: [{when: 'event.properties.total > 100.0', next: big}], default: small}
  big: {type: send, channel: email, template: big, next: mark}
  small: {type: send, channel: push, template: small, next: mark}
  mark: {type: update_profile, set: {last_cart: journey.cart}, next: ab}
  ab: {type: split, branches: [{weight: 50, next: wait}, {weight: 50, next: wait}]}
  wait: {type: wait, duration: 1h, next: done}
  done: {type: exit}
`, i, i)
		d, err := journey.Parse(fmt.Sprintf("j%02d.yaml", i), []byte(src))
		if err != nil {
			b.Fatal(err)
		}
		defs = append(defs, d)
	}
	cat, err := machine.FromDefinitions(defs)
	if err != nil {
		b.Fatal(err)
	}
	return cat
}

// BenchmarkTransitions measures step transitions per second on one core:
// each event enters 20 journeys and runs 6 steps in each (120 transitions),
// then each timer ends an instance (2 more). Reported: transitions/s.
func BenchmarkTransitions(b *testing.B) {
	m := machine.New(benchCatalog(b), nil)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ev := &core.Event{Type: core.TypeTrack, Event: "Cart Updated", UserID: "u", Timestamp: now,
		Properties: json.RawMessage(`{"cart_id":"c1","total":150.0}`)}
	var out machine.Output
	transitions := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := &machine.Customer{Profile: core.NewProfile(fmt.Sprint("p", i), now)}
		out.Reset()
		m.Event(c, ev, now, &out)
		for _, in := range append([]*core.Instance(nil), c.Instances...) {
			m.Timer(c, in.ID, in.Due, &out)
		}
		transitions += out.Transitions
	}
	b.ReportMetric(float64(transitions)/b.Elapsed().Seconds(), "transitions/s")
}
