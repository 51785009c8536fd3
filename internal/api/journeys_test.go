package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// welcomeV1 sends a welcome email on sign-up, then waits an hour.
const welcomeV1 = `id: welcome
name: Welcome
category: onboarding
entry:
  trigger: {event: Signed Up}
start: hello
steps:
  hello: {type: send, channel: email, template: welcome, next: pause}
  pause: {type: wait, duration: 1h, next: bye}
  bye: {type: exit, reason: welcomed}
`

// sendJourney PUTs body to /v1/journeys/{id} with the admin token (unless
// token is "") and the given Content-Type (unless "").
func (ts *testServer) sendJourney(t *testing.T, id, contentType, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("PUT", ts.URL+"/v1/journeys/"+id, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func TestPutJourney(t *testing.T) {
	ts := newTestServer(t)
	welcomeV2 := strings.Replace(welcomeV1, "duration: 1h", "duration: 2h", 1)
	welcomeJSON := `{"id":"welcome","name":"Welcome","category":"onboarding","entry":{"trigger":{"event":"Signed Up"}},` +
		`"start":"hello","steps":{"hello":{"type":"send","channel":"sms","template":"welcome","next":"bye"},"bye":{"type":"exit"}}}`
	badDuration := strings.Replace(welcomeV1, "duration: 1h", `duration: "3 days"`, 1)
	tests := []struct {
		name, id, contentType, token, body string
		status                             int
		version                            float64
		created                            bool
		code, field, message               string
	}{
		{name: "create", id: "welcome", contentType: "application/yaml", token: testAdmin, body: welcomeV1, status: 201, version: 1, created: true},
		{name: "unchanged", id: "welcome", contentType: "text/yaml", token: testAdmin, body: welcomeV1, status: 200, version: 1},
		{name: "new version", id: "welcome", token: testAdmin, body: welcomeV2, status: 201, version: 2, created: true},
		{name: "JSON", id: "welcome", contentType: "application/json; charset=utf-8", token: testAdmin, body: welcomeJSON, status: 201, version: 3, created: true},
		{name: "JSON unchanged", id: "welcome", contentType: "application/json", token: testAdmin, body: welcomeJSON, status: 200, version: 3},
		{name: "invalid", id: "welcome", contentType: "application/yaml", token: testAdmin, body: badDuration, status: 400,
			code: "invalid", field: "steps.pause.duration", message: `welcome.yaml:9:33: steps.pause.duration: "3 days" is not a duration`},
		{name: "invalid YAML", id: "welcome", token: testAdmin, body: "id: [", status: 400, code: "invalid", message: "welcome.yaml:1:1: invalid YAML"},
		{name: "empty", id: "welcome", token: testAdmin, body: "", status: 400, code: "invalid", message: "empty file"},
		{name: "id mismatch", id: "other", token: testAdmin, body: welcomeV1, status: 400, code: "invalid", field: "id", message: `the definition's id is "welcome", not "other"`},
		{name: "no token", id: "welcome", body: welcomeV1, status: 401, code: "unauthorized", field: "Authorization"},
		{name: "wrong token", id: "welcome", token: "adm_wrong", body: welcomeV1, status: 401, code: "unauthorized", field: "Authorization"},
		{name: "media type", id: "welcome", contentType: "text/plain", token: testAdmin, body: welcomeV1, status: 415, code: "unsupported", field: "Content-Type"},
		{name: "too large", id: "welcome", token: testAdmin, body: welcomeV1 + "# " + strings.Repeat("x", 1<<20) + "\n", status: 413, code: "too_large", field: "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, m := ts.sendJourney(t, tt.id, tt.contentType, tt.token, tt.body)
			if st != tt.status {
				t.Fatalf("status %d, want %d: %v", st, tt.status, m)
			}
			if tt.code == "" {
				if m["id"] != "welcome" || m["version"] != tt.version || m["created"] != tt.created {
					t.Fatalf("got %v, want version %v created %v", m, tt.version, tt.created)
				}
				return
			}
			code, field := errorOf(m)
			msg, _ := m["error"].(map[string]any)["message"].(string)
			if code != tt.code || field != tt.field || !strings.Contains(msg, tt.message) {
				t.Fatalf("got %s field %q message %q, want %s field %q message containing %q", code, field, msg, tt.code, tt.field, tt.message)
			}
		})
	}
	// The rejected requests left the journey at version 3.
	st, j := ts.admin(t, "GET", "/v1/journeys/welcome")
	if st != 200 || j["version"] != 3.0 || len(j["versions"].([]any)) != 3 || !strings.Contains(j["source"].(string), `"channel":"sms"`) {
		t.Fatalf("GET after PUTs: %d %v", st, j)
	}
}

func TestJourneyStates(t *testing.T) {
	ts := newTestServer(t)
	for _, id := range []string{"welcome", "winback", "promo"} {
		if st, m := ts.sendJourney(t, id, "", testAdmin, strings.Replace(welcomeV1, "id: welcome", "id: "+id, 1)); st != 201 {
			t.Fatalf("PUT %s: %d %v", id, st, m)
		}
	}
	list := func(query string) []string {
		t.Helper()
		st, m := ts.admin(t, "GET", "/v1/journeys"+query)
		if st != 200 {
			t.Fatalf("list%s: %d %v", query, st, m)
		}
		var ids []string
		for _, j := range m["journeys"].([]any) {
			j := j.(map[string]any)
			if _, ok := j["source"]; ok {
				t.Errorf("list shows the source of %v", j["id"])
			}
			ids = append(ids, fmt.Sprintf("%s:%s", j["id"], j["state"]))
		}
		return ids
	}
	state := func(action, id string, wantStatus int, wantState string) {
		t.Helper()
		st, m := ts.admin(t, "POST", "/v1/journeys/"+id+"/"+action)
		if st != wantStatus {
			t.Fatalf("%s %s: %d %v, want %d", action, id, st, m, wantStatus)
		}
		if wantState != "" && (m["state"] != wantState || m["id"] != id) {
			t.Fatalf("%s %s answered %v, want state %s", action, id, m, wantState)
		}
	}

	if got := strings.Join(list(""), " "); got != "promo:active welcome:active winback:active" {
		t.Fatalf("list: %s", got)
	}
	_, j := ts.admin(t, "GET", "/v1/journeys/welcome")
	if j["name"] != "Welcome" || j["trigger"] != "Signed Up" || fmt.Sprint(j["steps"]) != "[hello pause bye]" || j["category"] != "onboarding" {
		t.Fatalf("summary: %v", j)
	}
	state("pause", "welcome", 200, "paused")
	state("pause", "welcome", 200, "paused") // idempotent
	state("resume", "welcome", 200, "active")
	state("archive", "winback", 200, "archived")
	state("resume", "winback", 409, "")
	state("pause", "winback", 409, "") // archived stays archived
	state("pause", "promo", 200, "paused")
	state("pause", "nope", 404, "")
	if st, m := ts.admin(t, "GET", "/v1/journeys/nope"); st != 404 {
		t.Fatalf("GET unknown journey: %d %v", st, m)
	}

	if got := strings.Join(list(""), " "); got != "promo:paused welcome:active" {
		t.Fatalf("list without archived: %s", got)
	}
	if got := strings.Join(list("?archived=true"), " "); got != "promo:paused welcome:active winback:archived" {
		t.Fatalf("list with archived: %s", got)
	}
	if st, m := ts.admin(t, "GET", "/v1/journeys?archived=maybe"); st != 400 {
		t.Fatalf("archived=maybe: %d %v", st, m)
	} else if _, field := errorOf(m); field != "archived" {
		t.Fatalf("archived=maybe names field %q", field)
	}
	// Re-applying an archived journey stores a version but does not revive it.
	ts.sendJourney(t, "winback", "", testAdmin, strings.Replace(welcomeV1, "id: welcome", "id: winback", 1)+"# v2\n")
	if _, j := ts.admin(t, "GET", "/v1/journeys/winback"); j["state"] != "archived" || j["version"] != 2.0 {
		t.Fatalf("archived journey after apply: %v", j)
	}
}

func TestProfileJourneysAndOutbox(t *testing.T) {
	ts := newTestServer(t)
	if st, m := ts.sendJourney(t, "welcome", "", testAdmin, welcomeV1); st != 201 {
		t.Fatalf("PUT: %d %v", st, m)
	}
	// a-1 signs up on a device (entering the journey); u-1 exists apart;
	// then identify merges the two profiles.
	for _, b := range []struct{ path, body string }{
		{"/v1/track", `{"userId":"u-1","event":"Opened"}`},
		{"/v1/track", `{"anonymousId":"a-1","event":"Signed Up"}`},
		{"/v1/track", `{"userId":"u-2","event":"Signed Up"}`},
	} {
		if st, m := ts.post(t, b.path, b.body); st != 200 {
			t.Fatalf("%s: %d %v", b.path, st, m)
		}
	}
	ts.settle(t)
	_, anon := ts.admin(t, "GET", "/v1/profiles?anonymousId=a-1")
	_, user := ts.admin(t, "GET", "/v1/profiles?userId=u-1")
	anonID, userID := anon["id"].(string), user["id"].(string)
	if anonID == "" || anonID == userID {
		t.Fatalf("a-1 and u-1 should have separate profiles before identify: %v %v", anon, user)
	}
	if st, m := ts.post(t, "/v1/identify", `{"userId":"u-1","anonymousId":"a-1"}`); st != 200 {
		t.Fatalf("identify: %d %v", st, m)
	}
	ts.settle(t)
	_, merged := ts.admin(t, "GET", "/v1/profiles?userId=u-1")
	survivor := merged["id"].(string)

	for _, id := range []string{anonID, userID} {
		st, m := ts.admin(t, "GET", "/v1/profiles/"+id+"/journeys")
		if st != 200 || m["profileId"] != survivor {
			t.Fatalf("journeys of %s: %d %v, want profileId %s", id, st, m, survivor)
		}
		active, past := m["active"].([]any), m["past"].([]any)
		if len(active) != 1 || len(past) != 0 {
			t.Fatalf("journeys of %s: active %v past %v", id, active, past)
		}
		in := active[0].(map[string]any)
		if in["journeyId"] != "welcome" || in["version"] != 1.0 || in["status"] != "active" || in["step"] != "pause" || in["due"] == nil {
			t.Fatalf("instance: %v", in)
		}
		var kinds []string
		for _, h := range in["history"].([]any) {
			kinds = append(kinds, h.(map[string]any)["kind"].(string))
		}
		if k := strings.Join(kinds, ","); !strings.HasPrefix(k, "entered,send,") || !strings.Contains(k, "wait") {
			t.Fatalf("history kinds %s: %v", k, in["history"])
		}
	}
	if st, m := ts.admin(t, "GET", "/v1/profiles/nobody/journeys"); st != 404 {
		t.Fatalf("unknown profile: %d %v", st, m)
	}
	if st, m := ts.admin(t, "GET", "/v1/profiles/"+survivor+"/journeys?limit=1001"); st != 400 {
		t.Fatalf("limit=1001: %d %v", st, m)
	}

	// The outbox holds one welcome per sign-up.
	st, o := ts.admin(t, "GET", "/v1/messages")
	entries := o["messages"].([]any)
	if st != 200 || len(entries) != 2 {
		t.Fatalf("outbox: %d %v", st, o)
	}
	first := entries[0].(map[string]any)
	if first["template"] != "welcome" || first["channel"] != "email" || first["step"] != "hello" || o["next"] != entries[1].(map[string]any)["id"] {
		t.Fatalf("outbox: %v", o)
	}
	// Paging: after the first entry comes only the second; after the last, nothing.
	_, page := ts.admin(t, "GET", fmt.Sprintf("/v1/messages?limit=1&after=%.0f", first["id"].(float64)))
	if e := page["messages"].([]any); len(e) != 1 || e[0].(map[string]any)["id"] != o["next"] {
		t.Fatalf("second page: %v", page)
	}
	_, page = ts.admin(t, "GET", fmt.Sprintf("/v1/messages?after=%.0f", o["next"].(float64)))
	if e := page["messages"].([]any); len(e) != 0 || page["next"] != o["next"] {
		t.Fatalf("empty page: %v", page)
	}
	// By profile: a merged-away id means the survivor.
	_, mine := ts.admin(t, "GET", "/v1/messages?profile="+anonID)
	if e := mine["messages"].([]any); len(e) != 1 || e[0].(map[string]any)["profileId"] != survivor {
		t.Fatalf("outbox of %s: %v", anonID, mine)
	}
	// No dispatcher runs here: both are queued, with no attempts yet.
	if st, q := ts.admin(t, "GET", "/v1/messages?status=queued"); st != 200 || len(q["messages"].([]any)) != 2 {
		t.Fatalf("queued messages: %d %v", st, q)
	} else if m := q["messages"].([]any)[0].(map[string]any); m["status"] != "queued" || m["attemptCount"] != 0.0 || len(m["attempts"].([]any)) != 0 {
		t.Fatalf("a queued message: %v", m)
	}
	if _, d := ts.admin(t, "GET", "/v1/messages?status=dead"); len(d["messages"].([]any)) != 0 {
		t.Fatalf("dead letters: %v", d)
	}
	// Only a dead letter can be re-driven.
	for _, c := range []struct {
		path   string
		status int
		field  string
	}{{fmt.Sprintf("/v1/messages/%.0f/retry", first["id"].(float64)), 409, "id"}, {"/v1/messages/999999/retry", 404, "id"}, {"/v1/messages/x/retry", 400, "id"}} {
		st, m := ts.admin(t, "POST", c.path)
		if _, field := errorOf(m); st != c.status || field != c.field {
			t.Errorf("POST %s: %d %v, want %d naming %s", c.path, st, m, c.status, c.field)
		}
	}
	for _, q := range []struct{ query, field string }{{"profile=nobody", "profile"}, {"after=-1", "after"}, {"limit=0", "limit"}, {"status=lost", "status"}} {
		st, m := ts.admin(t, "GET", "/v1/messages?"+q.query)
		if _, field := errorOf(m); st/100 != 4 || field != q.field {
			t.Errorf("outbox?%s: %d %v, want field %s", q.query, st, m, q.field)
		}
	}
}

// TestJourneyRoutesNeedAdmin checks every journey route refuses requests
// without the admin token.
func TestJourneyRoutesNeedAdmin(t *testing.T) {
	ts := newTestServer(t)
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/journeys"}, {"GET", "/v1/journeys/welcome"}, {"PUT", "/v1/journeys/welcome"},
		{"POST", "/v1/journeys/welcome/pause"}, {"POST", "/v1/journeys/welcome/resume"}, {"POST", "/v1/journeys/welcome/archive"},
		{"GET", "/v1/profiles/p/journeys"}, {"GET", "/v1/messages"}, {"POST", "/v1/messages/1/retry"},
	} {
		req, _ := http.NewRequest(r.method, ts.URL+r.path, strings.NewReader(welcomeV1))
		req.SetBasicAuth(testKey, "") // a write key is not enough
		if st, m := do(t, req); st != 401 {
			t.Errorf("%s %s without the admin token: %d %v", r.method, r.path, st, m)
		}
	}
}
