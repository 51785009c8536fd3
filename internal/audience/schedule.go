package audience

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/overture-cjo/overture/internal/journey"
)

// schedule is a parsed schedule, evaluated in UTC.
type schedule interface {
	next(after time.Time) time.Time
}

// cronSchedule is a 5-field spec or a descriptor such as @daily.
type cronSchedule struct{ s cron.Schedule }

// next relies on the spec carrying no time zone: robfig/cron then works in
// the location of its argument, which Audience.Next makes UTC.
func (c cronSchedule) next(after time.Time) time.Time { return c.s.Next(after) }

// everySchedule is @every D: the instants k·D since the Unix epoch, so the
// grid does not depend on when the engine started or last refreshed. It
// works in Unix nanoseconds, so it is good until 2262.
type everySchedule struct{ d time.Duration }

func (e everySchedule) next(after time.Time) time.Time {
	n, d := after.UnixNano(), int64(e.d)
	k := n / d
	if n%d < 0 {
		k-- // floor for instants before the epoch
	}
	if k+1 > math.MaxInt64/d {
		return time.Time{} // beyond 2262: never
	}
	return time.Unix(0, (k+1)*d).UTC()
}

// scheduleCheckFrom is where parseSchedule looks for a first firing: a
// fixed instant, so parsing does not read the clock.
var scheduleCheckFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// parseSchedule parses a standard 5-field cron spec (minute hour
// day-of-month month day-of-week) or a descriptor (@yearly, @monthly,
// @weekly, @daily, @hourly, or @every DURATION, a duration as journeys
// write them: 90m, 36h, 7d). Schedules run in UTC, so a TZ= or CRON_TZ=
// prefix is refused.
func parseSchedule(spec string) (schedule, error) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, errors.New("schedules run in UTC; remove the time zone")
	}
	if rest, ok := strings.CutPrefix(spec, "@every"); ok && (rest == "" || rest[0] == ' ') {
		d, err := journey.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, err
		}
		if d%time.Second != 0 {
			return nil, errors.New("@every needs a whole number of seconds")
		}
		return everySchedule{d}, nil
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	c := cronSchedule{s}
	if c.next(scheduleCheckFrom).IsZero() {
		return nil, errors.New("it never fires")
	}
	return c, nil
}
