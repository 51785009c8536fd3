package ingest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// FuzzDecode feeds arbitrary bodies to the batch and single decoders. They
// must never panic; every event they accept must encode to valid JSON that
// decodes back to the same event; every rejection must name a field.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"userId":"u1","event":"Order Completed","properties":{"total":30}}`,
		`{"batch":[{"type":"track","userId":"u","event":"e","timestamp":"2026-11-23T11:00:00Z"},{"type":"identify","anonymousId":"a","traits":{"email":"A@B.co"}}],"context":{"ip":"1.2.3.4"},"sentAt":"2026-11-23T11:00:10Z"}`,
		`{"batch":[7,null,{"type":"alias","userId":"u","previousId":"p"}]}`,
		`{"userId":"\u2028<>&\"","event":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	d := testDecoder(now)
	check := func(t *testing.T, e *core.Event) {
		b := e.AppendJSON(nil)
		if !json.Valid(b) {
			t.Fatalf("encoded event is not JSON: %s", b)
		}
		var back core.Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("decode back: %v: %s", err, b)
		}
		if back.UserID != e.UserID || back.AnonymousID != e.AnonymousID || back.Event != e.Event || back.MessageID != e.MessageID || !back.Timestamp.Equal(e.Timestamp) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", e, back)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, bad, _, err := d.DecodeBatch(body)
		if err != nil && core.ErrorField(err) == "" {
			t.Fatalf("batch error names no field: %v", err)
		}
		for _, m := range msgs {
			check(t, &m.Event)
		}
		for _, b := range bad {
			if b.Err == nil || b.Err.Field == "" {
				t.Fatalf("item error names no field: %+v", b)
			}
		}
		m, err := d.DecodeSingle(body, core.TypeTrack)
		if err != nil {
			if core.ErrorField(err) == "" {
				t.Fatalf("error names no field: %v", err)
			}
			return
		}
		check(t, &m.Event)
	})
}
