package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The audience test's definitions: a realtime audience over a computed
// trait, a journey entered on joining it, and one entered by every member
// at each refresh.
const (
	vipTrait    = `{"name": "spend_7d", "aggregate": "sum", "event": "Order Completed", "property": "properties.revenue", "window": "7d"}`
	vipAudience = `id: vip
name: Big spenders
condition: 'profile.computed.spend_7d >= 100.0'
activation: {traits: [spend_7d, email]}
`
	vipWelcome = `id: vip-welcome
name: VIP welcome
category: marketing
entry: {trigger: {audience: vip}}
start: hello
steps:
  hello: {type: send, channel: email, template: vip-welcome, next: done}
  done: {type: exit, reason: welcomed}
`
	vipDigest = `id: vip-digest
name: VIP digest
category: marketing
entry: {trigger: {audience: vip, on: refresh}, reentry: always}
start: digest
steps:
  digest: {type: send, channel: email, template: vip-digest, next: done}
  done: {type: exit, reason: sent}
`
)

// adminDo sends an admin request with a body and returns the status.
func adminDo(t *testing.T, s *server, method, path, contentType, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	st, err := httpDo(req)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestAudienceTriggeredJourneys runs audiences end to end through the
// binary: a customer whose computed spend crosses the threshold joins the
// audience in real time, the join is an audience_entered event on the
// timeline and enters the welcome journey; each refresh enters every
// member into the digest journey (re-entry always); a customer whose
// spend leaves the window would leave at the next refresh. The audience's
// size, preview and refresh history answer over the API, and everything
// survives a SIGKILL.
func TestAudienceTriggeredJourneys(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, data, addr)
	if st := adminDo(t, s, "PUT", "/v1/traits/spend_7d", "application/json", vipTrait); st != 201 {
		t.Fatalf("PUT trait: %d", st)
	}
	if st := adminDo(t, s, "PUT", "/v1/audiences/vip", "application/yaml", vipAudience); st != 201 {
		t.Fatalf("PUT audience: %d", st)
	}
	putJourney(t, s, "vip-welcome", vipWelcome)
	putJourney(t, s, "vip-digest", vipDigest)

	now := time.Now().UTC()
	order := func(n int, user string, revenue int, at time.Time) string {
		return fmt.Sprintf(`{"type":"track","userId":%q,"event":"Order Completed","messageId":"o-%d","timestamp":%q,"properties":{"revenue":%d}}`,
			user, n, at.Format(time.RFC3339Nano), revenue)
	}
	body := `{"batch":[` + strings.Join([]string{
		`{"type":"identify","userId":"u1","traits":{"email":"u1@example.com"}}`,
		order(1, "u1", 60, now), order(2, "u2", 60, now), order(3, "u1", 60, now),
		order(4, "u3", 500, now.Add(-8*24*time.Hour)), // outside the window: never counts
	}, ",") + `]}`
	if st, err := postJSON(context.Background(), s.url+"/v1/batch", body); err != nil || st != 200 {
		t.Fatalf("batch: %d %v", st, err)
	}
	s.waitIdle(t, 20*time.Second)

	var aud struct {
		Size    int64 `json:"size"`
		Preview []struct {
			ProfileID string         `json:"profileId"`
			Traits    map[string]any `json:"traits"`
		} `json:"preview"`
		Refreshes []map[string]any `json:"refreshes"`
	}
	if st := s.admin(t, "/v1/audiences/vip", &aud); st != 200 || aud.Size != 1 || len(aud.Preview) != 1 || aud.Preview[0].Traits["spend_7d"] != 120.0 {
		t.Fatalf("GET /v1/audiences/vip: %d %+v", st, aud)
	}
	profile, events := s.timeline(t, "u1")
	if aud.Preview[0].ProfileID != profile["id"] {
		t.Fatalf("preview %+v is not u1 (%v)", aud.Preview, profile["id"])
	}
	if !hasEvent(events, "audience_entered") {
		t.Fatalf("u1's timeline has no audience_entered: %v", events)
	}

	s.kill() // the memberships and instances are committed; nothing is redone
	s = startServer(t, data, addr)
	for range 2 {
		if st := adminDo(t, s, "POST", "/v1/audiences/vip/refresh", "", ""); st != 200 {
			t.Fatalf("refresh: %d", st)
		}
		s.waitIdle(t, 20*time.Second)
	}
	templates := map[string]int{}
	for _, e := range listOutbox(t, s) {
		if e["profileId"] == profile["id"] {
			templates[fmt.Sprint(e["template"])]++
		} else {
			t.Errorf("a message for another customer: %v", e)
		}
	}
	if templates["vip-welcome"] != 1 || templates["vip-digest"] != 2 {
		t.Fatalf("u1's messages: %v, want one welcome and a digest per refresh", templates)
	}
	if st := s.admin(t, "/v1/audiences/vip", &aud); st != 200 || len(aud.Refreshes) != 2 || aud.Size != 1 {
		t.Fatalf("refresh history: %d %+v", st, aud)
	}
	for _, r := range aud.Refreshes {
		if r["size"] != 1.0 || r["entered"] != 0.0 || r["exited"] != 0.0 || r["scanned"] != 3.0 {
			t.Errorf("refresh %v: want size 1, nobody entering or leaving, 3 profiles scanned", r)
		}
	}
	_, events = s.timeline(t, "u1")
	n := 0
	for _, e := range events {
		if e["event"] == "audience_refreshed" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("u1 has %d audience_refreshed events, want 2", n)
	}
	for _, u := range []string{"u2", "u3"} {
		if _, evs := s.timeline(t, u); hasEvent(evs, "audience_entered") {
			t.Errorf("%s entered the audience", u)
		}
	}
}

func hasEvent(events []map[string]any, name string) bool {
	for _, e := range events {
		if e["event"] == name {
			return true
		}
	}
	return false
}
