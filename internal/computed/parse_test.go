package computed

import (
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "traits.yaml:1:1: empty file: expected traits:"},
		{"traits: [\n", "traits.yaml:1:1: did not find expected node content"},
		{"- a\n", "traits.yaml:1:1: expected a mapping with traits:"},
		{"other: 1\n", "traits.yaml:1:1: other: unknown field (traits)\ntraits.yaml:1:1: traits: required"},
		{"traits: []\n", "traits.yaml:1:9: traits: no traits declared"},
		{"traits:\n  - name: spend_7d\n    aggregate: avg\n    event: X\n    property: properties.revenue\n    window: 7d\n",
			`traits.yaml:3:16: traits[0].aggregate: unknown aggregate "avg" (count, sum, min, max, last, first_time, last_time, distinct_count, expression)`},
		{"traits:\n  - name: Spend\n    aggregate: count\n    event: X\n    window: 7d\n",
			`traits.yaml:2:11: traits[0].name: "Spend" must match ^[a-z][a-z0-9_]*$`},
		{"traits:\n  - aggregate: count\n    window: 7d\n",
			"traits.yaml:2:5: traits[0].name: required\ntraits.yaml:2:5: traits[0]: give event, filter or both"},
		{"traits:\n  - name: a\n    aggregate: sum\n    event: X\n    window: 7d\n",
			"traits.yaml:2:5: traits[0].property: required for sum"},
		{"traits:\n  - name: a\n    aggregate: last\n    event: X\n    property: revenue\n    window: 7d\n",
			`traits.yaml:5:15: traits[0].property: "revenue" must start with one of type, event, name, messageId, userId, anonymousId, timestamp, properties, traits, context`},
		{"traits:\n  - name: a\n    aggregate: last\n    event: X\n    property: properties..x\n    window: 7d\n",
			`traits.yaml:5:15: traits[0].property: "properties..x" has an empty part`},
		{"traits:\n  - name: a\n    aggregate: count\n    event: X\n    window: 7 days\n",
			`traits.yaml:5:13: traits[0].window: "7 days" is not a duration (e.g. 90m, 36h, 7d)`},
		{"traits:\n  - name: a\n    aggregate: count\n    event: X\n",
			"traits.yaml:2:5: traits[0].window: required"},
		{"traits:\n  - name: a\n    aggregate: count\n    filter: 'event.properties.x +'\n    window: 1h\n",
			"traits.yaml:4:34: traits[0].filter: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"},
		{"traits:\n  - name: a\n    aggregate: count\n    filter: '1 + 2'\n    window: 1h\n",
			"traits.yaml:4:13: traits[0].filter: filter must be bool, not int"},
		{"traits:\n  - name: a\n    aggregate: count\n    event: X\n    window: 1h\n    windw: 2h\n",
			"traits.yaml:6:5: traits[0].windw: unknown field (name, aggregate, event, filter, property, window, expression)"},
		{"traits:\n  - name: a\n    aggregate: count\n    event: [X]\n    window: 1h\n",
			"traits.yaml:4:12: traits[0].event: expected a string"},
		{"traits:\n  - name: a\n    aggregate: count\n    event: X\n    window: 1h\n  - name: a\n    aggregate: sum\n    event: Y\n    property: properties.v\n    window: 1h\n",
			`traits.yaml:6:5: traits[1].name: "a" is already declared at line 2`},
	} {
		_, err := Parse("traits.yaml", []byte(tc.src))
		if err == nil {
			t.Errorf("%q: no error, want %s", tc.src, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.src, err, tc.want)
		}
	}
}

func TestParseBucketWidth(t *testing.T) {
	for _, tc := range []struct {
		window string
		width  time.Duration
		span   int64
	}{
		{"500ms", time.Second, 1},
		{"64s", time.Second, 64},
		{"65s", 2 * time.Second, 33},
		{"7d", 9450 * time.Second, 64},
		{"30d", 40500 * time.Second, 64},
	} {
		set, err := Parse("t.yaml", []byte("traits:\n  - name: a\n    aggregate: count\n    event: X\n    window: "+tc.window+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		tr := set.Trait("a")
		if tr.BucketWidth() != tc.width || tr.span != tc.span {
			t.Errorf("%s: width %s span %d, want %s %d", tc.window, tr.BucketWidth(), tr.span, tc.width, tc.span)
		}
	}
}

// TestParseTrait checks the one-trait form the API stores, and that a
// trait's Source parses back to the same definition.
func TestParseTrait(t *testing.T) {
	set := mustParse(t, `traits:
  - name: spend_7d
    aggregate: sum
    event: Order Completed
    filter: 'event.properties.currency == "USD"'
    property: properties.revenue
    window: 7d
`)
	orig := set.Traits[0]
	back, err := ParseTrait("api", []byte(orig.Source()))
	if err != nil {
		t.Fatalf("%v\n%s", err, orig.Source())
	}
	if back.def != orig.def || back.Name != orig.Name || back.Window != orig.Window {
		t.Fatalf("round trip changed the trait:\n%s", orig.Source())
	}
	if _, err := ParseTrait("api", []byte(`{"name": "x", "aggregate": "count"}`)); err == nil || !strings.Contains(err.Error(), "api:1:1: window: required") {
		t.Fatalf("missing window: %v", err)
	}
	if _, err := NewSet([]*Trait{orig, back}); err == nil {
		t.Fatal("NewSet accepted a name twice")
	}
}

// TestExpressionSource checks that an expression trait's Source parses
// back to it.
func TestExpressionSource(t *testing.T) {
	set := mustParse(t, "traits:\n  - {name: a, aggregate: count, event: X, window: 1h}\n  - {name: r, aggregate: expression, expression: 'computed.a * 2.0'}\n")
	back, err := ParseTrait("api", []byte(set.Traits[1].Source()))
	if err != nil || back.Expr != "computed.a * 2.0" || back.def != set.Traits[1].def {
		t.Fatalf("%v %+v", err, back)
	}
}
