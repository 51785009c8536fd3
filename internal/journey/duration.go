package journey

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var durationPart = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d)`)

// ParseDuration parses a Go duration with one more unit, d (24 hours):
// "7d", "36h", "1d12h", "90m". It must be greater than zero.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	for rest := s; rest != ""; {
		m := durationPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 90m, 36h, 7d)", s)
		}
		rest = rest[len(m[0]):]
		var d time.Duration
		if m[2] == "d" {
			n, err := strconv.ParseFloat(m[1], 64)
			if err != nil || n*24 > float64(1<<63-1)/float64(time.Hour) {
				return 0, fmt.Errorf("%q is out of range", s)
			}
			d = time.Duration(n * 24 * float64(time.Hour))
		} else {
			var err error
			if d, err = time.ParseDuration(m[0]); err != nil {
				return 0, fmt.Errorf("%q is not a duration (e.g. 90m, 36h, 7d)", s)
			}
		}
		if total+d < total {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("%q: must be greater than zero", s)
	}
	return total, nil
}

// FormatDuration formats d in the units ParseDuration reads, using days
// for whole multiples of 24 hours: "3d", "1d12h0m0s", "90m0s" -> "1h30m0s".
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d >= day {
		days, rest := d/day, d%day
		if rest == 0 {
			return strconv.FormatInt(int64(days), 10) + "d"
		}
		return strconv.FormatInt(int64(days), 10) + "d" + rest.String()
	}
	return d.String()
}
