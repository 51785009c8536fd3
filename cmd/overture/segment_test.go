package main

import (
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

// TestSegmentClient sends track, identify and alias with the official
// Segment Go client to the real binary and reads the merged profile back.
func TestSegmentClient(t *testing.T) {
	s := startServer(t, t.TempDir(), freeAddr(t))
	client, err := analytics.NewWithConfig(e2eKey, analytics.Config{Endpoint: s.url, Interval: 50 * time.Millisecond, BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []analytics.Message{
		analytics.Track{AnonymousId: "seg-anon", Event: "Product Viewed", Properties: analytics.NewProperties().Set("sku", "X1")},
		analytics.Identify{AnonymousId: "seg-anon", UserId: "seg-user", Traits: analytics.NewTraits().SetEmail("Seg@Example.com").Set("plan", "pro")},
		analytics.Track{UserId: "seg-user", Event: "Order Completed", Properties: analytics.NewProperties().SetRevenue(42)},
		analytics.Track{AnonymousId: "seg-phone", Event: "App Opened"},
		analytics.Alias{PreviousId: "seg-phone", UserId: "seg-user"},
		analytics.Page{UserId: "seg-user", Name: "Checkout"},
	}
	for _, m := range msgs {
		if err := client.Enqueue(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Close(); err != nil { // flushes
		t.Fatal(err)
	}
	s.waitIdle(t, 10*time.Second)

	p, events := s.timeline(t, "seg-user")
	if len(events) != len(msgs) {
		t.Fatalf("timeline has %d events, want %d: %v", len(events), len(msgs), events)
	}
	var byEmail, byAnon, byPhoneDevice map[string]any
	s.admin(t, "/v1/profiles?email=seg@example.com", &byEmail)
	s.admin(t, "/v1/profiles?anonymousId=seg-anon", &byAnon)
	s.admin(t, "/v1/profiles?anonymousId=seg-phone", &byPhoneDevice)
	for name, o := range map[string]map[string]any{"email": byEmail, "anonymousId": byAnon, "aliased device": byPhoneDevice} {
		if o["id"] != p["id"] {
			t.Errorf("%s resolves to %v, want the merged profile %v", name, o["id"], p["id"])
		}
	}
	counts := p["counts"].(map[string]any)
	if counts["Product Viewed"] != 1.0 || counts["Order Completed"] != 1.0 || counts["App Opened"] != 1.0 || counts["alias"] != 1.0 {
		t.Errorf("counts = %v", counts)
	}
	if p["traits"].(map[string]any)["plan"].(map[string]any)["value"] != "pro" {
		t.Errorf("traits = %v", p["traits"])
	}
}
