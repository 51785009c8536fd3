package core

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecodeValue checks the scalar fast path against encoding/json,
// including the inputs where the two must not differ.
func TestDecodeValue(t *testing.T) {
	for _, raw := range []string{
		`"plain"`, `""`, `"with \"escape\""`, `"tab\t"`, `"é"`, "\"bad \xff\"", `"\u00e9"`,
		`0`, `-1`, `1.5`, `1e3`, `-0.25E-2`, `01`, `+1`, `1.`, `.5`, `0x10`, `Infinity`, `NaN`, `1_000`,
		`true`, `false`, `null`, `[1, "a"]`, `{"a": 1}`, ``, `tru`,
	} {
		got, ok := decodeValue(json.RawMessage(raw))
		var want any
		err := json.Unmarshal([]byte(raw), &want)
		if ok != (err == nil) || ok && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %#v %v, encoding/json %#v %v", raw, got, ok, want, err)
		}
	}
}

func BenchmarkProfileMap(b *testing.B) {
	p := &Profile{ID: "p1", Traits: map[string]Trait{
		"score": {Value: json.RawMessage(`42`)}, "email": {Value: json.RawMessage(`"u-1@example.com"`)},
		"plan": {Value: json.RawMessage(`"pro"`)}, "tags": {Value: json.RawMessage(`["a","b"]`)},
	}, Counts: map[string]int64{"identify": 1}}
	b.ReportAllocs()
	for b.Loop() {
		ProfileMap(p)
	}
}
