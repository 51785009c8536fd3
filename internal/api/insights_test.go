package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

const onboardJourney = `id: onboard
name: Onboard
entry: {trigger: {event: Signup}}
goal: {event: Activated, within: 1d}
start: pause
steps:
  pause: {type: wait, duration: 1h, next: done}
  done: {type: exit, reason: finished}
`

const noGoalJourney = `id: nogoal
name: No goal
entry: {trigger: {event: Signup}}
start: done
steps:
  done: {type: exit, reason: finished}
`

// getInsight GETs a journey's /paths or /drivers with a query.
func (ts *testServer) getInsight(t *testing.T, id, route, query string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+"/v1/journeys/"+id+"/"+route+query, nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// onboardPopulation runs 60 customers through the onboard journey, in
// batches applied one after the other: everyone identifies (plan gold
// for u%5 < 2, with identifiers in the traits) and signs up (on iOS,
// Android or the web by u%3, with identifiers in the context and the
// properties); the even ones take the Tour; those with u%20 == 0, and
// the iOS customers who took the Tour (u%6 == 0), ask for Help; those
// with u%4 == 0 are Activated (the goal).
func onboardPopulation(t *testing.T, ts *testServer) {
	t.Helper()
	for _, j := range []struct{ id, src string }{{"onboard", onboardJourney}, {"nogoal", noGoalJourney}} {
		if st, m := ts.sendJourney(t, j.id, "application/yaml", testAdmin, j.src); st != 201 {
			t.Fatalf("put journey %s: %d %v", j.id, st, m)
		}
	}
	const users = 60
	os := []string{"iOS", "Android", "web"}
	var batches [5][]string
	for u := range users {
		plan := "silver"
		if u%5 < 2 {
			plan = "gold"
		}
		batches[0] = append(batches[0], fmt.Sprintf(`{"type":"identify","userId":"u%d","traits":{"plan":%q,"email":"u%d@example.com","createdAt":"2026-01-%02dT00:00:00Z","account_id":"a%d"}}`, u, plan, u, u%28+1, u))
		batches[1] = append(batches[1], fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Signup","properties":{"order_id":"o%d","source":"ad"},`+
			`"context":{"os":{"name":%q},"ip":"10.0.0.%d","device":{"id":"d%d","type":"phone"}}}`, u, u, os[u%3], u, u))
		if u%2 == 0 {
			batches[2] = append(batches[2], fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Tour"}`, u))
		}
		if u%20 == 0 || u%6 == 0 {
			batches[3] = append(batches[3], fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Help"}`, u))
		}
		if u%4 == 0 {
			batches[4] = append(batches[4], fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Activated"}`, u))
		}
	}
	for _, items := range batches {
		if st, m := ts.post(t, "/v1/batch", `{"batch":[`+strings.Join(items, ",")+`]}`); st != 200 {
			t.Fatalf("batch: %d %v", st, m)
		}
		ts.settle(t)
	}
}

// TestJourneyPathsAPI reads the paths of the onboard journey to the goal
// and to the Help event: exact counts per path, the end markers, the
// Sankey form, a sample, CSV, and the errors of bad queries.
func TestJourneyPathsAPI(t *testing.T) {
	ts := newTestServer(t)
	onboardPopulation(t, ts)

	st, body := ts.getInsight(t, "onboard", "paths", "?top=20")
	if st != 200 {
		t.Fatalf("paths: %d %s", st, body)
	}
	var p JourneyPaths
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, pc := range p.Top {
		got[strings.Join(pc.Steps, " > ")] = pc.Count
	}
	// Each customer's events come in batch order: Tour, Help, Activated.
	// Recount from the generator's rules.
	want := map[string]int{}
	for u := range 60 {
		var steps []string
		if u%2 == 0 {
			steps = append(steps, "Tour")
		}
		if u%20 == 0 || u%6 == 0 {
			steps = append(steps, "Help")
		}
		if u%4 == 0 {
			steps = append(steps, "Activated")
		} else {
			steps = append(steps, "(no goal)")
		}
		want[strings.Join(steps, " > ")]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paths to the goal:\n got %v\nwant %v", got, want)
	}
	if p.Journey != "onboard" || p.End != "goal" || p.Within != "1d" || p.Population != 60 || p.Sampled || p.SampleSize != 60 ||
		p.Sequences != 60 || p.Reached != 15 || p.Open != 45 {
		t.Errorf("paths header: %+v", p.InsightSample)
		t.Errorf("paths: journey %q end %q within %q sequences %d reached %d", p.Journey, p.End, p.Within, p.Sequences, p.Reached)
	}
	// The Sankey nodes of step 1 add up to every sequence.
	total := 0
	for _, n := range p.Sankey.Nodes {
		if n.Step == 1 {
			total += n.Value
		}
	}
	if total != 60 || len(p.Sankey.Links) == 0 {
		t.Errorf("sankey: step 1 holds %d sequences, %d links", total, len(p.Sankey.Links))
	}

	// To a named event, repeats collapsed; settled leaves out the open
	// windows (all of them that did not ask for Help).
	st, body = ts.getInsight(t, "onboard", "paths", "?end=event:Help&collapse=true&within=2h")
	if st != 200 {
		t.Fatalf("paths to Help: %d %s", st, body)
	}
	p = JourneyPaths{}
	_ = json.Unmarshal(body, &p)
	help := 0
	for u := range 60 {
		if u%20 == 0 || u%6 == 0 {
			help++
		}
	}
	if p.End != "event:Help" || p.Within != "2h0m0s" || p.Reached != help || p.Top[0].Steps[len(p.Top[0].Steps)-1] != "(no Help)" {
		t.Errorf("paths to Help: end %q within %q reached %d (want %d), top %v", p.End, p.Within, p.Reached, help, p.Top)
	}
	st, body = ts.getInsight(t, "onboard", "paths", "?end=event:Help&settled=true")
	p = JourneyPaths{}
	_ = json.Unmarshal(body, &p)
	if st != 200 || p.SampleSize != help || p.Sequences != help || p.Open != 0 {
		t.Errorf("settled paths to Help: %d, sample %d, sequences %d, open %d; want %d", st, p.SampleSize, p.Sequences, p.Open, help)
	}

	// A sample of 10 of the 60.
	st, body = ts.getInsight(t, "onboard", "paths", "?sample=10&version=1")
	p = JourneyPaths{}
	_ = json.Unmarshal(body, &p)
	if st != 200 || !p.Sampled || p.SampleSize != 10 || p.Population != 60 || p.Sequences != 10 || p.Version != 1 {
		t.Errorf("sample of 10: %d sampled %v size %d population %d sequences %d", st, p.Sampled, p.SampleSize, p.Population, p.Sequences)
	}

	// CSV: a header, then the top paths.
	st, body = ts.getInsight(t, "onboard", "paths", "?format=csv&top=3")
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if st != 200 || err != nil || len(rows) != 4 || !slices.Equal(rows[0], []string{"rank", "count", "share", "path"}) || rows[1][0] != "1" {
		t.Errorf("paths CSV: %d %v\n%s", st, err, body)
	}

	for _, c := range []struct {
		id, query   string
		status      int
		code, field string
	}{
		{"onboard", "?end=bogus", 400, "invalid", "end"},
		{"onboard", "?end=event:", 400, "invalid", "end"},
		{"onboard", "?within=soon", 400, "invalid", "within"},
		{"onboard", "?sample=0", 400, "invalid", "sample"},
		{"onboard", "?top=0", 400, "invalid", "top"},
		{"onboard", "?max_len=2", 400, "invalid", "max_len"},
		{"onboard", "?collapse=maybe", 400, "invalid", "collapse"},
		{"onboard", "?from=2026-13-01", 400, "invalid", "from"},
		{"onboard", "?version=9", 404, "not_found", "version"},
		{"nope", "", 404, "not_found", "id"},
		{"nogoal", "", 400, "invalid", "end"},
	} {
		st, body := ts.getInsight(t, c.id, "paths", c.query)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		if code, field := errorOf(m); st != c.status || code != c.code || field != c.field {
			t.Errorf("paths of %s%s: %d %s %s, want %d %s %s (%s)", c.id, c.query, st, code, field, c.status, c.code, c.field, body)
		}
	}
	if st, body := ts.getInsight(t, "nogoal", "paths", "?end=event:Tour"); st != 200 {
		t.Errorf("paths of a journey without a goal to an event: %d %s", st, body)
	}
}

// TestJourneyDriversAPI: the iOS customers who took the Tour all ask for
// Help, nobody else but a few (u%20 == 0); the drivers of Help put that
// conjunction first, identifiers never become features, and failing the
// goal has drivers too.
func TestJourneyDriversAPI(t *testing.T) {
	ts := newTestServer(t)
	onboardPopulation(t, ts)

	st, body := ts.getInsight(t, "onboard", "drivers", "?outcome=event:Help&min_support=5")
	if st != 200 {
		t.Fatalf("drivers: %d %s", st, body)
	}
	var d JourneyDrivers
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Drivers) == 0 || !slices.Equal(d.Drivers[0].Features, []string{"context.os.name=iOS", "event.Tour=true"}) {
		t.Fatalf("first driver of Help: %s", body)
	}
	for _, dr := range d.Drivers[:min(4, len(d.Drivers))] {
		t.Logf("%-45s support %2d outcomes %2d RR %.2f [%.2f, %.2f]", dr.Label(), dr.Support, dr.Outcomes, dr.RelativeRisk, dr.CI.Lo, dr.CI.Hi)
	}
	// 10 iOS tourers (u%6 == 0), all of them asked for Help; of the 50
	// others, those with u%20 == 0 and not u%6 == 0: 20, 40.
	if first := d.Drivers[0]; first.Support != 10 || first.Outcomes != 10 || d.Observations != 60 || d.Outcomes != 12 {
		t.Errorf("first driver: support %d outcomes %d of %d observations, %d outcomes", first.Support, first.Outcomes, d.Observations, d.Outcomes)
	}
	if d.Outcome != "event:Help" || d.Within != "1d" || d.Population != 60 || d.Sampled || d.Confidence != 0.95 {
		t.Errorf("drivers header: outcome %q within %q %+v confidence %v", d.Outcome, d.Within, d.InsightSample, d.Confidence)
	}

	// Every feature, to check that identifiers and times are left out.
	st, body = ts.getInsight(t, "onboard", "drivers", "?outcome=event:Help&min_support=1&limit=1000&pairs=0")
	d = JourneyDrivers{}
	_ = json.Unmarshal(body, &d)
	var names []string
	for _, dr := range d.Drivers {
		names = append(names, dr.Label())
	}
	all := strings.Join(names, "\n")
	for _, bad := range []string{"email", "createdAt", "account_id", "order_id", "context.ip", "device.id", "userId", "messageId"} {
		if strings.Contains(all, bad) {
			t.Errorf("a feature names %q:\n%s", bad, all)
		}
	}
	for _, good := range []string{"traits.plan=gold", "context.os.name=web", "event.Tour=true"} {
		if !strings.Contains(all, good) {
			t.Errorf("no feature %q among:\n%s", good, all)
		}
	}

	// Failing the goal (the odd ones, and u%4 == 2): not taking the Tour
	// is not a feature, but being on a plan or an OS can be; the answer
	// counts the failures as outcomes.
	st, body = ts.getInsight(t, "onboard", "drivers", "?min_support=5")
	d = JourneyDrivers{}
	_ = json.Unmarshal(body, &d)
	if st != 200 || d.Outcome != "goal" || d.Observations != 60 || d.Outcomes != 45 {
		t.Errorf("drivers of failing the goal: %d outcome %q, %d observations, %d outcomes\n%s", st, d.Outcome, d.Observations, d.Outcomes, body)
	}

	st, body = ts.getInsight(t, "onboard", "drivers", "?outcome=event:Help&min_support=5&format=csv&limit=2")
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if st != 200 || err != nil || len(rows) != 3 || rows[0][1] != "features" || rows[1][1] != "context.os.name=iOS & event.Tour=true" {
		t.Errorf("drivers CSV: %d %v\n%s", st, err, body)
	}

	for _, c := range []struct {
		id, query   string
		status      int
		code, field string
	}{
		{"onboard", "?outcome=nothing", 400, "invalid", "outcome"},
		{"onboard", "?min_support=0", 400, "invalid", "min_support"},
		{"onboard", "?pairs=101", 400, "invalid", "pairs"},
		{"onboard", "?limit=0", 400, "invalid", "limit"},
		{"onboard", "?settled=perhaps", 400, "invalid", "settled"},
		{"nogoal", "", 400, "invalid", "outcome"},
		{"nope", "?outcome=event:Help", 404, "not_found", "id"},
	} {
		st, body := ts.getInsight(t, c.id, "drivers", c.query)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		if code, field := errorOf(m); st != c.status || code != c.code || field != c.field {
			t.Errorf("drivers of %s%s: %d %s %s, want %d %s %s (%s)", c.id, c.query, st, code, field, c.status, c.code, c.field, body)
		}
	}
}

// TestInsightHalves: reads split in two halves at once see every item
// once and merge their answers; an error of either half is returned.
func TestInsightHalves(t *testing.T) {
	items := make([]int, 5000)
	for i := range items {
		items[i] = i
	}
	var calls atomic.Int32
	var out map[int]int
	err := inHalves(items, func(part []int) (map[int]int, error) {
		calls.Add(1)
		m := map[int]int{}
		for _, x := range part {
			m[x] = 2 * x
		}
		return m, nil
	}, &out)
	if err != nil || calls.Load() != 2 || len(out) != len(items) || out[4999] != 9998 {
		t.Errorf("in halves: %v, %d calls, %d items", err, calls.Load(), len(out))
	}
	err = inHalves(items, func(part []int) (map[int]int, error) {
		if part[0] > 0 {
			return nil, fmt.Errorf("second half failed")
		}
		return map[int]int{}, nil
	}, &out)
	if err == nil || err.Error() != "second half failed" {
		t.Errorf("a failing half: %v", err)
	}
}
