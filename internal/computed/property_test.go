package computed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/proptest"
)

// propertyChecks is how many random cases a property test runs unless
// -rapid.checks or RAPID_CHECKS says otherwise.
const propertyChecks = 100

// limitChecks applies propertyChecks (see proptest.Limit).
func limitChecks(t *testing.T) { proptest.Limit(t, propertyChecks) }

// genTrait is a drawn trait: its definition and a Go version of its filter.
type genTrait struct {
	name, agg, event, property string
	filter                     bool // event.properties.c != "r"
	window                     time.Duration
}

func (g genTrait) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    aggregate: %s\n    window: %s\n", g.name, g.agg, g.window)
	if g.event != "" {
		fmt.Fprintf(&b, "    event: %s\n", g.event)
	}
	if g.filter {
		b.WriteString("    filter: 'event.properties.c != \"r\"'\n")
	}
	if g.property != "" {
		fmt.Fprintf(&b, "    property: %s\n", g.property)
	}
	return b.String()
}

// applied is an event and the time it was applied at.
type applied struct {
	e  *core.Event
	at time.Time
}

// recount computes a trait's value at now from the raw events by the
// documented rule, independently of the package's buckets.
func recount(g genTrait, evs []applied, now time.Time) any {
	width := max(int64(1), int64(math.Ceil(g.window.Seconds()/64)))
	span := int64(math.Ceil(g.window.Seconds() / float64(width)))
	bucket := func(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / float64(width))) }
	type match struct {
		at  time.Time
		seq int64
		raw []byte
		num float64
	}
	var ms []match
	for _, a := range evs {
		e := a.e
		if g.event != "" && e.Event != g.event {
			continue
		}
		k := bucket(e.Timestamp)
		if k < bucket(a.at.Add(-g.window)) || k > bucket(a.at)+span {
			continue // dropped on arrival
		}
		if k < bucket(now.Add(-g.window)) || k > bucket(now) {
			continue // not in the window at now
		}
		var props map[string]any
		if err := json.Unmarshal(e.Properties, &props); err != nil {
			panic(err)
		}
		if g.filter && props["c"] == "r" {
			continue
		}
		m := match{at: e.Timestamp, seq: e.Seq}
		if g.property != "" {
			v, ok := props[strings.TrimPrefix(g.property, "properties.")]
			if !ok || v == nil {
				continue
			}
			switch g.agg {
			case "sum", "min", "max":
				f, ok := v.(float64)
				if !ok {
					continue
				}
				m.num = f
			}
			m.raw, _ = json.Marshal(v)
		}
		ms = append(ms, m)
	}
	switch g.agg {
	case "count":
		return float64(len(ms))
	case "sum":
		s := 0.0
		for _, m := range ms {
			s += m.num
		}
		return s
	case "distinct_count":
		seen := map[string]bool{}
		for _, m := range ms {
			seen[string(m.raw)] = true
		}
		return float64(len(seen))
	}
	if len(ms) == 0 {
		return nil
	}
	best := ms[0]
	for _, m := range ms[1:] {
		switch g.agg {
		case "min":
			if m.num < best.num {
				best = m
			}
		case "max":
			if m.num > best.num {
				best = m
			}
		case "first_time":
			if m.at.Before(best.at) {
				best = m
			}
		case "last_time":
			if m.at.After(best.at) {
				best = m
			}
		case "last":
			if !m.at.Equal(best.at) {
				if m.at.After(best.at) {
					best = m
				}
			} else if m.seq != best.seq {
				if m.seq > best.seq {
					best = m
				}
			} else if bytes.Compare(m.raw, best.raw) > 0 {
				best = m
			}
		}
	}
	switch g.agg {
	case "min", "max":
		return best.num
	case "first_time", "last_time":
		return best.at.UTC().Format(time.RFC3339Nano)
	}
	var v any
	_ = json.Unmarshal(best.raw, &v)
	return v
}

// TestValuesMatchRecount applies random event streams (out of order by
// up to a few windows either way) to random traits, split between two
// states merged at a random point and round-tripped through JSON at
// another, and compares Values at increasing times with a recount from
// the raw events.
func TestValuesMatchRecount(t *testing.T) {
	limitChecks(t)
	nontrivial := map[string]int{}
	defer func() { t.Logf("checks with data: %v", nontrivial) }()
	rapid.Check(t, func(rt *rapid.T) {
		base := time.Duration(rapid.SampledFrom([]int64{1, 7, 64, 100, 3600, 7 * 86400}).Draw(rt, "baseSeconds")) * time.Second
		aggs := aggregateNames()[:len(aggregates)-1] // expressions have no window: TestExpressionTrait
		var gens []genTrait
		var src strings.Builder
		src.WriteString("traits:\n")
		for i := range rapid.IntRange(1, 5).Draw(rt, "traits") {
			g := genTrait{
				name:   fmt.Sprintf("t%d", i),
				agg:    rapid.SampledFrom(aggs).Draw(rt, "aggregate"),
				window: time.Duration(float64(base) * rapid.SampledFrom([]float64{0.5, 1, 1.7, 2}).Draw(rt, "windowFactor")),
				filter: rapid.Bool().Draw(rt, "filter"),
			}
			if g.window < time.Second && rapid.Bool().Draw(rt, "roundWindow") {
				g.window = time.Second
			}
			if !g.filter || rapid.Bool().Draw(rt, "named") {
				g.event = rapid.SampledFrom([]string{"A", "B"}).Draw(rt, "event")
			}
			switch g.agg {
			case "sum", "min", "max":
				g.property = "properties.v"
			case "last", "distinct_count":
				g.property = rapid.SampledFrom([]string{"properties.v", "properties.c"}).Draw(rt, "property")
			default:
				if rapid.Bool().Draw(rt, "withProperty") {
					g.property = "properties.v"
				}
			}
			gens = append(gens, g)
			src.WriteString(g.yaml())
		}
		set, err := Parse("gen.yaml", []byte(src.String()))
		if err != nil {
			rt.Fatalf("%v\n%s", err, src.String())
		}

		n := rapid.IntRange(0, 80).Draw(rt, "events")
		mergeAt := rapid.IntRange(0, n).Draw(rt, "mergeAt")
		restartAt := rapid.IntRange(0, n).Draw(rt, "restartAt")
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(rapid.Int64Range(0, int64(time.Hour)).Draw(rt, "start")))
		a, b := &State{}, &State{}
		var evs []applied
		values := []any{-2.0, -0.5, 0.0, 1.5, 3.0, 8.0, "x", true, nil}
		check := func(at time.Time) {
			// Until the merge, the profile's state is a and b merged, in
			// either order.
			m := &State{}
			first, second := a, b
			if rapid.Bool().Draw(rt, "bFirst") {
				first, second = b, a
			}
			m.Merge(first)
			m.Merge(second)
			got := set.Values(m, at)
			for _, g := range gens {
				if want := recount(g, evs, at); want != nil && want != 0.0 {
					nontrivial[g.agg]++
				}
				if want := recount(g, evs, at); !reflect.DeepEqual(got[g.name], want) {
					rt.Fatalf("%s (%s over %s) at %s after %d events: got %#v, want %#v", g.name, g.agg, g.window, at.Format(time.RFC3339Nano), len(evs), got[g.name], want)
				}
			}
		}
		for i := range n {
			if i == mergeAt {
				a.Merge(b)
				b = &State{}
			}
			if i == restartAt {
				for _, st := range []*State{a, b} {
					data, err := json.Marshal(st)
					if err != nil {
						rt.Fatal(err)
					}
					*st = State{}
					if err := json.Unmarshal(data, st); err != nil {
						rt.Fatal(err)
					}
				}
			}
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(base)/8).Draw(rt, "step")))
			// Mostly within the last window; else up to three windows
			// late or two early.
			// rapid favours small integers, so the distance is drawn as a
			// fraction of the window plus a little jitter.
			frac := rapid.SampledFrom([]float64{0, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98, 1, 1.02, 1.3, 1.7, 2}).Draw(rt, "fraction")
			var offset time.Duration
			switch rapid.IntRange(0, 3).Draw(rt, "when") {
			case 0: // late, up to three windows
				frac = -1 - frac
			case 1: // early, up to two windows
			default: // within the last window
				frac = -frac / 2
			}
			offset = time.Duration(frac*float64(base)) + time.Duration(rapid.Int64Range(-int64(base)/50, int64(base)/50).Draw(rt, "jitter"))
			if rapid.Bool().Draw(rt, "wholeSecond") {
				offset = offset.Truncate(time.Second)
			}
			props := map[string]any{"c": rapid.SampledFrom([]string{"p", "q", "r"}).Draw(rt, "c")}
			if v := rapid.IntRange(-1, len(values)-1).Draw(rt, "v"); v >= 0 {
				props["v"] = values[v]
			}
			raw, _ := json.Marshal(props)
			e := &core.Event{
				Seq:        int64(i + 1),
				Type:       core.TypeTrack,
				Event:      rapid.SampledFrom([]string{"A", "B"}).Draw(rt, "name"),
				Timestamp:  now.Add(offset),
				Properties: raw,
			}
			if i < mergeAt && rapid.Bool().Draw(rt, "toB") {
				set.Apply(b, e, now)
			} else {
				set.Apply(a, e, now)
			}
			evs = append(evs, applied{e, now})
			for _, st := range []*State{a, b} {
				for name, w := range st.Traits {
					tr := set.Trait(name)
					if len(w.Buckets) > int(2*tr.span+1) {
						rt.Fatalf("%s holds %d buckets, more than %d", name, len(w.Buckets), 2*tr.span+1)
					}
				}
			}
			if rapid.IntRange(0, 3).Draw(rt, "check") == 0 {
				check(now)
			}
		}
		for range 4 {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(base)).Draw(rt, "later")))
			check(now)
		}
	})
}
