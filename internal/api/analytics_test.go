package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

const promoJourney = `id: promo
name: Promo
entry: {trigger: {event: Go}}
holdout: 50
goal: {event: Bought, within: 1h}
start: hello
steps:
  hello: {type: send, channel: email, template: hi, offer: spring, next: pause}
  pause: {type: wait, duration: 1h, next: done}
  done: {type: exit, reason: finished}
`

// getAnalytics GETs the analytics of a journey with a query.
func (ts *testServer) getAnalytics(t *testing.T, id, query string, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+"/v1/journeys/"+id+"/analytics"+query, nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// TestJourneyAnalyticsAPI runs a journey with a holdout and a goal
// through the server and reads its analytics as JSON and CSV: the funnel,
// the arms and uplift, channel and offer performance with costs, the
// daily series, and the errors of bad queries.
func TestJourneyAnalyticsAPI(t *testing.T) {
	ts := newTestServer(t)
	ts.srv.ChannelCosts = map[string]float64{"email": 0.5}
	if st, m := ts.sendJourney(t, "promo", "application/yaml", testAdmin, promoJourney); st != 201 {
		t.Fatalf("put journey: %d %v", st, m)
	}
	const users = 40
	var goes, buys, receipts []string
	for i := range users {
		goes = append(goes, fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Go","messageId":"go-%d"}`, i, i))
		if i%2 == 0 {
			buys = append(buys, fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Bought","messageId":"buy-%d"}`, i, i))
		}
		if i < 3 {
			receipts = append(receipts, fmt.Sprintf(`{"type":"track","userId":"u%d","event":"message_delivered","messageId":"dl-%d",`+
				`"properties":{"journey":"promo","version":1,"step":"hello","channel":"email","offer":"spring","key":"k%d"}}`, i, i, i))
		}
	}
	for _, items := range [][]string{goes, append(buys, receipts...)} {
		if st, m := ts.post(t, "/v1/batch", `{"batch":[`+strings.Join(items, ",")+`]}`); st != 200 {
			t.Fatalf("batch: %d %v", st, m)
		}
		ts.settle(t)
	}

	st, body, _ := ts.getAnalytics(t, "promo", "")
	if st != 200 {
		t.Fatalf("analytics: %d %s", st, body)
	}
	var a JourneyAnalytics
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	if a.Journey != "promo" || len(a.Versions) != 1 {
		t.Fatalf("analytics: %s", body)
	}
	v := a.Versions[0]
	g := v.Goal
	if g == nil || g.Uplift == nil {
		t.Fatalf("no goal or uplift: %s", body)
	}
	treated, control := g.ByArm[core.ArmTreatment], g.ByArm[core.ArmControl]
	if v.Version != 1 || v.HoldoutPercent != 50 || v.Entered != users || treated.Entered+control.Entered != users ||
		treated.Entered == 0 || control.Entered == 0 {
		t.Errorf("entries: version %d holdout %d entered %d, arms %+v %+v", v.Version, v.HoldoutPercent, v.Entered, treated, control)
	}
	if g.Event != "Bought" || g.Within != "1h0m0s" || g.Reached != users/2 || treated.Reached+control.Reached != users/2 ||
		g.Conversion != 0.5 || !g.ConversionCI.Contains(0.5) || g.TimeToGoal.Count != users/2 {
		t.Errorf("goal: %+v", g)
	}
	if g.Uplift.Treatment.N != int(treated.Entered) || g.Uplift.Control.Goal != int(control.Reached) {
		t.Errorf("uplift %+v does not match the arms %+v %+v", g.Uplift, treated, control)
	}
	if v.Waiting != users/2 || v.Exited["goal"] != users/2 {
		t.Errorf("waiting %d, exited %v; want %d waiting and %d at the goal", v.Waiting, v.Exited, users/2, users/2)
	}
	steps := map[string]StepAnalytics{}
	var order []string
	for _, s := range v.Steps {
		steps[s.Step] = s
		order = append(order, s.Step)
	}
	if strings.Join(order, " ") != "hello pause done" {
		t.Errorf("steps %v, want the definition's order", order)
	}
	hello, pause := steps["hello"], steps["pause"]
	if hello.Type != "send" || hello.Reached != users || hello.Sent != treated.Entered || hello.Suppressed["holdout"] != control.Entered {
		t.Errorf("hello: %+v", hello)
	}
	if pause.Reached != users || pause.Waiting != users/2 || pause.Goal != users/2 || pause.Exited["goal"] != users/2 {
		t.Errorf("pause: %+v", pause)
	}
	if len(v.Channels) != 1 || len(v.Offers) != 1 {
		t.Fatalf("channels %+v offers %+v", v.Channels, v.Offers)
	}
	email, spring := v.Channels[0], v.Offers[0]
	if email.Channel != "email" || email.Sent != treated.Entered || email.Delivered != 3 || email.Converted != treated.Reached ||
		email.Cost != 0.5*float64(treated.Entered) || email.DeliveryRate != 3/float64(treated.Entered) {
		t.Errorf("email: %+v", email)
	}
	if spring.Offer != "spring" || spring.Sent != email.Sent || spring.Delivered != 3 || spring.Cost != 0 {
		t.Errorf("spring: %+v", spring)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if len(a.Daily) != 1 || a.Daily[0].Date != today || a.Daily[0].Entered != users || a.Daily[0].Converted != users/2 ||
		a.Daily[0].Suppressed != control.Entered || a.Daily[0].Messages["email"] != treated.Entered || a.Daily[0].Cost != email.Cost {
		t.Errorf("daily: %+v", a.Daily)
	}

	// A date range fills the days without counts.
	from := time.Now().UTC().AddDate(0, 0, -2).Format(time.DateOnly)
	st, body, _ = ts.getAnalytics(t, "promo", "?version=1&from="+from+"&to="+today)
	a = JourneyAnalytics{}
	if err := json.Unmarshal(body, &a); st != 200 || err != nil || len(a.Daily) != 3 || a.Daily[0].Entered != 0 || a.Daily[2].Entered != users ||
		a.From != from || a.To != today {
		t.Errorf("from %s to %s: %d %s", from, today, st, body)
	}

	// CSV, by format or by Accept.
	for _, q := range []struct{ query, accept string }{{"?format=csv", ""}, {"", "text/csv"}} {
		st, body, hdr := ts.getAnalytics(t, "promo", q.query, "Accept", q.accept)
		if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv %+v: %d %s %s", q, st, hdr.Get("Content-Type"), body)
		}
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range rows[1:] {
			got[strings.Join(r[:6], ",")] = r[6]
		}
		if strings.Join(rows[0], ",") != "journey,version,step,metric,dimension,date,value" {
			t.Errorf("csv header %v", rows[0])
		}
		for k, want := range map[string]string{
			"promo,1,,entered,treatment,":               fmt.Sprint(treated.Entered),
			"promo,1,hello,sent,email/spring,":          fmt.Sprint(treated.Entered),
			"promo,1,pause,waiting,,":                   fmt.Sprint(users / 2),
			"promo,1,,entered,control," + today:         fmt.Sprint(control.Entered),
			"promo,1,,cost,email," + today:              fmt.Sprint(email.Cost),
			"promo,1,,cost,email,":                      fmt.Sprint(email.Cost),
			"promo,1,hello,delivered,email/spring,":     "3",
			"promo,1,hello,suppressed,holdout,":         fmt.Sprint(control.Entered),
			"promo,1,pause,exited,goal,":                fmt.Sprint(users / 2),
			"promo,1,,sent,email/spring," + today:       fmt.Sprint(treated.Entered),
			"promo,1,,goal,treatment," + today:          fmt.Sprint(treated.Reached),
			"promo,1,hello,converted,email/spring,":     fmt.Sprint(treated.Reached),
			"promo,1,,suppressed,holdout," + today:      fmt.Sprint(control.Entered),
			"promo,1,hello,reached,,":                   fmt.Sprint(users),
			"promo,1,pause,goal,control,":               fmt.Sprint(control.Reached),
			"promo,1,,time_to_goal,treatment:0,":        fmt.Sprint(treated.Reached), // under a second
			"promo,1,done,reached,,":                    "",
			"promo,1,,entered,treatment," + today + "x": "",
		} {
			if got[k] != want {
				t.Errorf("csv row %s = %q, want %q", k, got[k], want)
			}
		}
	}

	for _, tc := range []struct {
		id, query   string
		status      int
		code, field string
	}{
		{"promo", "?version=0", 400, "invalid", "version"},
		{"promo", "?version=x", 400, "invalid", "version"},
		{"promo", "?version=2", 404, "not_found", "version"},
		{"promo", "?from=2026-13-01", 400, "invalid", "from"},
		{"promo", "?to=yesterday", 400, "invalid", "to"},
		{"promo", "?from=2026-03-02&to=2026-03-01", 400, "invalid", "to"},
		{"promo", "?format=xml", 400, "invalid", "format"},
		{"nope", "", 404, "not_found", "id"},
	} {
		st, body, _ := ts.getAnalytics(t, tc.id, tc.query)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		if code, field := errorOf(m); st != tc.status || code != tc.code || field != tc.field {
			t.Errorf("%s%s: %d %s %s, want %d %s %s", tc.id, tc.query, st, code, field, tc.status, tc.code, tc.field)
		}
	}
	req, _ := http.NewRequest("GET", ts.URL+"/v1/journeys/promo/analytics", nil)
	if st, _ := do(t, req); st != 401 {
		t.Errorf("without the admin token: %d", st)
	}
}

func TestParseChannelCosts(t *testing.T) {
	got, err := ParseChannelCosts(" email=0.0004, sms = 0.0079,,push=0")
	if err != nil || len(got) != 3 || got["email"] != 0.0004 || got["sms"] != 0.0079 || got["push"] != 0 {
		t.Errorf("costs = %v, %v", got, err)
	}
	if got, err := ParseChannelCosts(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
	for _, bad := range []string{"email", "email=", "=1", "email=-1", "email=x", "email=NaN", "email=Inf"} {
		if _, err := ParseChannelCosts(bad); err == nil || core.ErrorField(err) != "channel-costs" {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}
