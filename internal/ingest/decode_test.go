package ingest

import (
	"testing"
	"time"
)

func testDecoder(now time.Time) *Decoder {
	return &Decoder{Now: func() time.Time { return now }, NewID: func() string { return "generated" }}
}

func TestClockSkewCorrection(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	d := testDecoder(now)
	// The client's clock is 1 hour fast: it says it sent at 13:00:05 an
	// event from 13:00:00, so the event happened 5 s before receipt.
	m, err := d.DecodeSingle([]byte(`{"userId":"u","event":"e","timestamp":"2026-11-23T13:00:00Z","sentAt":"2026-11-23T13:00:05Z"}`), "track")
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(-5 * time.Second); !m.Event.Timestamp.Equal(want) {
		t.Fatalf("timestamp = %v, want %v", m.Event.Timestamp, want)
	}
	if m.Event.OriginalTimestamp.Format(time.RFC3339) != "2026-11-23T13:00:00Z" || m.Event.MessageID != "generated" {
		t.Fatalf("originalTimestamp %v messageId %q", m.Event.OriginalTimestamp, m.Event.MessageID)
	}
	// Batch-level sentAt applies to items without their own.
	msgs, bad, _, err := d.DecodeBatch([]byte(`{"sentAt":"2026-11-23T11:00:10Z","context":{"app":{"name":"x","build":"1"},"ip":"1.2.3.4"},"batch":[
		{"type":"track","userId":"u","event":"e","timestamp":"2026-11-23T11:00:00Z","context":{"app":{"build":"2"}}},
		{"type":"identify","userId":"u"}]}`))
	if err != nil || len(bad) != 0 || len(msgs) != 2 {
		t.Fatalf("batch: %v %v %d", err, bad, len(msgs))
	}
	if want := now.Add(-10 * time.Second); !msgs[0].Event.Timestamp.Equal(want) {
		t.Fatalf("batch timestamp = %v, want %v", msgs[0].Event.Timestamp, want)
	}
	if !msgs[1].Event.Timestamp.Equal(now) {
		t.Fatalf("no timestamp: %v, want receipt time", msgs[1].Event.Timestamp)
	}
	// Batch context merged under the item's own.
	if got := string(msgs[0].Event.Context); got != `{"app":{"build":"2","name":"x"},"ip":"1.2.3.4"}` {
		t.Fatalf("merged context = %s", got)
	}
	if got := string(msgs[1].Event.Context); got != `{"app":{"build":"1","name":"x"},"ip":"1.2.3.4"}` {
		t.Fatalf("batch context = %s", got)
	}
}

func TestNumericIDs(t *testing.T) {
	m, err := testDecoder(time.Now()).DecodeSingle([]byte(`{"userId":12345,"event":"e"}`), "track")
	if err != nil || m.Event.UserID != "12345" {
		t.Fatalf("%v %q", err, m.Event.UserID)
	}
}
