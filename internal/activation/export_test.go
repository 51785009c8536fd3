package activation

import (
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"
)

var exportRows = []Row{
	{ProfileID: "p1", Since: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Traits: map[string]any{
		"email": "ann@example.com", "orders": 3.0, "vip": true, "tags": []any{"a", "b"}}},
	{ProfileID: "p2", Since: time.Date(2026, 11, 20, 11, 30, 0, 500e6, time.FixedZone("CET", 3600)), Traits: map[string]any{
		"email": `Bob "B", Jr.`, "orders": json.Number("12345678901234567890"), "vip": nil}},
	{ProfileID: "p3", Since: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
}

func TestWriteCSV(t *testing.T) {
	var b strings.Builder
	if err := WriteCSV(&b, []string{"email", "orders", "vip", "tags"}, Rows(exportRows)); err != nil {
		t.Fatal(err)
	}
	want := "profile_id,since,email,orders,vip,tags\n" +
		"p1,2026-11-20T10:00:00Z,ann@example.com,3,true,\"[\"\"a\"\",\"\"b\"\"]\"\n" +
		"p2,2026-11-20T10:30:00.5Z,\"Bob \"\"B\"\", Jr.\",12345678901234567890,,\n" +
		"p3,2026-11-21T00:00:00Z,,,,\n"
	if got := b.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestWriteNDJSON(t *testing.T) {
	var b strings.Builder
	if err := WriteNDJSON(&b, []string{"email", "orders"}, Rows(exportRows)); err != nil {
		t.Fatal(err)
	}
	want := `{"profileId":"p1","since":"2026-11-20T10:00:00Z","traits":{"email":"ann@example.com","orders":3}}
{"profileId":"p2","since":"2026-11-20T10:30:00.5Z","traits":{"email":"Bob \"B\", Jr.","orders":12345678901234567890}}
{"profileId":"p3","since":"2026-11-21T00:00:00Z","traits":{"email":null,"orders":null}}
`
	if got := b.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// No traits chosen: an empty object, not null.
	b.Reset()
	if err := WriteNDJSON(&b, nil, Rows(exportRows[:1])); err != nil || b.String() != `{"profileId":"p1","since":"2026-11-20T10:00:00Z","traits":{}}`+"\n" {
		t.Fatalf("no traits: %q %v", b.String(), err)
	}
}

func TestWritersStopAtError(t *testing.T) {
	boom := errors.New("store down")
	rows := func(yield func(Row, error) bool) {
		if yield(exportRows[0], nil) {
			yield(Row{}, boom)
		}
	}
	for name, write := range map[string]func(*strings.Builder, iter.Seq2[Row, error]) error{
		"csv":    func(b *strings.Builder, r iter.Seq2[Row, error]) error { return WriteCSV(b, nil, r) },
		"ndjson": func(b *strings.Builder, r iter.Seq2[Row, error]) error { return WriteNDJSON(b, nil, r) },
	} {
		var b strings.Builder
		if err := write(&b, rows); !errors.Is(err, boom) {
			t.Errorf("%s: %v, want the rows' error", name, err)
		}
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, ""}, {"a,b", "a,b"}, {"", ""}, {1.5, "1.5"}, {1e21, "1e+21"}, {false, "false"},
		{map[string]any{"k": "<v>"}, `{"k":"<v>"}`}, {time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05Z"},
	} {
		if got := Text(c.v); got != c.want {
			t.Errorf("Text(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}
