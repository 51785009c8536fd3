package analytics

import (
	"encoding/json"
	"strings"
	"testing"
)

// mustMarshalFinite marshals v, failing t if encoding/json refuses it
// (it does for NaN and infinities), and returns the JSON.
func mustMarshalFinite(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	if s := strings.ToLower(string(b)); strings.Contains(s, "nan") || strings.Contains(s, "inf") {
		t.Fatalf("%T marshals to %s", v, b)
	}
	return string(b)
}

// TestJSONEdgeCases marshals every result type on empty and degenerate
// inputs and checks the shape clients see.
func TestJSONEdgeCases(t *testing.T) {
	rr, _ := RelativeRisk(0, 10, 0, 10, 0)
	for _, c := range []struct {
		name string
		v    any
		want []string // substrings of the JSON
		not  []string
	}{
		{"uplift empty", Uplift(0, 0, 0, 0, 0),
			[]string{`"treatment":{"n":0,"goal":0,"rate":0,"ci":{"lo":0,"hi":1}}`, `"differenceCi":{"lo":-1,"hi":1}`, `"significant":false`, `"confidence":0.95`},
			[]string{"relativeLift"}},
		{"uplift zero control", Uplift(5, 10, 0, 10, 0), []string{`"difference":0.5`}, []string{"relativeLift"}},
		{"uplift", Uplift(13, 100, 10, 100, 0), []string{`"relativeLift":0.3`, `"relativeLiftCi":{"lo":`}, nil},
		{"risk ratio all zero", rr, []string{`"ratio":1`, `"corrected":true`}, nil},
		{"drivers nil", Drivers(nil, DriverOptions{}), []string{`"observations":0`, `"drivers":[]`}, []string{"null"}},
		{"drivers no outcome", Drivers([]Observation{{Features: []string{"a=1"}}, {Features: []string{"a=2"}}}, DriverOptions{Pairs: 5}),
			[]string{`"features":["a=1"]`, `"corrected":true`}, nil},
		{"drivers all outcome", Drivers([]Observation{{Features: []string{"a=1"}, Outcome: true}, {Outcome: true}}, DriverOptions{}),
			[]string{`"rate":1`}, nil},
		{"paths nil", Paths(nil, PathOptions{}), []string{`"sequences":0`, `"top":[]`, `"sankey":{"nodes":[],"links":[]}`}, []string{"null"}},
		{"paths empty sequences", Paths([][]string{{}, nil}, PathOptions{}), []string{`"sequences":0`}, nil},
		{"durations nil", SummarizeDurations(nil), []string{`{"count":0,"p50Seconds":0,"p90Seconds":0}`}, nil},
		{"durations", SummarizeDurations([]int64{0, 0, 0, 0, 0, 10}), []string{`"count":10`, `"p50Seconds":2.`}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustMarshalFinite(t, c.v)
			for _, w := range c.want {
				if !strings.Contains(s, w) {
					t.Errorf("%s\nlacks %s", s, w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(s, w) {
					t.Errorf("%s\nhas %s", s, w)
				}
			}
		})
	}
}
