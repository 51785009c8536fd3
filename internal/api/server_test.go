package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/ingest"
	"github.com/overture-cjo/overture/internal/sqlite"
)

const (
	testKey   = "wk_test"
	testAdmin = "adm_test"
)

type testServer struct {
	*httptest.Server
	store core.Store
	eng   *engine.Engine
	srv   *Server
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := core.RealClock{}
	eng := engine.New(store, engine.Options{Partitions: 3, Clock: clock, Logger: log, CheckpointEvery: 50 * time.Millisecond})
	journeys, err := catalog.Open(ctx, store, clock, log, eng.SetCatalog)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := catalog.OpenDerived(ctx, store, clock, log, eng.SetTraits, eng.SetAudiences)
	if err != nil {
		t.Fatal(err)
	}
	com := ingest.NewCommitter(store, eng.Offer)
	var n atomic.Int64
	keys := NewKeyring(store, clock, []string{testKey})
	keys.ttl = 100 * time.Millisecond // revocations show quickly in tests
	srv := &Server{
		Store: store, Committer: com, Engine: eng, Clock: clock, Logger: log, AdminToken: testAdmin,
		Decoder:  &ingest.Decoder{Now: clock.Now, NewID: func() string { return fmt.Sprintf("gen-%d", n.Add(1)) }},
		Keys:     keys,
		Metrics:  NewMetrics(eng, com, clock),
		Journeys: journeys,
		Derived:  derived,
	}
	done := make(chan struct{}, 2)
	go func() { com.Run(ctx); done <- struct{}{} }()
	go func() { _ = eng.Run(ctx); done <- struct{}{} }()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
		<-done
		store.Close()
	})
	return &testServer{Server: hs, store: store, eng: eng, srv: srv}
}

// post sends body to path with the test write key as Basic username.
func (ts *testServer) post(t *testing.T, path, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
	req.SetBasicAuth(testKey, "")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

func (ts *testServer) admin(t *testing.T, method, path string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 && json.Unmarshal(b, &m) != nil {
		t.Fatalf("%s %s: answer is not JSON: %s", req.Method, req.URL.Path, b)
	}
	return resp.StatusCode, m
}

// settle waits until the engine has applied everything acknowledged.
func (ts *testServer) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ts.eng.Idle() || !ts.eng.Stats().CaughtUp {
		if time.Now().After(deadline) {
			t.Fatalf("engine did not settle: %+v", ts.eng.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func errorOf(m map[string]any) (code, field string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

func TestIngestErrors(t *testing.T) {
	ts := newTestServer(t)
	big := `{"userId":"u1","event":"x","properties":{"pad":"` + strings.Repeat("a", 33<<10) + `"}}`
	bigBatch := `{"batch":[` + strings.TrimSuffix(strings.Repeat(`{"type":"track","userId":"u","event":"`+strings.Repeat("e", 900)+`"},`, 600), ",") + `]}`
	manyItems := `{"batch":[` + strings.TrimSuffix(strings.Repeat(`{"type":"track","userId":"u","event":"e"},`, 2501), ",") + `]}`
	tests := []struct {
		name, path, body string
		noKey            bool
		key              string
		hdr              []string
		status           int
		code, field      string
	}{
		{"invalid JSON", "/v1/track", `{"userId":`, false, "", nil, 400, "invalid_json", "body"},
		{"body not an object", "/v1/track", `[1,2]`, false, "", nil, 400, "invalid", "body"},
		{"missing ids", "/v1/track", `{"event":"x"}`, false, "", nil, 400, "invalid", "userId"},
		{"track without event", "/v1/track", `{"userId":"u1"}`, false, "", nil, 400, "invalid", "event"},
		{"event not a string", "/v1/track", `{"userId":"u1","event":5}`, false, "", nil, 400, "invalid", "event"},
		{"alias without previousId", "/v1/alias", `{"userId":"u1"}`, false, "", nil, 400, "invalid", "previousId"},
		{"group without groupId", "/v1/group", `{"userId":"u1"}`, false, "", nil, 400, "invalid", "groupId"},
		{"bad timestamp", "/v1/track", `{"userId":"u1","event":"x","timestamp":"yesterday"}`, false, "", nil, 400, "invalid", "timestamp"},
		{"properties not an object", "/v1/track", `{"userId":"u1","event":"x","properties":[1]}`, false, "", nil, 400, "invalid", "properties"},
		{"type mismatch", "/v1/track", `{"type":"identify","userId":"u1","event":"x"}`, false, "", nil, 400, "invalid", "type"},
		{"event over 32 KB", "/v1/track", big, false, "", nil, 413, "too_large", "body"},
		{"batch over 500 KB", "/v1/batch", bigBatch, false, "", nil, 413, "too_large", "body"},
		{"batch over 2500 events", "/v1/batch", manyItems, false, "", nil, 413, "too_large", "batch"},
		{"batch not an array", "/v1/batch", `{"batch":{}}`, false, "", nil, 400, "invalid", "batch"},
		{"batch missing", "/v1/batch", `{}`, false, "", nil, 400, "invalid", "batch"},
		{"batch empty", "/v1/batch", `{"batch":[]}`, false, "", nil, 400, "invalid", "batch"},
		{"batch context not an object", "/v1/batch", `{"batch":[{"type":"track","userId":"u","event":"e"}],"context":3}`, false, "", nil, 400, "invalid", "context"},
		{"missing write key", "/v1/track", `{"userId":"u1","event":"x"}`, true, "", nil, 401, "unauthorized", "writeKey"},
		{"unknown write key", "/v1/track", `{"userId":"u1","event":"x"}`, false, "nope", nil, 401, "unauthorized", "writeKey"},
		{"unknown write key in body", "/v1/batch", `{"writeKey":"nope","batch":[{"type":"track","userId":"u","event":"e"}]}`, true, "", nil, 401, "unauthorized", "writeKey"},
		{"bad gzip", "/v1/track", `not gzip`, false, "", []string{"Content-Encoding", "gzip"}, 400, "invalid", "Content-Encoding"},
		{"unsupported encoding", "/v1/track", `{}`, false, "", []string{"Content-Encoding", "br"}, 415, "unsupported", "Content-Encoding"},
		{"cloudevent missing type", "/v1/cloudevents", `{"specversion":"1.0","id":"1","source":"s","userid":"u"}`, false, "", []string{"Content-Type", "application/cloudevents+json"}, 400, "invalid", "type"},
		{"cloudevent without user", "/v1/cloudevents", `{"specversion":"1.0","id":"1","source":"s","type":"t"}`, false, "", []string{"Content-Type", "application/cloudevents+json"}, 400, "invalid", "userid"},
		{"binary cloudevent without specversion", "/v1/cloudevents", `{}`, false, "", []string{"Content-Type", "application/json"}, 400, "invalid", "ce-specversion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.URL+tt.path, strings.NewReader(tt.body))
			if !tt.noKey {
				k := testKey
				if tt.key != "" {
					k = tt.key
				}
				req.SetBasicAuth(k, "")
			}
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			st, m := do(t, req)
			code, field := errorOf(m)
			if st != tt.status || code != tt.code || field != tt.field {
				t.Fatalf("got %d %s field %q (%v), want %d %s field %q", st, code, field, m, tt.status, tt.code, tt.field)
			}
		})
	}
	// Nothing of the above was written.
	if evs, _ := ts.store.ReadLog(context.Background(), 0, 10); len(evs) != 0 {
		t.Fatalf("rejected requests wrote %d events", len(evs))
	}
}

func TestBatchRejectsItemsIndividually(t *testing.T) {
	ts := newTestServer(t)
	st, m := ts.post(t, "/v1/batch", `{"batch":[
		{"type":"track","userId":"u1","event":"ok-1","messageId":"m1"},
		{"type":"track","userId":"u1"},
		{"type":"bogus","userId":"u1"},
		{"type":"identify","anonymousId":"a1","traits":{"plan":"pro"},"messageId":"m2"},
		7
	]}`)
	if st != 200 || m["accepted"].(float64) != 2 {
		t.Fatalf("got %d %v", st, m)
	}
	rej := m["rejected"].([]any)
	want := []struct {
		idx   float64
		field string
	}{{1, "batch[1].event"}, {2, "batch[2].type"}, {4, "batch[4]"}}
	if len(rej) != len(want) {
		t.Fatalf("rejected %v", rej)
	}
	for i, w := range want {
		r := rej[i].(map[string]any)
		if r["index"].(float64) != w.idx || r["field"] != w.field || r["code"] != "invalid" {
			t.Errorf("rejected[%d] = %v, want index %v field %s", i, r, w.idx, w.field)
		}
	}
	st, q := ts.admin(t, "GET", "/v1/quarantine")
	items := q["items"].([]any)
	if st != 200 || len(items) != 3 || items[0].(map[string]any)["payload"] != `{"type":"track","userId":"u1"}` {
		t.Fatalf("quarantine: %d %v", st, q)
	}
}

func TestProfileLifecycle(t *testing.T) {
	ts := newTestServer(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"anonymousId":"anon-1","event":"Product Viewed","timestamp":"2026-11-20T10:00:00Z","context":{"timezone":"Europe/Paris"}}`))
	zw.Close()
	if st, m := ts.post(t, "/v1/track", gz.String(), "Content-Encoding", "gzip"); st != 200 {
		t.Fatalf("track: %d %v", st, m)
	}
	steps := []struct{ path, body string }{
		{"/v1/page", `{"anonymousId":"anon-1","name":"Home"}`},
		{"/v1/identify", `{"userId":"u-42","anonymousId":"anon-1","traits":{"email":"Ann@Example.com","phone":"+44 20 7946 0958","plan":"pro","consent":{"email":true,"sms":false}}}`},
		{"/v1/track", `{"userId":"u-42","event":"Order Completed","properties":{"total":30}}`},
		{"/v1/track", `{"anonymousId":"other-device","event":"App Opened"}`},
		{"/v1/alias", `{"userId":"u-42","previousId":"other-device"}`},
		{"/v1/group", `{"userId":"u-42","groupId":"acme"}`},
		{"/v1/screen", `{"userId":"u-42","name":"Cart"}`},
	}
	for _, s := range steps {
		if st, m := ts.post(t, s.path, s.body); st != 200 {
			t.Fatalf("%s: %d %v", s.path, st, m)
		}
	}
	ts.settle(t)
	st, p := ts.admin(t, "GET", "/v1/profiles?email=ann@example.COM")
	if st != 200 {
		t.Fatalf("lookup: %d %v", st, p)
	}
	id := p["id"].(string)
	for _, q := range []string{"userId=u-42", "anonymousId=anon-1", "anonymousId=other-device", "phone=%2B442079460958"} {
		if _, o := ts.admin(t, "GET", "/v1/profiles?"+q); o["id"] != id {
			t.Errorf("%s resolves to %v, want %s", q, o["id"], id)
		}
	}
	if p["events"].(float64) != 8 {
		t.Errorf("events = %v, want 8", p["events"])
	}
	counts := p["counts"].(map[string]any)
	if counts["Product Viewed"] != 1.0 || counts["Order Completed"] != 1.0 || counts["App Opened"] != 1.0 || counts["identify"] != 1.0 {
		t.Errorf("counts = %v", counts)
	}
	traits := p["traits"].(map[string]any)
	if traits["plan"].(map[string]any)["value"] != "pro" {
		t.Errorf("traits = %v", traits)
	}
	consent := p["consent"].(map[string]any)
	if consent["email"].(map[string]any)["granted"] != true || consent["sms"].(map[string]any)["granted"] != false {
		t.Errorf("consent = %v", consent)
	}
	if p["timezone"].(map[string]any)["value"] != "Europe/Paris" {
		t.Errorf("timezone = %v", p["timezone"])
	}
	if p["firstSeen"] != "2026-11-20T10:00:00Z" {
		t.Errorf("firstSeen = %v", p["firstSeen"])
	}

	// Timeline: newest first, cursor pagination covers all 8 once.
	seen := map[float64]bool{}
	cursor := ""
	var last float64 = 1 << 62
	for pages := 0; pages < 10; pages++ {
		_, tl := ts.admin(t, "GET", "/v1/profiles/"+id+"/events?limit=3&cursor="+cursor)
		for _, e := range tl["events"].([]any) {
			seq := e.(map[string]any)["seq"].(float64)
			if seq >= last || seen[seq] {
				t.Fatalf("timeline out of order or repeated at %v", seq)
			}
			seen[seq], last = true, seq
		}
		c, _ := tl["nextCursor"].(string)
		if c == "" {
			break
		}
		cursor = c
	}
	if len(seen) != 8 {
		t.Fatalf("timeline has %d events, want 8", len(seen))
	}

	// Erasure removes profile, identities and events.
	st, er := ts.admin(t, "DELETE", "/v1/profiles/"+id)
	if st != 200 {
		t.Fatalf("erase: %d %v", st, er)
	}
	erased := er["erased"].(map[string]any)
	if erased["events"].(float64) != 8 || erased["identifiers"].(float64) != 5 {
		t.Errorf("erased = %v", erased)
	}
	if st, _ := ts.admin(t, "GET", "/v1/profiles/"+id); st != 404 {
		t.Errorf("profile after erasure: %d", st)
	}
	if st, _ := ts.admin(t, "GET", "/v1/profiles?userId=u-42"); st != 404 {
		t.Errorf("lookup after erasure: %d", st)
	}
}

func TestDedupeAndCloudEvents(t *testing.T) {
	ts := newTestServer(t)
	for i := 0; i < 3; i++ {
		if st, _ := ts.post(t, "/v1/track", `{"userId":"u1","event":"Paid","messageId":"same"}`); st != 200 {
			t.Fatal(st)
		}
	}
	if st, m := ts.post(t, "/v1/cloudevents", `{"specversion":"1.0","id":"e1","source":"/billing","type":"invoice.paid","userid":"u1","data":{"amount":3}}`, "Content-Type", "application/cloudevents+json"); st != 200 {
		t.Fatal(st, m)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/v1/cloudevents", strings.NewReader(`{"amount":4}`))
	req.SetBasicAuth(testKey, "")
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "e2", "ce-source": "/billing", "ce-type": "invoice.sent", "ce-subject": "u1", "Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	if st, m := do(t, req); st != 200 {
		t.Fatal(st, m)
	}
	// A duplicate with another body has no effect, not even on identity.
	ts.post(t, "/v1/identify", `{"userId":"u1","messageId":"same","traits":{"email":"dup@example.com"}}`)
	// The same CloudEvent again is a duplicate.
	ts.post(t, "/v1/cloudevents", `{"specversion":"1.0","id":"e1","source":"/billing","type":"invoice.paid","userid":"u1","data":{"amount":3}}`, "Content-Type", "application/cloudevents+json")
	ts.settle(t)
	_, p := ts.admin(t, "GET", "/v1/profiles?userId=u1")
	counts := p["counts"].(map[string]any)
	if p["events"] != 3.0 || counts["Paid"] != 1.0 || counts["invoice.paid"] != 1.0 || counts["invoice.sent"] != 1.0 {
		t.Fatalf("profile = %v", p)
	}
	if d := ts.eng.Stats().Duplicates; d != 4 {
		t.Fatalf("duplicates = %d, want 4", d)
	}
	if st, _ := ts.admin(t, "GET", "/v1/profiles?email=dup@example.com"); st != 404 {
		t.Fatalf("a duplicate's email was bound (lookup answered %d)", st)
	}
}

func TestExternalIDsAndConflicts(t *testing.T) {
	ts := newTestServer(t)
	for _, b := range []string{
		`{"anonymousId":"dev-1","event":"Opened","context":{"externalIds":[{"id":"CRM-7","type":"crm_id","collection":"users","encoding":"none"}]}}`,
		`{"userId":"alice","event":"Login","context":{"externalIds":[{"id":"CRM-7","type":"crm_id"}],"traits":{"email":"shared@example.com"}}}`,
		`{"userId":"bob","event":"Login","context":{"traits":{"email":"shared@example.com"}}}`,
	} {
		if st, m := ts.post(t, "/v1/track", b); st != 200 {
			t.Fatal(st, m)
		}
	}
	ts.settle(t)
	_, alice := ts.admin(t, "GET", "/v1/profiles?userId=alice")
	_, crm := ts.admin(t, "GET", "/v1/profiles?externalId=crm_id:CRM-7")
	_, dev := ts.admin(t, "GET", "/v1/profiles?anonymousId=dev-1")
	_, shared := ts.admin(t, "GET", "/v1/profiles?email=shared@example.com")
	_, bob := ts.admin(t, "GET", "/v1/profiles?userId=bob")
	if alice["id"] == nil || crm["id"] != alice["id"] || dev["id"] != alice["id"] || shared["id"] != alice["id"] {
		t.Fatalf("alice %v, crm %v, device %v, email %v: want one profile", alice["id"], crm["id"], dev["id"], shared["id"])
	}
	// bob shares alice's email but is a different known user: never merged.
	if bob["id"] == alice["id"] || bob["events"] != 1.0 || alice["events"] != 2.0 {
		t.Fatalf("bob %v (%v events) alice %v (%v events)", bob["id"], bob["events"], alice["id"], alice["events"])
	}
	if c := ts.eng.Stats().Conflicts; c != 1 {
		t.Fatalf("conflicts = %d, want 1", c)
	}
}

func TestMetricsExposed(t *testing.T) {
	ts := newTestServer(t)
	ts.post(t, "/v1/track", `{"userId":"u","event":"e"}`)
	ts.post(t, "/v1/track", `{"event":"e"}`)
	ts.settle(t)
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`overture_events_ingested_total{route="/v1/track"} 1`,
		`overture_events_rejected_total{code="invalid",route="/v1/track"} 1`,
		`overture_events_applied_total 1`,
		`overture_events_deduplicated_total 0`,
		`overture_ingest_ack_seconds_count{route="/v1/track"} 1`,
		`overture_worker_lag_events 0`,
		`overture_worker_lag_seconds 0`,
		`overture_journey_entries_total 0`,
		`overture_journey_transitions_total 0`,
		`overture_journey_messages_total 0`,
		`overture_journey_timers_fired_total 0`,
		`overture_journey_exits_total 0`,
		`overture_journey_timer_lateness_max_seconds 0`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestAdminAuth(t *testing.T) {
	ts := newTestServer(t)
	req, _ := http.NewRequest("GET", ts.URL+"/v1/profiles/x", nil)
	st, m := do(t, req)
	if code, field := errorOf(m); st != 401 || code != "unauthorized" || field != "Authorization" {
		t.Fatalf("got %d %v", st, m)
	}
	if st, m := ts.admin(t, "GET", "/v1/profiles/nope"); st != 404 {
		t.Fatalf("got %d %v", st, m)
	}
	if st, m := ts.admin(t, "GET", "/v1/profiles"); st != 400 {
		t.Fatalf("got %d %v", st, m)
	}
}

func TestWriteKeysAPI(t *testing.T) {
	ts := newTestServer(t)
	req, _ := http.NewRequest("POST", ts.URL+"/v1/keys", strings.NewReader(`{"name":"web"}`))
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	st, created := do(t, req)
	if st != 201 {
		t.Fatalf("create: %d %v", st, created)
	}
	secret := created["key"].(string)
	id := created["writeKey"].(map[string]any)["id"].(string)

	send := func(key, path, body string, hdr ...string) int {
		r, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
		r.SetBasicAuth(key, "")
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		st, _ := do(t, r)
		return st
	}
	if st := send(secret, "/v1/import", `{"batch":[{"type":"track","userId":"k1","event":"e"}]}`); st != 200 {
		t.Fatalf("import with the new key: %d", st)
	}
	if st := send(secret, "/v1/cloudevents", `[{"specversion":"1.0","id":"1","source":"s","type":"a","userid":"k1"},{"specversion":"1.0","id":"2","source":"s","type":"b","subject":"k1"}]`,
		"Content-Type", "application/cloudevents-batch+json"); st != 200 {
		t.Fatalf("cloudevents batch: %d", st)
	}
	_, list := ts.admin(t, "GET", "/v1/keys")
	if keys := list["keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["prefix"] != secret[:10] {
		t.Fatalf("keys = %v", list)
	}
	if st, m := ts.admin(t, "DELETE", "/v1/keys/"+id); st != 200 {
		t.Fatalf("revoke: %d %v", st, m)
	}
	if st, _ := ts.admin(t, "DELETE", "/v1/keys/nope"); st != 404 {
		t.Fatalf("revoke unknown: %d", st)
	}
	// The keyring caches a key briefly (5 s in serve, 100 ms here).
	deadline := time.Now().Add(8 * time.Second)
	for send(secret, "/v1/track", `{"userId":"k1","event":"late"}`) == 200 {
		if time.Now().After(deadline) {
			t.Fatal("revoked key still accepted")
		}
		time.Sleep(200 * time.Millisecond)
	}
	ts.settle(t)
	_, p := ts.admin(t, "GET", "/v1/profiles?userId=k1")
	if counts := p["counts"].(map[string]any); counts["e"] != 1.0 || counts["a"] != 1.0 || counts["b"] != 1.0 {
		t.Fatalf("counts = %v", counts)
	}
}
