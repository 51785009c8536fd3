package simulate

import (
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/machine"
)

// FormatOffset formats a duration compactly, largest unit first, for a
// relative trace line: "0s", "45s", "1h30m", "2d3h", "1m500ms", "-1h".
func FormatOffset(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", 1}} {
		if n := d / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.name)
			d -= n * u.size
		}
	}
	return b.String()
}

// RelativeLine renders a trace record relative to start, as test files
// expect it: "+OFFSET JOURNEY [STEP] KIND [DETAIL] [-> NEXT]", the version
// left out, and a wait's (or a delayed send's) "until TIME" given as an
// offset from start too.
// Runs of spaces are collapsed to one.
func RelativeLine(r machine.Record, start time.Time) string {
	parts := []string{"+" + FormatOffset(r.At.Sub(start)), r.Journey}
	if r.Step != "" {
		parts = append(parts, r.Step)
	}
	parts = append(parts, r.Kind)
	if d := r.Detail; d != "" {
		if r.Kind == core.RecordWait || r.Kind == core.RecordWaitFor || r.Kind == core.RecordDelay {
			d = relativeUntil(d, start)
		}
		parts = append(parts, d)
	}
	if r.Next != "" {
		parts = append(parts, "->", r.Next)
	}
	return normalize(strings.Join(parts, " "))
}

// relativeUntil rewrites the first "until RFC3339" as "until +OFFSET".
func relativeUntil(detail string, start time.Time) string {
	i := strings.Index(detail, "until ")
	if i < 0 {
		return detail
	}
	at := detail[i+len("until "):]
	rest := ""
	if j := strings.IndexByte(at, ' '); j >= 0 {
		at, rest = at[:j], at[j:]
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return detail
	}
	return detail[:i] + "until +" + FormatOffset(t.Sub(start)) + rest
}

// normalize collapses runs of white space to one space and trims the ends.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// LineMatches reports whether an expected line matches a trace line: it is
// equal to it, or a prefix of it that ends at a word boundary ("+1h send"
// matches "+1h send email x", but "+1h" does not match "+1h30m ...").
// Both are compared with runs of spaces collapsed.
func LineMatches(want, got string) bool {
	want, got = normalize(want), normalize(got)
	return got == want || strings.HasPrefix(got, want+" ")
}

// Mismatch says why a trace did not match what was expected.
type Mismatch struct {
	// Want is the index of the expected line that was not found, or -1
	// when every expected line matched but (exact) the trace has more.
	Want int
	// After is how many trace lines were consumed by the expected lines
	// before Want (the search for Want started at trace line After).
	After int
	// Matched holds, for each trace line, the index of the expected line
	// it matched, or -1.
	Matched []int
}

// Match checks expected lines against trace lines. Each expected line must
// match (LineMatches) a trace line after the one the previous expected line
// matched: the expected lines are a subsequence of the trace. If exact, they
// must match the trace line for line, with no trace line left over. It
// returns nil when they match.
func Match(want, got []string, exact bool) *Mismatch {
	m := &Mismatch{Want: -1, Matched: make([]int, len(got))}
	for i := range m.Matched {
		m.Matched[i] = -1
	}
	j := 0
	for i, w := range want {
		m.After = j
		found := false
		for ; j < len(got); j++ {
			if LineMatches(w, got[j]) {
				m.Matched[j] = i
				j++
				found = true
				break
			}
			if exact {
				break
			}
		}
		if !found {
			m.Want = i
			return m
		}
	}
	m.After = j
	if exact && len(got) > len(want) {
		return m
	}
	return nil
}
