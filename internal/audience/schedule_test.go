package audience

import (
	"fmt"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	plus2 := time.FixedZone("plus2", 2*3600)
	for _, tc := range []struct {
		schedule string
		after    time.Time
		want     string // RFC 3339 in UTC, or "" for the zero time
	}{
		{"", utc("2024-03-10T05:00:00Z"), ""},
		{"0 6 * * *", utc("2024-03-10T05:59:59.5Z"), "2024-03-10T06:00:00Z"},
		{"0 6 * * *", utc("2024-03-10T06:00:00Z"), "2024-03-11T06:00:00Z"}, // strictly after
		{"0 6 * * *", time.Date(2024, 3, 10, 7, 30, 0, 0, plus2), "2024-03-10T06:00:00Z"},
		{"0 6 * * *", time.Date(2024, 3, 10, 8, 30, 0, 0, plus2), "2024-03-11T06:00:00Z"},
		// 2024-03-31 is a DST change in Europe; schedules ignore it.
		{"30 1 * * *", utc("2024-03-31T00:00:00Z"), "2024-03-31T01:30:00Z"},
		{"*/15 9-17 * * 1-5", utc("2024-03-08T17:50:00Z"), "2024-03-11T09:00:00Z"}, // Friday evening
		{"0 0 29 2 *", utc("2025-03-01T00:00:00Z"), "2028-02-29T00:00:00Z"},
		{"@daily", utc("2024-12-31T23:59:59Z"), "2025-01-01T00:00:00Z"},
		{"@hourly", utc("2024-01-01T10:00:00Z"), "2024-01-01T11:00:00Z"},
		{"@weekly", utc("2024-01-03T00:00:00Z"), "2024-01-07T00:00:00Z"}, // Sundays
		{"@monthly", utc("2024-01-31T12:00:00Z"), "2024-02-01T00:00:00Z"},
		// @every counts from the Unix epoch, not from `after`.
		{"@every 1h", utc("2024-01-01T10:20:30.5Z"), "2024-01-01T11:00:00Z"},
		{"@every 1h", utc("2024-01-01T11:00:00Z"), "2024-01-01T12:00:00Z"},
		{"@every 90m", utc("2024-01-01T00:00:00Z"), "2024-01-01T01:30:00Z"},
		{"@every 7h", utc("1970-01-01T06:59:59Z"), "1970-01-01T07:00:00Z"},
		{"@every 7h", utc("1970-01-02T00:00:00Z"), "1970-01-02T04:00:00Z"},
		{"@every 1h", utc("1969-12-31T23:30:00Z"), "1970-01-01T00:00:00Z"},
		{"@every 1h", utc("1969-12-31T23:00:00Z"), "1970-01-01T00:00:00Z"},
		{"@every 1d", utc("2024-01-01T10:00:00Z"), "2024-01-02T00:00:00Z"},
		{"@every 1s", time.Date(2024, 1, 1, 0, 0, 0, 1, plus2), "2023-12-31T22:00:01Z"},
	} {
		t.Run(tc.schedule+"/"+tc.after.Format(time.RFC3339Nano), func(t *testing.T) {
			src := fmt.Sprintf("id: s\ncondition: 'true'\nschedule: %q\n", tc.schedule)
			if tc.schedule == "" {
				src = "id: s\ncondition: 'true'\n"
			}
			a, err := Parse("s.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			got := a.Next(tc.after)
			if tc.want == "" {
				if !got.IsZero() {
					t.Errorf("Next = %v, want zero", got)
				}
				return
			}
			if got.Location() != time.UTC || got.Format(time.RFC3339Nano) != tc.want {
				t.Errorf("Next = %v, want %s", got, tc.want)
			}
		})
	}
}
