package computed

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

func mustParse(t testing.TB, src string) *Set {
	t.Helper()
	set, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func track(name string, at time.Time, props string) *core.Event {
	return &core.Event{Type: core.TypeTrack, Event: name, Timestamp: at, Properties: json.RawMessage(props)}
}

// TestWindowEdges follows one event through a 64s window (1s buckets).
func TestWindowEdges(t *testing.T) {
	set := mustParse(t, `traits:
  - name: n
    aggregate: count
    event: X
    window: 64s
  - name: usd
    aggregate: sum
    filter: 'event.event == "X" && event.properties.currency == "USD"'
    property: properties.revenue
    window: 64s
`)
	t0 := time.Date(2026, 1, 1, 0, 0, 10, 500_000_000, time.UTC)
	st := &State{}
	set.Apply(st, track("X", t0, `{"revenue": 2.5, "currency": "USD"}`), t0)
	set.Apply(st, track("X", t0, `{"revenue": 4, "currency": "EUR"}`), t0)
	set.Apply(st, track("X", t0.Add(-65*time.Second), `{"revenue": 1, "currency": "USD"}`), t0) // behind the window: dropped
	for _, tc := range []struct {
		at   time.Duration
		n    float64
		usd  float64
		note string
	}{
		{-time.Second, 0, 0, "before its bucket"},
		{-400 * time.Millisecond, 2, 2.5, "in its bucket, before its time"},
		{63 * time.Second, 2, 2.5, "within the window"},
		{64*time.Second + 400*time.Millisecond, 2, 2.5, "now-window is still in its bucket"},
		{64*time.Second + 500*time.Millisecond, 0, 0, "its bucket has left the window"},
	} {
		v := set.Values(st, t0.Add(tc.at))
		if v["n"] != tc.n || v["usd"] != tc.usd {
			t.Errorf("%s (%s): got %v, want n=%v usd=%v", tc.at, tc.note, v, tc.n, tc.usd)
		}
	}
	set.Compact(st, t0.Add(65*time.Second))
	for name, w := range st.Traits {
		if len(w.Buckets) != 0 {
			t.Errorf("%s after roll-off: %+v", name, w.Buckets)
		}
	}
}

// TestDistinctCap checks that distinct_count is exact up to DistinctCap
// values in a bucket and an estimate beyond.
func TestDistinctCap(t *testing.T) {
	set := mustParse(t, "traits:\n  - name: d\n    aggregate: distinct_count\n    event: X\n    property: properties.sku\n    window: 1h\n")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &State{}
	for i := range 1000 {
		set.Apply(st, track("X", now, fmt.Sprintf(`{"sku": "sku-%d"}`, i%DistinctCap)), now)
	}
	if got := set.Values(st, now)["d"]; got != float64(DistinctCap) {
		t.Fatalf("exact: got %v, want %d", got, DistinctCap)
	}
	for i := range 1000 {
		set.Apply(st, track("X", now, fmt.Sprintf(`{"sku": "sku-%d"}`, i)), now)
	}
	got := set.Values(st, now)["d"].(float64)
	if math.Abs(got-1000)/1000 > 0.5 {
		t.Fatalf("estimate: got %v, want about 1000", got)
	}
	if b := st.Traits["d"].Buckets; len(b) != 1 || len(b[0].D) != DistinctCap || !b[0].X {
		t.Fatalf("bucket: %+v", b)
	}
}

// TestRedefinedTrait checks that a window built for another definition is
// not read, and is replaced.
func TestRedefinedTrait(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old := mustParse(t, "traits:\n  - name: a\n    aggregate: count\n    event: X\n    window: 1h\n")
	st := &State{}
	old.Apply(st, track("X", now, `{}`), now)
	set := mustParse(t, "traits:\n  - name: a\n    aggregate: count\n    event: X\n    window: 2h\n")
	if got := set.Values(st, now)["a"]; got != 0.0 {
		t.Fatalf("got %v, want 0", got)
	}
	set.Apply(st, track("Y", now, `{}`), now)
	if len(st.Traits) != 0 {
		t.Fatalf("stale window kept: %+v", st.Traits)
	}
	if m := set.Missing(st); len(m) != 1 || m[0].Name != "a" {
		t.Fatalf("missing: %v", m)
	}
}

// TestBackfillAndUpdate checks that Update leaves alone a trait not yet
// backfilled, and that Backfill then counts the past events once.
func TestBackfillAndUpdate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	set := mustParse(t, "traits:\n  - name: a\n    aggregate: count\n    event: X\n    window: 1h\n  - name: b\n    aggregate: count\n    event: X\n    window: 1h\n")
	st := &State{}
	set.Init(st)
	if m := set.Missing(st); len(m) != 0 {
		t.Fatalf("after Init, missing %v", m)
	}
	past := []*core.Event{track("X", now.Add(-2*time.Hour), `{}`), track("X", now.Add(-time.Minute), `{}`), track("X", now.Add(-time.Second), `{}`)}
	for _, e := range past {
		set.Update(st, e, now)
	}
	delete(st.Traits, "b") // b is added later: it must be backfilled
	st.Complete = 0        // (whoever removes a window clears the mark)
	live := track("X", now, `{}`)
	set.Update(st, live, now)
	if v := set.Values(st, now); v["a"] != 3.0 || v["b"] != 0.0 {
		t.Fatalf("before backfill: %v", v)
	}
	if got := set.Backfill(st, append(past, live), now); len(got) != 1 || got[0].Name != "b" {
		t.Fatalf("backfilled %v", got)
	}
	if v := set.Values(st, now); v["a"] != 3.0 || v["b"] != 3.0 {
		t.Fatalf("after backfill: %v", v)
	}
	if got := set.Backfill(st, past, now); got != nil {
		t.Fatalf("second backfill built %v", got)
	}
	if since := set.Since(now); since.After(now.Add(-time.Hour)) || since.Before(now.Add(-time.Hour-time.Minute)) {
		t.Fatalf("since %v", since)
	}
}

const benchTraits = `traits:
  - name: orders_7d
    aggregate: count
    event: Order Completed
    window: 7d
  - name: spend_7d
    aggregate: sum
    event: Order Completed
    filter: 'event.properties.currency == "USD"'
    property: properties.revenue
    window: 7d
  - name: spend_30d
    aggregate: sum
    event: Order Completed
    property: properties.revenue
    window: 30d
  - name: max_order_90d
    aggregate: max
    event: Order Completed
    property: properties.revenue
    window: 90d
  - name: min_order_90d
    aggregate: min
    event: Order Completed
    property: properties.revenue
    window: 90d
  - name: last_balance
    aggregate: last
    event: Balance Updated
    property: properties.balance
    window: 30d
  - name: first_seen_30d
    aggregate: first_time
    filter: 'event.type == "track"'
    window: 30d
  - name: last_seen_30d
    aggregate: last_time
    filter: 'event.type == "track"'
    window: 30d
  - name: skus_30d
    aggregate: distinct_count
    event: Product Viewed
    property: properties.sku
    window: 30d
  - name: data_overage_count_90d
    aggregate: count
    event: Data Overage
    filter: 'event.properties.mb > 100.0'
    window: 90d
`

// BenchmarkApply applies events to 10 traits over 1,000 profiles, one
// event a minute, and reports the time per event and the JSON size of
// each profile's state.
func BenchmarkApply(b *testing.B) {
	set := mustParse(b, benchTraits)
	const profiles = 1000
	states := make([]State, profiles)
	names := []string{"Order Completed", "Balance Updated", "Product Viewed", "Data Overage", "Page Viewed"}
	events := make([]*core.Event, 0, 500)
	for i := range cap(events) {
		props := fmt.Sprintf(`{"revenue": %d.5, "currency": %q, "balance": %d, "sku": "sku-%d", "mb": %d}`,
			i%200, []string{"USD", "EUR"}[i%2], i*7%1000, i%37, i%300)
		e := track(names[i%len(names)], time.Time{}, props)
		e.Context = json.RawMessage(`{"library": {"name": "analytics.js", "version": "4.1.0"}, "ip": "203.0.113.7", "userAgent": "Mozilla/5.0"}`)
		events = append(events, e)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(time.Minute)
		e := events[i%len(events)]
		e.Timestamp = now
		set.Apply(&states[i%profiles], e, now)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	total, buckets := 0, 0
	for i := range states {
		data, err := json.Marshal(&states[i])
		if err != nil {
			b.Fatal(err)
		}
		total += len(data)
		for _, w := range states[i].Traits {
			buckets += len(w.Buckets)
		}
	}
	b.ReportMetric(float64(total)/profiles, "state-bytes/profile")
	b.ReportMetric(float64(buckets)/profiles, "buckets/profile")
}

// TestExpressionTrait checks a trait computed from others: last balance
// over last limit, nil while either is missing or the limit is zero.
func TestExpressionTrait(t *testing.T) {
	set := mustParse(t, `traits:
  - {name: balance, aggregate: last, event: Balance Updated, property: properties.balance, window: 30d}
  - {name: limit, aggregate: last, event: Balance Updated, property: properties.limit, window: 30d}
  - name: balance_to_limit_ratio
    aggregate: expression
    expression: 'computed.balance / computed.limit'
`)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &State{}
	set.Init(st)
	if v := set.Values(st, now)["balance_to_limit_ratio"]; v != nil {
		t.Fatalf("with no events: %v", v)
	}
	set.Update(st, track("Balance Updated", now, `{"balance": 450, "limit": 1000}`), now)
	if v := set.Values(st, now)["balance_to_limit_ratio"]; v != 0.45 {
		t.Fatalf("ratio %v, want 0.45", v)
	}
	if v := set.Value(st, "balance_to_limit_ratio", now); v != 0.45 {
		t.Fatalf("Value %v, want 0.45", v)
	}
	set.Update(st, track("Balance Updated", now.Add(time.Minute), `{"balance": 450, "limit": 0}`), now.Add(time.Minute))
	if v := set.Values(st, now.Add(time.Minute))["balance_to_limit_ratio"]; v != nil {
		t.Fatalf("over a zero limit: %v", v)
	}
	if len(set.Missing(&State{})) != 2 {
		t.Fatal("an expression trait has no window to backfill")
	}
	for _, src := range []string{
		"traits:\n  - {name: x, aggregate: expression}\n",
		"traits:\n  - {name: x, aggregate: expression, expression: 'computed.', window: 1h}\n",
		"traits:\n  - {name: x, aggregate: count, event: A, window: 1h, expression: '1'}\n",
	} {
		if _, err := Parse("t.yaml", []byte(src)); err == nil {
			t.Errorf("accepted %q", src)
		} else {
			t.Log(err)
		}
	}
}
