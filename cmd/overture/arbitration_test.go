package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// arbitrationPolicy is the defining scenario's policy: consent, and a
// service journey holds marketing (no priority window, so the released
// send goes out at once; no quiet hours on email).
const arbitrationPolicy = `consent: {channels: [email, sms], override_categories: [fraud]}
quiet_hours: [{channel: sms, from: "21:00", to: "08:00"}]
frequency_caps: [{name: marketing_weekly, category: marketing, max: 3, window: 7d}]
suppression: [{name: service_mutes_marketing, while_category: service, suppress_category: marketing, action: hold}]
`

// TestServiceJourneyMutesMarketingE2E is the defining scenario through
// the binary: a customer in a bill-dispute (service) journey gets no
// contract-renewal message while it is active, across a SIGKILL, and
// gets it once the dispute is resolved; a customer who renewed meanwhile
// does not. GET /v1/profiles/{id}/decisions (and /timeline) says why at
// each point.
func TestServiceJourneyMutesMarketingE2E(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { servicesMuteMarketing(t) })
	t.Run("postgres", func(t *testing.T) { servicesMuteMarketing(t, "OVERTURE_STORE="+postgresSchema(t)) })
}

func servicesMuteMarketing(t *testing.T, env ...string) {
	data := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, data, addr, env...)
	if st := adminDo(t, s, "PUT", "/v1/policy", "application/yaml", arbitrationPolicy); st != 201 {
		t.Fatalf("PUT /v1/policy: %d", st)
	}
	if st := adminDo(t, s, "PUT", "/v1/policy", "application/yaml", arbitrationPolicy); st != 200 {
		t.Fatalf("PUT /v1/policy again: %d, want 200 (unchanged)", st)
	}
	if st := adminDo(t, s, "PUT", "/v1/policy", "application/yaml", "quiet_hours: [{channel: sms, from: \"8pm\", to: \"08:00\"}]\n"); st != 400 {
		t.Fatalf("PUT a bad policy: %d, want 400", st)
	}
	for _, id := range []string{"bill-dispute", "contract-renewal"} {
		src, err := os.ReadFile("../../examples/arbitration/" + id + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		putJourney(t, s, id, string(src))
	}
	now := time.Now().UTC()
	track := func(user, event string, n int) string {
		return fmt.Sprintf(`{"type":"track","userId":%q,"event":%q,"messageId":"%s-%d","timestamp":%q}`,
			user, event, user, n, now.Add(time.Duration(n)*time.Millisecond).Format(time.RFC3339Nano))
	}
	post := func(items ...string) {
		t.Helper()
		if st, err := postJSON(context.Background(), s.url+"/v1/batch", `{"batch":[`+strings.Join(items, ",")+`]}`); err != nil || st != 200 {
			t.Fatalf("batch: %d %v", st, err)
		}
		s.waitIdle(t, 20*time.Second)
	}
	consent := func(user string) string {
		return fmt.Sprintf(`{"type":"identify","userId":%q,"traits":{"consent":{"email":true,"sms":true}}}`, user)
	}
	post(consent("ann"), consent("bea"), track("ann", "Bill Disputed", 1), track("bea", "Bill Disputed", 1))
	post(track("ann", "Contract Ending", 2), track("bea", "Contract Ending", 2))

	decisions := func(user string) []map[string]any {
		t.Helper()
		p, _ := s.timeline(t, user)
		var page struct {
			Decisions []map[string]any `json:"decisions"`
		}
		if st := s.admin(t, fmt.Sprintf("/v1/profiles/%s/decisions", p["id"]), &page); st != 200 {
			t.Fatalf("decisions of %s: %d", user, st)
		}
		return page.Decisions
	}
	renewal := func(user string) []string {
		var out []string
		for _, d := range decisions(user) {
			if d["journeyId"] == "contract-renewal" && d["step"] == "offer" {
				rule, _ := d["rule"].(string)
				out = append(out, fmt.Sprint(d["outcome"], " ", rule))
			}
		}
		return out
	}
	held := "delay suppression:service_mutes_marketing"
	for _, u := range []string{"ann", "bea"} {
		if got := renewal(u); len(got) != 1 || got[0] != held {
			t.Fatalf("%s's renewal decisions while the dispute is open: %v, want [%s]", u, got, held)
		}
	}
	d := decisions("ann")[0]
	if !strings.Contains(fmt.Sprint(d["reason"]), `journey "bill-dispute"`) || d["until"] == nil {
		t.Errorf("the hold's reason and until: %v", d)
	}
	if n := countTemplate(listOutbox(t, s), "renewal-offer"); n != 0 {
		t.Fatalf("renewal offers queued during the dispute: %d", n)
	}

	s.kill() // the held sends are committed state: they survive
	s = startServer(t, data, addr, env...)
	post(track("bea", "Contract Renewed", 3))
	post(track("ann", "Dispute Resolved", 4), track("bea", "Dispute Resolved", 4))

	if got := renewal("ann"); len(got) != 2 || got[0] != "send " || got[1] != held {
		t.Errorf("ann's renewal decisions after the dispute: %v, want [send, %s] newest first", got, held)
	}
	if got := renewal("bea"); len(got) != 1 {
		t.Errorf("bea renewed: her renewal decisions should stay [%s], got %v", held, got)
	}
	out := listOutbox(t, s)
	if n := countTemplate(out, "renewal-offer"); n != 1 {
		t.Errorf("renewal offers queued: %d, want 1 (ann's)", n)
	}

	// The timeline interleaves events and decisions, newest first.
	p, _ := s.timeline(t, "ann")
	var tl struct {
		Items []struct {
			Type     string         `json:"type"`
			Event    map[string]any `json:"event"`
			Decision map[string]any `json:"decision"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	if st := s.admin(t, fmt.Sprintf("/v1/profiles/%s/timeline?limit=3", p["id"]), &tl); st != 200 || len(tl.Items) != 3 || tl.NextCursor == "" {
		t.Fatalf("timeline: %d %+v", st, tl)
	}
	kinds := map[string]int{}
	cursor := tl.NextCursor
	for _, it := range tl.Items {
		kinds[it.Type]++
	}
	for cursor != "" {
		tl.Items, tl.NextCursor = nil, ""
		s.admin(t, fmt.Sprintf("/v1/profiles/%s/timeline?limit=3&cursor=%s", p["id"], cursor), &tl)
		for _, it := range tl.Items {
			kinds[it.Type]++
		}
		cursor = tl.NextCursor
	}
	if kinds["event"] != 4 || kinds["decision"] != len(decisions("ann")) {
		t.Errorf("timeline items by type: %v, want 4 events and %d decisions", kinds, len(decisions("ann")))
	}
}

// countTemplate counts outbox entries of a template.
func countTemplate(out []map[string]any, template string) int {
	n := 0
	for _, e := range out {
		if e["template"] == template {
			n++
		}
	}
	return n
}
