package core

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// randomComputed draws a state with every kind of bucket field.
func randomComputed(r *rand.Rand) *Computed {
	c := &Computed{Traits: map[string]*Window{}}
	for i := range r.IntN(6) {
		w := &Window{Def: r.Uint32()}
		k := r.Int64N(1<<40) - 1<<39
		for range r.IntN(5) {
			k += 1 + r.Int64N(100)
			b := Bucket{K: k, N: r.Int64N(1000)}
			switch r.IntN(6) {
			case 0:
				b.Sum = r.NormFloat64() * 1e6
			case 1:
				b.Min, b.Max = -r.Float64(), r.Float64()
			case 2:
				b.F, b.L = r.Int64(), -r.Int64()
			case 3:
				b.L, b.Q, b.V = r.Int64(), r.Int64N(1<<50), json.RawMessage(`{"a":[1,"é"]}`)
			case 4:
				for range r.IntN(DistinctCap + 1) {
					b.D = append(b.D, r.Uint64())
				}
				b.X = r.IntN(2) == 0
			}
			w.Buckets = append(w.Buckets, b)
		}
		c.Traits[strings.Repeat("t", 1+i)] = w
	}
	return c
}

// TestComputedCodec round-trips random states through the compact form,
// reads the object form, and rejects damaged input without panicking.
func TestComputedCodec(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		want := randomComputed(r)
		data, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got Computed
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if len(want.Traits) == 0 {
			want.Traits = nil
		}
		for _, w := range want.Traits {
			if len(w.Buckets) == 0 {
				w.Buckets = nil
			}
		}
		if !reflect.DeepEqual(&got, want) {
			t.Fatalf("%d: round trip\n got %+v\nwant %+v", i, got, want)
		}
		type object Computed
		obj, _ := json.Marshal((*object)(want))
		var fromObject Computed
		if err := json.Unmarshal(obj, &fromObject); err != nil || !reflect.DeepEqual(&fromObject, want) {
			t.Fatalf("%d: object form: %v", i, err)
		}
		var s string
		_ = json.Unmarshal(data, &s)
		for cut := 0; cut < len(s); cut += 1 + len(s)/7 {
			var c Computed
			q, _ := json.Marshal(s[:cut])
			_ = json.Unmarshal(q, &c) // an error, never a panic
		}
	}
	p := &Profile{ID: "p", Computed: randomComputed(r)}
	data, _ := json.Marshal(p)
	var back Profile
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back.Computed, p.Computed) && len(p.Computed.Traits) > 0 {
		t.Fatalf("profile round trip: %v", err)
	}
}
