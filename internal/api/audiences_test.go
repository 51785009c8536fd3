package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/activation"
	"github.com/overture-cjo/overture/internal/core"
)

const ordersTrait = `name: orders
aggregate: count
event: Order Completed
window: 30d
`

const spendTrait = `{"name":"spend","aggregate":"sum","event":"Order Completed","property":"properties.total","window":"30d"}`

// vipAudience is pro customers with an order, exported with three traits
// (orders is computed, the others are profile traits) to HOOK.
const vipAudience = `id: vip
name: VIPs
description: Pro customers who ordered
condition: 'has(profile.traits.plan) && profile.traits.plan == "pro" && profile.computed.orders >= 1.0'
schedule: "0 6 * * *"
activation:
  traits: [email, orders, first_name]
  webhook:
    url: HOOK
    secret_env: OVERTURE_TEST_HOOK_SECRET
`

// send makes an admin request with a body and answers the status and the
// decoded JSON.
func (ts *testServer) send(t *testing.T, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

// raw makes an admin GET and answers the response and its body as text.
func (ts *testServer) raw(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// wantError checks an error answer's status and field.
func wantError(t *testing.T, what string, st int, m map[string]any, status int, field string) {
	t.Helper()
	if _, f := errorOf(m); st != status || f != field {
		t.Errorf("%s: %d %v, want %d naming field %q", what, st, m, status, field)
	}
}

// webhookSink receives activation calls and checks their signatures.
type webhookSink struct {
	key []byte

	mu    sync.Mutex
	pages []activation.Page
	errs  []error // Verify's verdict on each call
}

func (h *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p activation.Page
	err := json.Unmarshal(body, &p)
	if err == nil {
		err = activation.Verify(h.key, r.Header, body, time.Now(), time.Minute)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pages, h.errs = append(h.pages, p), append(h.errs, err)
}

func TestAudienceLifecycle(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	key := []byte("activation test key")
	t.Setenv("OVERTURE_TEST_HOOK_SECRET", "whsec_"+base64.StdEncoding.EncodeToString(key))
	sink := &webhookSink{key: key}
	hook := httptest.NewServer(sink)
	defer hook.Close()

	// Traits: created, unchanged, in JSON.
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		version                 float64
		created                 bool
	}{
		{"orders", "application/yaml", ordersTrait, 201, 1, true},
		{"orders", "", ordersTrait, 200, 1, false},
		{"spend", "application/json", spendTrait, 201, 1, true},
	} {
		st, m := ts.send(t, "PUT", "/v1/traits/"+c.name, c.contentType, c.body)
		if st != c.status || m["name"] != c.name || m["version"] != c.version || m["created"] != c.created {
			t.Fatalf("PUT trait %s: %d %v, want %d version %v created %v", c.name, st, m, c.status, c.version, c.created)
		}
	}
	st, m := ts.send(t, "PUT", "/v1/audiences/vip", "", strings.Replace(vipAudience, "HOOK", hook.URL, 1))
	if st != 201 || m["id"] != "vip" || m["version"] != 1.0 || m["created"] != true {
		t.Fatalf("PUT audience: %d %v", st, m)
	}

	// Four customers; u1 and u4 are pro and ordered.
	for _, e := range []struct{ path, body string }{
		{"/v1/identify", `{"userId":"u1","traits":{"plan":"pro","email":"ann@example.com","first_name":"Ann"}}`},
		{"/v1/track", `{"userId":"u1","event":"Order Completed","properties":{"total":30}}`},
		{"/v1/identify", `{"userId":"u2","traits":{"plan":"pro","email":"bea@example.com"}}`},
		{"/v1/identify", `{"userId":"u3","traits":{"plan":"free","email":"cy@example.com"}}`},
		{"/v1/track", `{"userId":"u3","event":"Order Completed","properties":{"total":5}}`},
		{"/v1/identify", `{"userId":"u4","traits":{"plan":"pro","email":"dan@example.com","first_name":"Dan \"D\", Jr."}}`},
		{"/v1/track", `{"userId":"u4","event":"Order Completed","properties":{"total":12.5}}`},
		{"/v1/track", `{"userId":"u4","event":"Order Completed","properties":{"total":7.5}}`},
	} {
		if st, m := ts.post(t, e.path, e.body); st != 200 {
			t.Fatalf("%s: %d %v", e.path, st, m)
		}
	}
	ts.settle(t)
	pid := map[string]string{}
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		_, p := ts.admin(t, "GET", "/v1/profiles?userId="+u)
		pid[u], _ = p["id"].(string)
	}
	members, err := ts.store.AudienceMembers(ctx, "vip", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var memberIDs []string
	since := map[string]string{}
	for _, mb := range members {
		memberIDs = append(memberIDs, mb.ProfileID)
		since[mb.ProfileID] = mb.Since.UTC().Format(time.RFC3339Nano)
	}
	want := []string{pid["u1"], pid["u4"]}
	sort.Strings(want)
	if fmt.Sprint(memberIDs) != fmt.Sprint(want) {
		t.Fatalf("members %v, want u1 and u4 %v", memberIDs, want)
	}
	first, second := want[0], want[1]
	row := map[string]map[string]any{
		pid["u1"]: {"email": "ann@example.com", "orders": 1.0, "first_name": "Ann", "spend": 30.0},
		pid["u4"]: {"email": "dan@example.com", "orders": 2.0, "first_name": `Dan "D", Jr.`, "spend": 20.0},
	}

	// The profile shows its computed traits and audiences, not the windows.
	_, p := ts.admin(t, "GET", "/v1/profiles/"+pid["u4"])
	if ct := p["computedTraits"].(map[string]any); ct["orders"] != 2.0 || ct["spend"] != 20.0 || len(ct) != 2 {
		t.Errorf("computedTraits = %v", p["computedTraits"])
	}
	if auds := p["audiences"].([]any); len(auds) != 1 || auds[0].(map[string]any)["id"] != "vip" || auds[0].(map[string]any)["since"] != since[pid["u4"]] {
		t.Errorf("audiences = %v", p["audiences"])
	}
	if _, ok := p["computed"]; ok {
		t.Errorf("the profile shows its raw computed windows: %v", p["computed"])
	}
	if _, p2 := ts.admin(t, "GET", "/v1/profiles?userId=u2"); fmt.Sprint(p2["audiences"]) != "[]" || p2["computedTraits"].(map[string]any)["orders"] != 0.0 {
		t.Errorf("u2: audiences %v computedTraits %v", p2["audiences"], p2["computedTraits"])
	}

	// Traits list, one trait.
	st, m = ts.admin(t, "GET", "/v1/traits")
	if tr := m["traits"].([]any); st != 200 || len(tr) != 2 || tr[0].(map[string]any)["name"] != "orders" || tr[1].(map[string]any)["aggregate"] != "sum" {
		t.Fatalf("GET /v1/traits: %d %v", st, m)
	}
	if _, ok := m["backfill"]; !ok {
		t.Errorf("GET /v1/traits lacks backfill: %v", m)
	}
	if st, m := ts.admin(t, "GET", "/v1/traits/spend"); st != 200 || m["property"] != "properties.total" || m["window"] != "30d" || m["source"] != spendTrait {
		t.Errorf("GET /v1/traits/spend: %d %v", st, m)
	}

	// List and detail: size, schedule, preview.
	st, m = ts.admin(t, "GET", "/v1/audiences")
	list := m["audiences"].([]any)
	if st != 200 || len(list) != 1 {
		t.Fatalf("GET /v1/audiences: %d %v", st, m)
	}
	a := list[0].(map[string]any)
	if a["id"] != "vip" || a["name"] != "VIPs" || a["size"] != 2.0 || a["realtime"] != true || a["schedule"] != "0 6 * * *" ||
		a["lastRefresh"] != nil || a["version"] != 1.0 || !strings.HasSuffix(fmt.Sprint(a["nextRefresh"]), "T06:00:00Z") {
		t.Errorf("listed audience: %v", a)
	}
	if _, ok := a["source"]; ok {
		t.Errorf("the list shows the source")
	}
	if act := a["activation"].(map[string]any); fmt.Sprint(act["traits"]) != "[email orders first_name]" ||
		act["webhook"].(map[string]any)["secretEnv"] != "OVERTURE_TEST_HOOK_SECRET" {
		t.Errorf("activation = %v", act)
	}
	st, m = ts.admin(t, "GET", "/v1/audiences/vip?preview=1")
	preview := m["preview"].([]any)
	if st != 200 || m["size"] != 2.0 || !strings.Contains(m["source"].(string), "id: vip") || len(preview) != 1 || fmt.Sprint(m["refreshes"]) != "[]" {
		t.Fatalf("GET /v1/audiences/vip: %d %v", st, m)
	}
	if pr := preview[0].(map[string]any); pr["profileId"] != first || pr["since"] != since[first] ||
		fmt.Sprint(pr["traits"]) != fmt.Sprint(map[string]any{"email": row[first]["email"], "orders": row[first]["orders"], "first_name": row[first]["first_name"]}) {
		t.Errorf("preview = %v", pr)
	}
	if _, m := ts.admin(t, "GET", "/v1/audiences/vip"); len(m["preview"].([]any)) != 2 {
		t.Errorf("default preview: %v", m["preview"])
	}

	// Refresh: nothing changes, and it is recorded.
	st, m = ts.admin(t, "POST", "/v1/audiences/vip/refresh")
	if st != 200 || m["audience"] != "vip" || m["trigger"] != "api" || m["scanned"] != 4.0 || m["size"] != 2.0 || m["entered"] != 0.0 || m["exited"] != 0.0 {
		t.Fatalf("refresh: %d %v", st, m)
	}
	_, m = ts.admin(t, "GET", "/v1/audiences/vip")
	if refs := m["refreshes"].([]any); len(refs) != 1 || refs[0].(map[string]any)["trigger"] != "api" || m["lastRefresh"].(map[string]any)["size"] != 2.0 {
		t.Errorf("after refresh: refreshes %v lastRefresh %v", m["refreshes"], m["lastRefresh"])
	}

	// Exports, a member per page.
	defer func(n int) { exportPage = n }(exportPage)
	exportPage = 1
	resp, body := ts.raw(t, "/v1/audiences/vip/members")
	wantCSV := "profile_id,since,email,orders,first_name\n" +
		first + "," + since[first] + ",ann@example.com,1,Ann\n" +
		second + "," + since[second] + ",dan@example.com,2,\"Dan \"\"D\"\", Jr.\"\n"
	if first != pid["u1"] {
		t.Fatalf("u1 is expected to sort first (%v)", want)
	}
	if resp.StatusCode != 200 || body != wantCSV || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="vip-members.csv"` {
		t.Errorf("CSV export: %d %v\n%s\nwant\n%s", resp.StatusCode, resp.Header, body, wantCSV)
	}
	resp, body = ts.raw(t, "/v1/audiences/vip/members?format=ndjson&traits=spend,first_name,nope")
	wantNDJSON := `{"profileId":"` + first + `","since":"` + since[first] + `","traits":{"first_name":"Ann","nope":null,"spend":30}}` + "\n" +
		`{"profileId":"` + second + `","since":"` + since[second] + `","traits":{"first_name":"Dan \"D\", Jr.","nope":null,"spend":20}}` + "\n"
	if resp.StatusCode != 200 || body != wantNDJSON || resp.Header.Get("Content-Type") != "application/x-ndjson" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="vip-members.ndjson"` {
		t.Errorf("NDJSON export: %d %v\n%s\nwant\n%s", resp.StatusCode, resp.Header, body, wantNDJSON)
	}
	if _, body := ts.raw(t, "/v1/audiences/vip/members?format=csv&traits="); body != "profile_id,since\n"+first+","+since[first]+"\n"+second+","+since[second]+"\n" {
		t.Errorf("export without traits:\n%s", body)
	}

	// Activation: one member per page, each call signed.
	st, m = ts.admin(t, "POST", "/v1/audiences/vip/activate?pageSize=1")
	if st != 200 || m["pages"] != 2.0 || m["members"] != 2.0 || m["url"] != hook.URL || !strings.HasPrefix(m["activationId"].(string), "act_") {
		t.Fatalf("activate: %d %v", st, m)
	}
	if len(sink.pages) != 2 {
		t.Fatalf("the webhook got %d calls, want 2", len(sink.pages))
	}
	for i, pg := range sink.pages {
		if sink.errs[i] != nil {
			t.Errorf("call %d: %v", i, sink.errs[i])
		}
		id := want[i]
		if pg.Audience != "vip" || pg.ActivationID != m["activationId"] || pg.Page != i+1 || pg.Last != (i == 1) || len(pg.Members) != 1 ||
			pg.Members[0].ProfileID != id || pg.Members[0].Traits["orders"] != row[id]["orders"] || pg.Members[0].Traits["first_name"] != row[id]["first_name"] {
			t.Errorf("call %d: %+v", i, pg)
		}
	}
	if st, m := ts.admin(t, "POST", "/v1/audiences/vip/activate"); st != 200 || m["pages"] != 1.0 || m["members"] != 2.0 || !sink.pages[2].Last {
		t.Errorf("activate in one page: %d %v", st, m)
	}

	// Deleting the trait and the audience.
	if st, m := ts.admin(t, "DELETE", "/v1/traits/spend"); st != 204 || m != nil {
		t.Errorf("DELETE trait: %d %v", st, m)
	}
	if _, m := ts.admin(t, "GET", "/v1/traits"); len(m["traits"].([]any)) != 1 {
		t.Errorf("traits after delete: %v", m)
	}
	if st, m := ts.admin(t, "DELETE", "/v1/audiences/vip"); st != 204 || m != nil {
		t.Errorf("DELETE audience: %d %v", st, m)
	}
	if st, _ := ts.admin(t, "GET", "/v1/audiences/vip"); st != 404 {
		t.Errorf("GET deleted audience: %d", st)
	}
	if _, m := ts.admin(t, "GET", "/v1/audiences"); fmt.Sprint(m["audiences"]) != "[]" {
		t.Errorf("audiences after delete: %v", m)
	}
}

func TestAudienceErrors(t *testing.T) {
	ts := newTestServer(t)
	plain := "id: plain\ncondition: 'true'\n"
	unsetSecret := "id: unset\ncondition: 'true'\nactivation:\n  webhook: {url: 'http://127.0.0.1:1/hook', secret_env: OVERTURE_TEST_UNSET_SECRET}\n"
	for _, body := range []string{plain, unsetSecret} {
		id := strings.TrimPrefix(strings.SplitN(body, "\n", 2)[0], "id: ")
		if st, m := ts.send(t, "PUT", "/v1/audiences/"+id, "", body); st != 201 {
			t.Fatalf("PUT %s: %d %v", id, st, m)
		}
	}
	t.Setenv("OVERTURE_TEST_UNSET_SECRET", "")

	for _, c := range []struct {
		name, method, path, contentType, body string
		status                                int
		field                                 string
	}{
		{"trait: bad aggregate", "PUT", "/v1/traits/orders", "", "name: orders\naggregate: median\nevent: X\nwindow: 1d\n", 400, "aggregate"},
		{"trait: bad window", "PUT", "/v1/traits/orders", "", "name: orders\naggregate: count\nevent: X\nwindow: soon\n", 400, "window"},
		{"trait: name mismatch", "PUT", "/v1/traits/other", "", ordersTrait, 400, "name"},
		{"trait: media type", "PUT", "/v1/traits/orders", "text/plain", ordersTrait, 415, "Content-Type"},
		{"trait: unknown", "GET", "/v1/traits/nope", "", "", 404, "name"},
		{"trait: delete unknown", "DELETE", "/v1/traits/nope", "", "", 404, "name"},
		{"audience: no condition", "PUT", "/v1/audiences/x", "", "id: x\n", 400, "condition"},
		{"audience: id mismatch", "PUT", "/v1/audiences/y", "", plain, 400, "id"},
		{"audience: bad webhook URL", "PUT", "/v1/audiences/plain", "application/json", `{"id":"plain","condition":"true","activation":{"webhook":{"url":"ftp://x"}}}`, 400, "activation.webhook.url"},
		{"audience: unknown", "GET", "/v1/audiences/nope", "", "", 404, "id"},
		{"audience: delete unknown", "DELETE", "/v1/audiences/nope", "", "", 404, "id"},
		{"audience: refresh unknown", "POST", "/v1/audiences/nope/refresh", "", "", 404, "id"},
		{"audience: export unknown", "GET", "/v1/audiences/nope/members", "", "", 404, "id"},
		{"audience: activate unknown", "POST", "/v1/audiences/nope/activate", "", "", 404, "id"},
		{"preview too large", "GET", "/v1/audiences/plain?preview=101", "", "", 400, "preview"},
		{"preview not a number", "GET", "/v1/audiences/plain?preview=ten", "", "", 400, "preview"},
		{"bad format", "GET", "/v1/audiences/plain/members?format=xlsx", "", "", 400, "format"},
		{"empty trait name", "GET", "/v1/audiences/plain/members?traits=email,,plan", "", "", 400, "traits"},
		{"repeated trait", "GET", "/v1/audiences/plain/members?traits=email,email", "", "", 400, "traits"},
		{"page size", "POST", "/v1/audiences/plain/activate?pageSize=0", "", "", 400, "pageSize"},
		{"no webhook", "POST", "/v1/audiences/plain/activate", "", "", 400, "activation.webhook"},
		{"secret unset", "POST", "/v1/audiences/unset/activate", "", "", 400, "activation.webhook.secret_env"},
	} {
		st, m := ts.send(t, c.method, c.path, c.contentType, c.body)
		wantError(t, c.name, st, m, c.status, c.field)
	}
	_, m := ts.admin(t, "POST", "/v1/audiences/unset/activate")
	if msg, _ := m["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "OVERTURE_TEST_UNSET_SECRET") {
		t.Errorf("the error does not name the variable: %q", msg)
	}

	// A webhook that keeps failing: 502 with what was delivered.
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) }))
	defer failing.Close()
	if st, m := ts.send(t, "PUT", "/v1/audiences/failing", "", "id: failing\ncondition: 'true'\nactivation:\n  webhook: {url: '"+failing.URL+"'}\n"); st != 201 {
		t.Fatalf("PUT failing: %d %v", st, m)
	}
	st, m := ts.admin(t, "POST", "/v1/audiences/failing/activate")
	if code, field := errorOf(m); st != 502 || code != core.EUNAVAILABLE || field != "activation.webhook.url" || m["delivered"].(map[string]any)["pages"] != 0.0 {
		t.Errorf("failing webhook: %d %v", st, m)
	}
}

// TestAudienceRoutesUnavailable checks the trait and audience routes answer
// 503 on a server without them, and need the admin token.
func TestAudienceRoutesUnavailable(t *testing.T) {
	ts := newTestServer(t)
	srv := *ts.srv
	srv.Derived = nil
	bare := httptest.NewServer(srv.Handler())
	defer bare.Close()
	routes := []struct{ method, path string }{
		{"PUT", "/v1/traits/orders"}, {"GET", "/v1/traits"}, {"GET", "/v1/traits/orders"}, {"DELETE", "/v1/traits/orders"},
		{"PUT", "/v1/audiences/vip"}, {"GET", "/v1/audiences"}, {"GET", "/v1/audiences/vip"}, {"DELETE", "/v1/audiences/vip"},
		{"POST", "/v1/audiences/vip/refresh"}, {"GET", "/v1/audiences/vip/members"}, {"POST", "/v1/audiences/vip/activate"},
	}
	for _, r := range routes {
		req, _ := http.NewRequest(r.method, bare.URL+r.path, strings.NewReader(ordersTrait))
		req.Header.Set("Authorization", "Bearer "+testAdmin)
		if st, m := do(t, req); st != 503 || m["error"].(map[string]any)["code"] != core.EUNAVAILABLE {
			t.Errorf("%s %s without Derived: %d %v", r.method, r.path, st, m)
		}
		req, _ = http.NewRequest(r.method, ts.URL+r.path, strings.NewReader(ordersTrait))
		req.SetBasicAuth(testKey, "")
		if st, m := do(t, req); st != 401 {
			t.Errorf("%s %s without the admin token: %d %v", r.method, r.path, st, m)
		}
	}
}
