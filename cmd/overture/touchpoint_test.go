package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

const transferJourney = `id: money-transfer
name: Money transfer
category: service
entry: {trigger: {event: Transfer Started}, reentry: always}
start: wait
steps:
  wait: {type: wait_for, event: Transfer Completed, timeout: 1d, on_event: done, on_timeout: done}
  done: {type: exit, reason: finished}
`

const travelOffer = `id: travel-insurance
name: Travel insurance
category: upsell
value: 40
eligibility: 'profile.traits.plan == "postpaid"'
cool_off: 1h
outcome: {events: [offer_accepted], within: 7d}
`

// decideCall posts to /v1/decide and decodes the answer.
func decideCall(t *testing.T, s *server, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/v1/decide", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("decide: %v: %s", err, buf.String())
	}
	return resp.StatusCode, out
}

// TestTouchpointAPI runs the touchpoint API through the binary: the
// classic routing case (a high-value customer in a money transfer who
// used web and IVR in the last hour goes straight to a priority agent,
// skipping the bot; others do not), the customer context, ranked offers
// with reasons, the call recorded on the timeline as an impression, and
// a conversion learned by the offer's model, which survives a SIGKILL.
func TestTouchpointAPI(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, data, addr)
	routing, err := os.ReadFile("../../examples/journeys/interactions/routing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if st := adminDo(t, s, "PUT", "/v1/interactions/contact-centre", "application/yaml", string(routing)); st != 201 {
		t.Fatalf("PUT interactions: %d", st)
	}
	if st := adminDo(t, s, "PUT", "/v1/offers/travel-insurance", "application/yaml", travelOffer); st != 201 {
		t.Fatalf("PUT offer: %d", st)
	}
	if st := adminDo(t, s, "PUT", "/v1/offers/other", "application/yaml", "id: x\ncategory: upsell\nvalue: 1\n"); st != 400 {
		t.Fatalf("PUT an offer under another id: %d, want 400", st)
	}
	putJourney(t, s, "money-transfer", transferJourney)

	now := time.Now().UTC()
	n := 0
	ev := func(user, event, props, ctx string) string {
		n++
		return fmt.Sprintf(`{"type":"track","userId":%q,"event":%q,"messageId":"tp-%d","timestamp":%q,"properties":%s,"context":%s}`,
			user, event, n, now.Add(-time.Duration(30-n)*time.Second).Format(time.RFC3339Nano), props, ctx)
	}
	ident := func(user string, ltv int) string {
		return fmt.Sprintf(`{"type":"identify","userId":%q,"traits":{"lifetime_value":%d,"plan":"postpaid"}}`, user, ltv)
	}
	var items []string
	for _, c := range []struct {
		user   string
		ltv    int
		ivr    bool
		inJour bool
	}{{"ann", 25000, true, true}, {"bob", 2000, true, true}, {"cat", 25000, false, true}, {"dan", 25000, true, false}} {
		items = append(items, ident(c.user, c.ltv))
		if c.inJour {
			items = append(items, ev(c.user, "Transfer Started", `{}`, `{}`))
		}
		items = append(items, ev(c.user, "Page Viewed", `{"channel":"web"}`, `{}`))
		if c.ivr {
			items = append(items, ev(c.user, "Call Received", `{}`, `{"channel":"ivr"}`))
		}
	}
	if st, err := postJSON(context.Background(), s.url+"/v1/batch", `{"batch":[`+strings.Join(items, ",")+`]}`); err != nil || st != 200 {
		t.Fatalf("batch: %d %v", st, err)
	}
	s.waitIdle(t, 20*time.Second)

	// The context of a customer, by identifier.
	var cx struct {
		Tier     string `json:"tier"`
		Journeys []struct {
			Journey, Step, Category string
		} `json:"journeys"`
		Interactions struct {
			ByChannel map[string]int `json:"byChannel"`
		} `json:"interactions"`
	}
	if st := s.admin(t, "/v1/profiles/user_id:ann/context", &cx); st != 200 || cx.Tier != "high" || len(cx.Journeys) != 1 ||
		cx.Journeys[0].Step != "wait" || cx.Journeys[0].Category != "service" || cx.Interactions.ByChannel["web"] != 1 || cx.Interactions.ByChannel["ivr"] != 1 {
		t.Fatalf("context of ann: %d %+v", st, cx)
	}
	if st := s.admin(t, "/v1/profiles/user_id:nobody/context", nil); st != 404 {
		t.Errorf("context of an unknown customer: %d, want 404", st)
	}
	if st := s.admin(t, "/v1/profiles/user_id:ann/context?hours=0", nil); st != 400 {
		t.Errorf("hours=0: %d, want 400", st)
	}

	first := func(out map[string]any) (string, bool) {
		acts, _ := out["actions"].([]any)
		if len(acts) == 0 {
			return "", false
		}
		a := acts[0].(map[string]any)
		return fmt.Sprint(a["target"]), a["skipBot"] == true
	}
	for _, c := range []struct {
		user, touchpoint, target string
		skip                     bool
	}{
		{"ann", "ivr", "priority_agent", true},     // the classic case
		{"bob", "ivr", "virtual_assistant", false}, // medium value
		{"cat", "ivr", "virtual_assistant", false}, // no IVR call in the hour
		{"dan", "ivr", "virtual_assistant", false}, // not in a transfer
		{"ann", "chat", "priority_agent", true},    // chat too
		{"ann", "web", "transfer_status", false},   // the web shows the transfer's status
	} {
		st, out := decideCall(t, s, fmt.Sprintf(`{"customer":"user_id:%s","touchpoint":%q,"offers":{"limit":0}}`, c.user, c.touchpoint))
		target, skip := first(out)
		if st != 200 || target != c.target || skip != c.skip {
			t.Errorf("%s at %s: %d, first action %s (skip bot %v), want %s (%v): %v", c.user, c.touchpoint, st, target, skip, c.target, c.skip, out["actions"])
		}
	}
	for _, bad := range []struct{ body, field string }{
		{`{"customer":"user_id:ann","touchpoint":"fax"}`, "touchpoint"},
		{`{"touchpoint":"ivr"}`, "customer"},
		{`{"customer":"user_id:ann","touchpoint":"ivr","offers":{"limit":99}}`, "offers.limit"},
		{`{"customer":"user_id:ann","touchpoint":"ivr","colour":"red"}`, "colour"},
	} {
		st, out := decideCall(t, s, bad.body)
		if errObj, _ := out["error"].(map[string]any); st != 400 || errObj["field"] != bad.field {
			t.Errorf("%s: %d %v, want 400 naming %s", bad.body, st, out, bad.field)
		}
	}

	// Offers: ranked with a reason; the impression is learned from the
	// recorded touchpoint_decision event, and so is the conversion.
	st, out := decideCall(t, s, `{"userId":"ann","touchpoint":"app","offers":{"limit":3,"explain":true}}`)
	offers, _ := out["offers"].([]any)
	if st != 200 || len(offers) != 1 || offers[0].(map[string]any)["id"] != "travel-insurance" || offers[0].(map[string]any)["reason"] == "" {
		t.Fatalf("offers for ann: %d %v", st, out)
	}
	// The touchpoint_decision events are appended without the call
	// waiting for them: wait until they are on the timeline.
	decisions := 0
	for deadline := time.Now().Add(20 * time.Second); ; {
		s.waitIdle(t, 20*time.Second)
		_, events := s.timeline(t, "ann")
		decisions = 0
		for _, e := range events {
			if e["event"] == "touchpoint_decision" {
				decisions++
			}
		}
		if decisions >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if decisions != 4 {
		t.Errorf("ann's timeline has %d touchpoint_decision events, want 4 (one per call)", decisions)
	}
	// Within the cool-off the offer is not eligible, and says why.
	_, out = decideCall(t, s, `{"userId":"ann","touchpoint":"app","offers":{"explain":true}}`)
	if ne, _ := out["notEligible"].([]any); len(out["offers"].([]any)) != 0 || len(ne) != 1 || !strings.Contains(fmt.Sprint(ne[0].(map[string]any)["reason"]), "cool-off") {
		t.Errorf("offers within the cool-off: %v / %v", out["offers"], out["notEligible"])
	}
	conv := fmt.Sprintf(`{"type":"track","userId":"ann","event":"offer_accepted","messageId":"acc-1","properties":{"offer":"travel-insurance"},"timestamp":%q}`,
		time.Now().UTC().Format(time.RFC3339Nano))
	if st, err := postJSON(context.Background(), s.url+"/v1/batch", `{"batch":[`+conv+`]}`); err != nil || st != 200 {
		t.Fatalf("conversion: %d %v", st, err)
	}
	s.waitIdle(t, 20*time.Second)
	model := func() (float64, float64) {
		var o struct {
			Model []struct {
				Impressions, Conversions float64
			} `json:"model"`
		}
		if st := s.admin(t, "/v1/offers/travel-insurance", &o); st != 200 || len(o.Model) != 1 {
			t.Fatalf("GET offer: %d %+v", st, o)
		}
		return o.Model[0].Impressions, o.Model[0].Conversions
	}
	if imp, conv := model(); imp != 1 || conv != 1 {
		t.Errorf("model: %v impressions, %v conversions; want 1 and 1", imp, conv)
	}
	s.kill()
	s = startServer(t, data, addr)
	if imp, conv := model(); imp != 1 || conv != 1 {
		t.Errorf("model after a SIGKILL: %v impressions, %v conversions; want 1 and 1", imp, conv)
	}
}
