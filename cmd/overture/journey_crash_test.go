package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// crashJourney waits on a timer, sends, then waits for an event or a
// timeout and sends again: every instance passes two timers and, for half
// the customers, an event.
const crashJourney = `
id: crash
name: Crash test
category: service
entry: {trigger: {event: Start}}
start: pause
steps:
  pause: {type: wait, duration: 2s, next: first}
  first: {type: send, channel: email, template: first, next: ping}
  ping: {type: wait_for, event: Ping, timeout: 8s, on_event: pinged, on_timeout: late}
  pinged: {type: send, channel: sms, template: pinged, next: done}
  late: {type: send, channel: sms, template: late, next: done}
  done: {type: exit, reason: finished}
`

// TestJourneyCrashRecovery starts instances that wait on timers and on
// events, kills the server with SIGKILL twice while they wait (and while
// events for them arrive), and checks that every instance finishes, each
// step's message is queued exactly once, and no timer is lost.
func TestJourneyCrashRecovery(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { journeyCrash(t) })
	t.Run("postgres", func(t *testing.T) { journeyCrash(t, "OVERTURE_STORE="+postgresSchema(t)) })
}

func journeyCrash(t *testing.T, env ...string) {
	data := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, data, addr, env...)
	putJourney(t, s, "crash", crashJourney)

	const users = 300
	send := func(s *server, events []string) {
		t.Helper()
		for i := 0; i < len(events); i += 100 {
			body := `{"batch":[` + strings.Join(events[i:min(i+100, len(events))], ",") + `]}`
			if st, err := postJSON(context.Background(), s.url+"/v1/batch", body); err != nil || st != 200 {
				t.Fatalf("batch: %d %v", st, err)
			}
		}
	}
	var starts, pings []string
	for u := 0; u < users; u++ {
		starts = append(starts, fmt.Sprintf(`{"type":"track","userId":"cu%d","event":"Start","messageId":"start-%d"}`, u, u))
		if u%2 == 0 {
			pings = append(pings, fmt.Sprintf(`{"type":"track","userId":"cu%d","event":"Ping","messageId":"ping-%d"}`, u, u))
		}
	}
	send(s, starts)
	time.Sleep(1 * time.Second) // instances wait on their 2s timers
	s.kill()

	s = startServer(t, data, addr, env...)
	time.Sleep(2500 * time.Millisecond) // timers fire; instances wait for Ping
	send(s, pings[:len(pings)/2])
	s.kill() // some pings applied, maybe some not yet: acked ones are in the log

	s = startServer(t, data, addr, env...)
	send(s, pings[len(pings)/2:])

	// Every instance ends: 2s + up to 8s of timers after the kills.
	deadline := time.Now().Add(30 * time.Second)
	var entries []map[string]any
	for {
		entries = listOutbox(t, s)
		if len(entries) >= 2*users || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	perUser := map[string][]string{}
	keys := map[string]bool{}
	for _, e := range entries {
		k := e["key"].(string)
		if keys[k] {
			t.Errorf("outbox key %s twice", k)
		}
		keys[k] = true
		perUser[e["profileId"].(string)] = append(perUser[e["profileId"].(string)], e["template"].(string))
	}
	if len(entries) != 2*users {
		t.Fatalf("outbox has %d messages, want %d (two per instance)\n%s", len(entries), 2*users, s.output())
	}
	pinged, late := 0, 0
	for p, ts := range perUser {
		if len(ts) != 2 || ts[0] != "first" || (ts[1] != "pinged" && ts[1] != "late") {
			t.Errorf("profile %s got %v, want first then pinged or late", p, ts)
		}
		if len(ts) == 2 && ts[1] == "pinged" {
			pinged++
		} else {
			late++
		}
	}
	// Every Ping is sent after its instance began waiting for it (its
	// first timer was due before the first restart ended).
	if pinged != users/2 {
		t.Errorf("%d instances saw their Ping, want %d", pinged, users/2)
	}
	// Each instance's history is the journey's steps once each, in
	// order: no step ran twice across the kills.
	for u := 0; u < users; u += 7 {
		var prof struct {
			ID string `json:"id"`
		}
		if st := s.admin(t, fmt.Sprintf("/v1/profiles?userId=cu%d", u), &prof); st != 200 {
			t.Fatalf("profile of cu%d: %d", u, st)
		}
		var js struct {
			Active []map[string]any `json:"active"`
			Past   []struct {
				EndReason string `json:"endReason"`
				History   []struct {
					Step string `json:"step"`
					Kind string `json:"kind"`
				} `json:"history"`
			} `json:"past"`
		}
		s.admin(t, "/v1/profiles/"+prof.ID+"/journeys", &js)
		if len(js.Active) != 0 || len(js.Past) != 1 || js.Past[0].EndReason != "finished" {
			t.Errorf("cu%d: %d active, past %+v; want one finished instance", u, len(js.Active), js.Past)
			continue
		}
		var steps []string
		for _, h := range js.Past[0].History {
			steps = append(steps, h.Step+":"+h.Kind)
		}
		branch := "late"
		if u%2 == 0 {
			branch = "pinged"
		}
		want := []string{":entered", "pause:wait", "pause:resumed", "first:send", "ping:wait_for", "ping:resumed", branch + ":send", "done:exit"}
		if strings.Join(steps, " ") != strings.Join(want, " ") {
			t.Errorf("cu%d history %v, want %v", u, steps, want)
		}
	}
	var list struct {
		Journeys []struct {
			ID      string `json:"id"`
			Waiting int    `json:"waiting"`
		} `json:"journeys"`
	}
	s.admin(t, "/v1/journeys", &list)
	if len(list.Journeys) != 1 || list.Journeys[0].Waiting != 0 {
		t.Errorf("journeys = %+v, want crash with none waiting", list.Journeys)
	}
	t.Logf("%d instances: %d pinged, %d timed out", users, pinged, late)
}

// putJourney applies a definition through the API.
func putJourney(t *testing.T, s *server, id, src string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", s.url+"/v1/journeys/"+id, strings.NewReader(src))
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	req.Header.Set("Content-Type", "application/yaml")
	st, err := httpDo(req)
	if err != nil || (st != 200 && st != 201) {
		t.Fatalf("PUT journey %s: %d %v", id, st, err)
	}
}

// listOutbox returns every outbox message.
func listOutbox(t *testing.T, s *server) []map[string]any {
	t.Helper()
	var all []map[string]any
	after := 0.0
	for {
		var page struct {
			Entries []map[string]any `json:"messages"`
		}
		s.admin(t, fmt.Sprintf("/v1/messages?after=%d&limit=1000", int64(after)), &page)
		if len(page.Entries) == 0 {
			return all
		}
		all = append(all, page.Entries...)
		after = page.Entries[len(page.Entries)-1]["id"].(float64)
	}
}
