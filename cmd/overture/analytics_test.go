package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/overture-cjo/overture/internal/analytics"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

// recountJourney has a holdout, a goal with a window, an exit criterion,
// an offer, and a second send that the contact policy suppresses for the
// customers without SMS consent.
const recountJourney = `
id: recount
name: Recount
category: marketing
entry: {trigger: {event: Start}}
holdout: 30
goal: {event: Buy, within: 1h}
exit: [{event: Quit}]
start: hello
steps:
  hello: {type: send, channel: email, template: hello, offer: promo, next: pause}
  pause: {type: wait, duration: 2s, next: nudge}
  nudge: {type: send, channel: sms, template: nudge, next: done}
  done: {type: exit, reason: finished}
`

const recountPolicy = "consent:\n  channels: [sms]\n"

// TestJourneyCountersRecount runs a journey with a holdout and a goal
// over a few thousand events through the binary, with SIGKILLs and
// restarts in the middle (while events arrive and while timers are due),
// then recounts every analytics counter from the raw tables (instances
// with their histories, the decision log, the events) and checks that
// the counters the API serves agree exactly: nothing lost, nothing
// counted twice.
func TestJourneyCountersRecount(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		data := t.TempDir()
		s := countersRecount(t, data)
		db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "overture.db")+"?mode=ro&_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		checkRecount(t, s, func(q string, scan func(func(cols ...any) error) error) {
			rows, err := db.Query(q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			defer rows.Close()
			for rows.Next() {
				if err := scan(rows.Scan); err != nil {
					t.Fatal(err)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		})
		reportCommandChecks(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		url := postgresSchema(t)
		s := countersRecount(t, t.TempDir(), "OVERTURE_STORE="+url)
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		checkRecount(t, s, func(q string, scan func(func(cols ...any) error) error) {
			rows, err := conn.Query(context.Background(), q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			defer rows.Close()
			for rows.Next() {
				if err := scan(func(cols ...any) error { return rows.Scan(cols...) }); err != nil {
					t.Fatal(err)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// countersRecount runs the journey through the binary with two kills and
// returns the last server once every instance has ended.
func countersRecount(t *testing.T, data string, env ...string) *server {
	addr := freeAddr(t)
	s := startServer(t, data, addr, env...)
	if st := adminDo(t, s, "PUT", "/v1/policy", "application/yaml", recountPolicy); st != 200 && st != 201 {
		t.Fatalf("PUT policy: %d", st)
	}
	putJourney(t, s, "recount", recountJourney)
	const users = 1500
	send := func(s *server, events []string) {
		t.Helper()
		for i := 0; i < len(events); i += 100 {
			body := `{"batch":[` + strings.Join(events[i:min(i+100, len(events))], ",") + `]}`
			if st, err := postJSON(context.Background(), s.url+"/v1/batch", body); err != nil || st != 200 {
				t.Fatalf("batch: %d %v", st, err)
			}
		}
	}
	var consents, starts, later []string
	for u := range users {
		if u%3 == 0 {
			consents = append(consents, fmt.Sprintf(`{"type":"identify","userId":"ru%d","messageId":"consent-%d","traits":{"consent":{"sms":true}}}`, u, u))
		}
		starts = append(starts, fmt.Sprintf(`{"type":"track","userId":"ru%d","event":"Start","messageId":"start-%d"}`, u, u))
		msg := fmt.Sprintf(`"properties":{"journey":"recount","version":1,"step":"hello","channel":"email","offer":"promo","key":"recount:ru%d:1"}`, u)
		switch {
		case u%4 == 0:
			later = append(later, fmt.Sprintf(`{"type":"track","userId":"ru%d","event":"Buy","messageId":"buy-%d"}`, u, u))
		case u%7 == 1:
			later = append(later, fmt.Sprintf(`{"type":"track","userId":"ru%d","event":"Quit","messageId":"quit-%d"}`, u, u))
		}
		if u%5 == 0 {
			later = append(later, fmt.Sprintf(`{"type":"track","userId":"ru%d","event":"message_delivered","messageId":"dl-%d",%s}`, u, u, msg))
		}
		if u%10 == 0 {
			later = append(later, fmt.Sprintf(`{"type":"track","userId":"ru%d","event":"message_opened","messageId":"op-%d",%s}`, u, u, msg))
		}
	}
	send(s, consents)
	send(s, starts[:users/2])
	s.kill() // acknowledged, some not yet applied

	s = startServer(t, data, addr, env...)
	send(s, starts[users/2:])
	send(s, later)
	time.Sleep(1500 * time.Millisecond) // the first timers fall due
	s.kill()

	s = startServer(t, data, addr, env...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list struct {
			Journeys []struct {
				Waiting int `json:"waiting"`
			} `json:"journeys"`
		}
		s.admin(t, "/v1/journeys", &list)
		if len(list.Journeys) == 1 && list.Journeys[0].Waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances still waiting: %+v\n%s", list, s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.waitIdle(t, 30*time.Second)
	return s
}

// checkRecount recounts the counters from the raw tables (query runs SQL
// and calls scan once per row) and compares them with the API's CSV.
func checkRecount(t *testing.T, s *server, query func(q string, scan func(scan func(cols ...any) error) error)) {
	t.Helper()
	var facts []core.JourneyStat
	add := func(version int, step, metric, dim string, at time.Time) {
		st := core.JourneyStat{Journey: "recount", Version: version, Step: step, Metric: metric, Dim: dim, N: 1}
		if core.DailyStat(metric) {
			st.Day = core.StatDay(at)
		}
		facts = append(facts, st)
	}
	visit := []string{core.RecordSend, core.RecordSuppress, core.RecordDelay, core.RecordWait, core.RecordWaitFor,
		core.RecordBranch, core.RecordUpdate, core.RecordWebhook, core.RecordEnter}
	arm := func(in *core.Instance) string {
		if in.Holdout {
			return core.ArmControl
		}
		return core.ArmTreatment
	}
	instances := map[string]*core.Instance{}
	query(`SELECT profile_id, state FROM journey_instances WHERE journey_id = 'recount'`, func(scan func(...any) error) error {
		var profile string
		var state []byte
		if err := scan(&profile, &state); err != nil {
			return err
		}
		in, err := wire.DecodeInstance(state, profile)
		if err != nil {
			return err
		}
		instances[in.ID] = in
		add(in.Version, "", core.StatEntered, arm(in), in.EnteredAt)
		at := "" // the step the instance is at
		for _, h := range in.History {
			if h.Step != "" {
				at = h.Step
			}
			if h.Step != "" && (slices.Contains(visit, h.Kind) || h.Kind == core.RecordExit) {
				add(in.Version, h.Step, core.StatReached, "", h.At)
			}
			switch h.Kind {
			case core.RecordGoal:
				add(in.Version, at, core.StatGoal, arm(in), h.At)
				add(in.Version, "", core.StatTimeToGoal, core.TimeToGoalDim(arm(in), analytics.Bucket(in.GoalAt.Sub(in.EnteredAt))), h.At)
			case core.RecordExit:
				add(in.Version, at, core.StatExited, in.EndReason, h.At)
			}
		}
		if in.Status != core.InstanceDone {
			return fmt.Errorf("instance %s is %s", in.ID, in.Status)
		}
		return nil
	})
	sentTo := map[string]map[string]bool{} // instance -> step + channel/offer sent
	query(`SELECT body FROM decisions WHERE journey_id = 'recount'`, func(scan func(...any) error) error {
		var body []byte
		if err := scan(&body); err != nil {
			return err
		}
		var d core.Decision
		if err := json.Unmarshal(body, &d); err != nil {
			return err
		}
		switch d.Outcome {
		case core.OutcomeSend:
			add(d.Version, d.Step, core.StatSent, core.MessageDim(d.Channel, d.Offer), d.At)
			if sentTo[d.InstanceID] == nil {
				sentTo[d.InstanceID] = map[string]bool{}
			}
			sentTo[d.InstanceID][d.Step+"\x00"+core.MessageDim(d.Channel, d.Offer)] = true
		case core.OutcomeDelay:
			add(d.Version, d.Step, core.StatDelayed, d.Rule, d.At)
		default:
			add(d.Version, d.Step, core.StatSuppressed, d.Rule, d.At)
		}
		return nil
	})
	for id, in := range instances {
		if in.GoalAt.IsZero() {
			continue
		}
		for k := range sentTo[id] {
			step, dim, _ := strings.Cut(k, "\x00")
			add(in.Version, step, core.StatConverted, dim, in.GoalAt)
		}
	}
	metricOf := map[string]string{core.EventMessageDelivered: core.StatDelivered, core.EventMessageOpened: core.StatOpened,
		core.EventMessageClicked: core.StatClicked, "message_failed": core.StatFailed}
	query(`SELECT body FROM events WHERE label IN ('message_delivered', 'message_opened', 'message_clicked', 'message_failed')`,
		func(scan func(...any) error) error {
			var body []byte
			if err := scan(&body); err != nil {
				return err
			}
			ev, err := wire.DecodeEvent(body)
			if err != nil {
				return err
			}
			var p struct {
				Journey, Step, Channel, Offer string
				Version                       int
			}
			if err := json.Unmarshal(ev.Properties, &p); err != nil {
				return err
			}
			if p.Journey == "recount" {
				add(p.Version, p.Step, metricOf[ev.Label()], core.MessageDim(p.Channel, p.Offer), ev.ReceivedAt)
			}
			return nil
		})

	// What the recount says, as the API's CSV rows: totals per step (no
	// date), and the daily metrics per day summed over steps.
	want := map[string]int64{}
	for _, f := range core.SumJourneyStats(facts) {
		want[fmt.Sprintf("%d,%s,%s,%s,", f.Version, f.Step, f.Metric, f.Dim)] += f.N
		if f.Day != 0 {
			want[fmt.Sprintf("%d,,%s,%s,%s", f.Version, f.Metric, f.Dim, core.StatDate(f.Day).Format(time.DateOnly))] += f.N
		}
	}
	req, _ := http.NewRequest("GET", s.url+"/v1/journeys/recount/analytics?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if resp.StatusCode != 200 || err != nil || len(rows) < 2 {
		t.Fatalf("analytics CSV: %d %v\n%s", resp.StatusCode, err, body)
	}
	got := map[string]int64{}
	for _, r := range rows[1:] {
		if r[3] == "waiting" || r[3] == "cost" {
			continue
		}
		var n int64
		fmt.Sscan(r[6], &n)
		got[strings.Join(r[1:6], ",")] += n
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("counter %s = %d, the recount says %d", k, got[k], want[k])
		}
	}
	// The run exercised what it is meant to.
	for _, k := range []string{"1,,entered,treatment,", "1,,entered,control,", "1,pause,goal,treatment,", "1,pause,goal,control,",
		"1,hello,suppressed,holdout,", "1,nudge,suppressed,consent:sms,", "1,nudge,sent,sms/,", "1,hello,converted,email/promo,",
		"1,hello,delivered,email/promo,", "1,hello,opened,email/promo,", "1,pause,exited,goal,", "1,pause,exited,exit[0] event Quit,",
		"1,done,exited,finished,"} {
		if want[k] == 0 {
			t.Errorf("the run has no %s", k)
		}
	}
	t.Logf("%d instances, %d counters checked", len(instances), len(keys))
}

// reportCommandChecks runs `overture report` against the server: the
// text tables, CSV, JSON, and an unknown journey.
func reportCommandChecks(t *testing.T, s *server) {
	t.Helper()
	report := func(wantCode int, args ...string) string {
		t.Helper()
		cmd := exec.Command(binPath, append([]string{"report"}, args...)...)
		cmd.Env = append(envWithout("OVERTURE_ADMIN_TOKEN", "OVERTURE_SERVER", "OVERTURE_DATA"), "OVERTURE_SERVER="+s.url)
		out, err := cmd.CombinedOutput()
		code := 0
		var xe *exec.ExitError
		if errors.As(err, &xe) {
			code = xe.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("report %v: exit %d, want %d\n%s", args, code, wantCode, out)
		}
		return string(out)
	}
	out := report(0, "recount", "--token", e2eAdmin)
	for _, want := range []string{"Journey recount version 1 (holdout 30%): 1500 entered, 0 waiting now", "Funnel",
		"STEP", "hello", "send", "holdout", "consent:sms", "Goal Buy within 1h0m0s:", "Uplift", "treatment", "control",
		"difference", "Channels", "email", "sms", "Offers", "promo"} {
		if !strings.Contains(out, want) {
			t.Errorf("report has no %q:\n%s", want, out)
		}
	}
	t.Logf("overture report recount:\n%s", out)
	if out := report(0, "--format", "csv", "recount", "--token", e2eAdmin); !strings.HasPrefix(out, "journey,version,step,metric,dimension,date,value\n") {
		t.Errorf("report --format csv:\n%s", out)
	}
	var a struct {
		Journey  string `json:"journey"`
		Versions []struct {
			Entered int `json:"entered"`
		} `json:"versions"`
	}
	if out := report(0, "recount", "--format", "json", "--version", "1", "--token", e2eAdmin); json.Unmarshal([]byte(out), &a) != nil ||
		a.Journey != "recount" || len(a.Versions) != 1 || a.Versions[0].Entered != 1500 {
		t.Errorf("report --format json:\n%s", out)
	}
	if out := report(1, "nope", "--token", e2eAdmin); !strings.Contains(out, `no journey "nope"`) {
		t.Errorf("report of an unknown journey:\n%s", out)
	}
}
