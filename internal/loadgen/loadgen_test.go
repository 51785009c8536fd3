package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testKey = "wk_test"

// fakeServer is a minimal /v1/track and /v1/batch that validates what
// loadgen sends.
type fakeServer struct {
	t *testing.T

	// failRequest, when positive, makes the failRequest-th request (1-based)
	// answer 500.
	failRequest int64
	// notSuccess makes every answer a 200 with {"success":false}.
	notSuccess bool
	// rejectOne makes every batch answer report one rejected item.
	rejectOne bool
	// onRequest, if set, runs at the start of every request with its
	// 1-based number.
	onRequest func(n int64)
	// unavailableEvery, when positive, makes every unavailableEvery-th
	// request answer 503.
	unavailableEvery int64
	// chunked sends every answer with chunked transfer encoding.
	chunked bool
	// closeEach sends Connection: close with every answer.
	closeEach bool

	requests atomic.Int64
	conns    atomic.Int64 // connections accepted
	chunks   atomic.Int64 // answers seen on the wire as chunked
	mu       sync.Mutex
	ids      map[string]bool
	dups     int
	users    map[string]bool
	sizes    []int
}

func newFake(t *testing.T) *fakeServer {
	return &fakeServer{t: t, ids: map[string]bool{}, users: map[string]bool{}}
}

func (f *fakeServer) start() *httptest.Server {
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	srv.Listener = tapListener{srv.Listener, f}
	srv.Start()
	f.t.Cleanup(srv.Close)
	return srv
}

// tapListener counts the chunked answers its connections write.
type tapListener struct {
	net.Listener
	f *fakeServer
}

func (l tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tapConn{c, l.f}, nil
}

type tapConn struct {
	net.Conn
	f *fakeServer
}

func (c tapConn) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("\r\nTransfer-Encoding: chunked\r\n")) {
		c.f.chunks.Add(1)
	}
	return c.Conn.Write(b)
}

// event is the part of a track event the fake checks.
type event struct {
	Type        string         `json:"type"`
	Event       string         `json:"event"`
	UserID      string         `json:"userId"`
	AnonymousID string         `json:"anonymousId"`
	MessageID   string         `json:"messageId"`
	Timestamp   string         `json:"timestamp"`
	Properties  map[string]any `json:"properties"`
	Context     struct {
		Library struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"library"`
		IP string `json:"ip"`
	} `json:"context"`
}

func (f *fakeServer) fail(w http.ResponseWriter, r *http.Request, code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.Context().Err() == nil { // not a request the client gave up on
		f.t.Errorf("fake server: %s", msg)
	}
	http.Error(w, msg, code)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	if f.onRequest != nil {
		f.onRequest(n)
	}
	if r.Method != http.MethodPost {
		f.fail(w, r, http.StatusMethodNotAllowed, "method %s", r.Method)
		return
	}
	if r.ProtoMajor != 1 {
		f.fail(w, r, http.StatusBadRequest, "protocol %s, want HTTP/1.x", r.Proto)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != testKey || pass != "" {
		f.fail(w, r, http.StatusUnauthorized, "basic auth %q:%q (%v)", user, pass, ok)
		return
	}
	if ua := r.UserAgent(); ua != userAgent {
		f.fail(w, r, http.StatusBadRequest, "User-Agent %q", ua)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.fail(w, r, http.StatusUnsupportedMediaType, "Content-Type %q", ct)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			f.fail(w, r, http.StatusBadRequest, "gzip: %v", err)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		f.fail(w, r, http.StatusBadRequest, "read: %v", err)
		return
	}
	var events []json.RawMessage
	switch r.URL.Path {
	case "/v1/track":
		events = []json.RawMessage{raw}
	case "/v1/batch":
		var b struct {
			Batch  []json.RawMessage `json:"batch"`
			SentAt string            `json:"sentAt"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			f.fail(w, r, http.StatusBadRequest, "batch body: %v", err)
			return
		}
		if _, err := time.Parse(time.RFC3339, b.SentAt); err != nil {
			f.fail(w, r, http.StatusBadRequest, "sentAt: %v", err)
			return
		}
		if len(b.Batch) == 0 {
			f.fail(w, r, http.StatusBadRequest, "empty batch")
			return
		}
		events = b.Batch
	default:
		f.fail(w, r, http.StatusNotFound, "path %s", r.URL.Path)
		return
	}
	for _, ev := range events {
		var e event
		if err := json.Unmarshal(ev, &e); err != nil {
			f.fail(w, r, http.StatusBadRequest, "event: %v", err)
			return
		}
		if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil {
			f.fail(w, r, http.StatusBadRequest, "timestamp: %v", err)
			return
		}
		if e.Type != "track" || e.Event == "" || e.UserID == "" || e.AnonymousID == "" || e.MessageID == "" ||
			len(e.Properties) == 0 || e.Context.Library.Name != "overture-bench" || e.Context.IP == "" {
			f.fail(w, r, http.StatusBadRequest, "incomplete event %s", ev)
			return
		}
		f.mu.Lock()
		if f.ids[e.MessageID] {
			f.dups++
		}
		f.ids[e.MessageID] = true
		f.users[e.UserID] = true
		f.sizes = append(f.sizes, len(ev))
		f.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	if f.closeEach {
		w.Header().Set("Connection", "close")
	}
	var answer string
	switch {
	case n == f.failRequest:
		w.WriteHeader(http.StatusInternalServerError)
		answer = `{"error":{"code":"internal","message":"injected failure"}}`
	case f.unavailableEvery > 0 && n%f.unavailableEvery == 0:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		answer = `{"error":{"code":"unavailable","message":"overloaded; retry"}}`
	case f.notSuccess:
		answer = `{"success":false}`
	case f.rejectOne && len(events) > 1:
		answer = fmt.Sprintf(`{"success":true,"accepted":%d,"rejected":[{"index":0,"code":"invalid","field":"batch[0]","message":"nope"}]}`, len(events)-1)
	default:
		answer = fmt.Sprintf(`{"success":true,"accepted":%d}`+"\n", len(events))
	}
	if !f.chunked {
		io.WriteString(w, answer)
		return
	}
	// Flushing before the handler returns makes the server send the body
	// in chunks, one per Flush.
	for len(answer) > 0 {
		k := min(len(answer), 7)
		io.WriteString(w, answer[:k])
		w.(http.Flusher).Flush()
		answer = answer[k:]
	}
}

func (f *fakeServer) uniqueEvents() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dups > 0 {
		f.t.Errorf("fake server saw %d duplicate messageIds", f.dups)
	}
	return len(f.ids)
}

// clients are the clients every RunIngest test runs against.
var clients = []string{ClientRaw, ClientNetHTTP}

// checkConns checks that a run made at most most connections. Only the raw
// client promises that: net/http's Transport dials a spare connection when
// a request comes before the previous one's connection is back in the idle
// pool, which happens now and then.
func checkConns(t *testing.T, f *fakeServer, client string, most int) {
	t.Helper()
	if got := f.conns.Load(); client == ClientRaw && got > int64(most) {
		t.Errorf("%d connections, want at most %d", got, most)
	}
}

// forEachClient runs test as a subtest for each client.
func forEachClient(t *testing.T, test func(t *testing.T, client string)) {
	t.Helper()
	for _, client := range clients {
		t.Run(client, func(t *testing.T) { test(t, client) })
	}
}

func checkLatency(t *testing.T, rep *IngestReport) {
	t.Helper()
	l := rep.Latency
	if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latencies not ordered: %+v", l)
	}
	if l.Mean < l.Min || l.Mean > l.Max {
		t.Errorf("mean %v outside [%v, %v]", l.Mean, l.Min, l.Max)
	}
}

func TestRunIngest(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		for _, tc := range []struct {
			name                              string
			events, batch, conc, users        int
			gzip                              bool
			wantRequests                      int
			wantUsersAtLeast, wantUsersAtMost int
		}{
			{name: "batch", events: 4000, batch: 50, conc: 8, wantRequests: 80, users: 0, wantUsersAtLeast: 3000, wantUsersAtMost: DefaultUsers},
			{name: "batch-gzip-remainder", events: 1001, batch: 100, conc: 3, gzip: true, wantRequests: 11, users: 50, wantUsersAtLeast: 50, wantUsersAtMost: 50},
			{name: "track", events: 600, batch: 1, conc: 4, wantRequests: 600, users: 7, wantUsersAtLeast: 7, wantUsersAtMost: 7},
			{name: "track-gzip-more-workers-than-requests", events: 3, batch: 1, conc: 16, gzip: true, wantRequests: 3, users: 1, wantUsersAtLeast: 1, wantUsersAtMost: 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newFake(t)
				srv := f.start()
				rep, err := RunIngest(context.Background(), IngestConfig{
					URL: srv.URL + "/", WriteKey: testKey, Client: client, Events: tc.events, Batch: tc.batch,
					Concurrency: tc.conc, Users: tc.users, Gzip: tc.gzip, Seed: 42,
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("\n%s", rep)
				if rep.EventsSent != tc.events || rep.EventsAcked != tc.events || rep.EventsRejected != 0 {
					t.Errorf("sent %d, acked %d, rejected %d; want %d, %d, 0", rep.EventsSent, rep.EventsAcked, rep.EventsRejected, tc.events, tc.events)
				}
				if rep.Errors != 0 || rep.FirstError != "" {
					t.Errorf("errors %d: %s", rep.Errors, rep.FirstError)
				}
				if rep.Requests != tc.wantRequests || rep.PlannedRequests != tc.wantRequests {
					t.Errorf("requests %d (planned %d), want %d", rep.Requests, rep.PlannedRequests, tc.wantRequests)
				}
				if got := f.requests.Load(); got != int64(tc.wantRequests) {
					t.Errorf("server saw %d requests, want %d", got, tc.wantRequests)
				}
				checkConns(t, f, client, min(tc.conc, tc.wantRequests))
				if rep.Config.Client != client {
					t.Errorf("report says client %q, want %q", rep.Config.Client, client)
				}
				if got := f.uniqueEvents(); got != tc.events {
					t.Errorf("server saw %d unique messageIds, want %d", got, tc.events)
				}
				if u := len(f.users); u < tc.wantUsersAtLeast || u > tc.wantUsersAtMost {
					t.Errorf("%d distinct users, want %d..%d", u, tc.wantUsersAtLeast, tc.wantUsersAtMost)
				}
				if rep.AvgEventBytes < 300 || rep.AvgEventBytes > 500 {
					t.Errorf("average event is %d bytes, want about 400", rep.AvgEventBytes)
				}
				if rep.Elapsed <= 0 || rep.EventsPerSec <= 0 || rep.RequestsPerSec <= 0 || rep.BodyBytes <= 0 {
					t.Errorf("bad rates: %+v", rep)
				}
				if rep.Canceled {
					t.Error("report says canceled")
				}
				checkLatency(t, rep)

				js, err := json.Marshal(rep)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(js, []byte(testKey)) || strings.Contains(rep.String(), testKey) {
					t.Errorf("report leaks the write key: %s", js)
				}
				var back IngestReport
				if err := json.Unmarshal(js, &back); err != nil {
					t.Fatal(err)
				}
				back.Config.WriteKey = rep.Config.WriteKey
				if back != *rep {
					t.Errorf("JSON round trip changed the report:\n%+v\n%+v", back, *rep)
				}
			})
		}
	})
}

func TestRunIngestInjected500(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		f := newFake(t)
		f.failRequest = 3
		srv := f.start()
		rep, err := RunIngest(context.Background(), IngestConfig{
			URL: srv.URL, WriteKey: testKey, Client: client, Events: 1000, Batch: 50, Concurrency: 4,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors != 1 {
			t.Errorf("errors = %d, want 1", rep.Errors)
		}
		if !strings.Contains(rep.FirstError, "500") || !strings.Contains(rep.FirstError, "injected failure") {
			t.Errorf("first error %q lacks the status or the body", rep.FirstError)
		}
		if rep.Requests != 20 || rep.EventsSent != 1000 || rep.EventsAcked != 950 {
			t.Errorf("requests %d, sent %d, acked %d; want 20, 1000, 950", rep.Requests, rep.EventsSent, rep.EventsAcked)
		}
		if !strings.Contains(rep.String(), "first error") {
			t.Errorf("summary does not show the error:\n%s", rep)
		}
		checkLatency(t, rep)
	})
}

func TestRunIngestNotSuccess(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		f := newFake(t)
		f.notSuccess = true
		srv := f.start()
		rep, err := RunIngest(context.Background(), IngestConfig{
			URL: srv.URL, WriteKey: testKey, Client: client, Events: 10, Batch: 1, Concurrency: 2,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors != 10 || rep.EventsAcked != 0 || !strings.Contains(rep.FirstError, `"success":false`) {
			t.Errorf("errors %d, acked %d, first %q", rep.Errors, rep.EventsAcked, rep.FirstError)
		}
	})
}

func TestRunIngestRejected(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		f := newFake(t)
		f.rejectOne = true
		srv := f.start()
		rep, err := RunIngest(context.Background(), IngestConfig{
			URL: srv.URL, WriteKey: testKey, Client: client, Events: 100, Batch: 10, Concurrency: 2,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors != 0 || rep.EventsAcked != 90 || rep.EventsRejected != 10 {
			t.Errorf("errors %d, acked %d, rejected %d; want 0, 90, 10", rep.Errors, rep.EventsAcked, rep.EventsRejected)
		}
	})
}

func TestRunIngestTransportError(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		f := newFake(t)
		srv := httptest.NewServer(f)
		url := srv.URL
		srv.Close()
		rep, err := RunIngest(context.Background(), IngestConfig{
			URL: url, WriteKey: testKey, Client: client, Events: 5, Batch: 1, Concurrency: 2,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors != 5 || rep.Requests != 5 || rep.EventsAcked != 0 || rep.FirstError == "" {
			t.Errorf("errors %d, requests %d, acked %d, first %q", rep.Errors, rep.Requests, rep.EventsAcked, rep.FirstError)
		}
	})
}

func TestRunIngestCancel(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFake(t)
		f.onRequest = func(n int64) {
			if n == 5 {
				cancel()
			}
		}
		srv := f.start()
		start := time.Now()
		rep, err := RunIngest(ctx, IngestConfig{
			URL: srv.URL, WriteKey: testKey, Client: client, Events: 2000, Batch: 1, Concurrency: 2,
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if rep == nil || !rep.Canceled || rep.Requests >= rep.PlannedRequests || rep.Requests > 10 {
			t.Fatalf("report after cancel: %+v", rep)
		}
		if rep.Errors != 0 {
			t.Errorf("canceled requests counted as errors: %d (%s)", rep.Errors, rep.FirstError)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("cancel took %v", time.Since(start))
		}

		// Canceled before starting: no report.
		if rep, err := RunIngest(ctx, IngestConfig{URL: srv.URL, Events: 10, Client: client}); !errors.Is(err, context.Canceled) || rep != nil {
			t.Errorf("pre-canceled: %v, %v", rep, err)
		}
	})
}

func TestRunIngestInvalidConfig(t *testing.T) {
	for _, cfg := range []IngestConfig{
		{URL: "http://127.0.0.1:1", Events: 0},
		{URL: "http://127.0.0.1:1", Events: 10, Batch: -1},
		{URL: "http://127.0.0.1:1", Events: 10, Concurrency: -2},
		{URL: "http://127.0.0.1:1", Events: 10, Users: -3},
		{URL: "127.0.0.1:8420", Events: 10},
		{URL: "ftp://host/", Events: 10},
		{URL: "", Events: 10},
	} {
		if rep, err := RunIngest(context.Background(), cfg); err == nil || rep != nil {
			t.Errorf("%+v: got %v, %v; want an error", cfg, rep, err)
		}
	}
}

func TestPayloadsReproducible(t *testing.T) {
	cfg, err := IngestConfig{URL: "http://x", Events: 250, Batch: 20, Seed: 7}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a, err := buildRequests(context.Background(), cfg, "aaaaaaaaaaaa", base, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildRequests(context.Background(), cfg, "bbbbbbbbbbbb", base, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 8
	c, err := buildRequests(context.Background(), cfg, "aaaaaaaaaaaa", base, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.reqs) != 13 || a.reqs[12].events != 10 {
		t.Fatalf("%d requests, last with %d events", len(a.reqs), a.reqs[len(a.reqs)-1].events)
	}
	differs := false
	for i := range a.reqs {
		ab, bb := a.reqs[i].body, b.reqs[i].body
		if bytes.Equal(ab, bb) {
			t.Errorf("request %d: same messageIds for different run IDs", i)
		}
		if !bytes.Equal(ab, bytes.ReplaceAll(bb, []byte("bench-bbbbbbbbbbbb-"), []byte("bench-aaaaaaaaaaaa-"))) {
			t.Errorf("request %d differs beyond the run ID", i)
		}
		if !bytes.Equal(ab, c.reqs[i].body) {
			differs = true
		}
		if !json.Valid(ab) {
			t.Errorf("request %d is not valid JSON: %s", i, ab)
		}
	}
	if !differs {
		t.Error("a different seed produced the same payloads")
	}
	t.Logf("sample batch start: %.600s", a.reqs[0].body)
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 0.5: 1} {
		if got := percentile(s, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	one := []time.Duration{7}
	for _, p := range []float64{50, 90, 99} {
		if got := percentile(one, p); got != 7 {
			t.Errorf("p%v of one = %v", p, got)
		}
	}
	three := []time.Duration{1, 2, 3}
	if got := percentile(three, 50); got != 2 {
		t.Errorf("p50 of 3 = %v", got)
	}
	if got := percentile(three, 99); got != 3 {
		t.Errorf("p99 of 3 = %v", got)
	}
}

func TestRunIngestChunked(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		f := newFake(t)
		f.chunked = true
		f.rejectOne = true
		srv := f.start()
		rep, err := RunIngest(context.Background(), IngestConfig{
			URL: srv.URL, WriteKey: testKey, Client: client, Events: 200, Batch: 10, Concurrency: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors != 0 || rep.EventsAcked != 180 || rep.EventsRejected != 20 {
			t.Errorf("errors %d (%s), acked %d, rejected %d; want 0, 180, 20", rep.Errors, rep.FirstError, rep.EventsAcked, rep.EventsRejected)
		}
		if got := f.chunks.Load(); got != 20 {
			t.Errorf("%d chunked answers on the wire, want 20", got)
		}
		checkConns(t, f, client, 3)
	})
}

func TestRunIngestConnectionClose(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		f := newFake(t)
		f.closeEach = true
		srv := f.start()
		rep, err := RunIngest(context.Background(), IngestConfig{
			URL: srv.URL, WriteKey: testKey, Client: client, Events: 60, Batch: 1, Concurrency: 4,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors != 0 || rep.EventsAcked != 60 {
			t.Errorf("errors %d (%s), acked %d; want 0, 60", rep.Errors, rep.FirstError, rep.EventsAcked)
		}
		if got := f.conns.Load(); got != 60 {
			t.Errorf("%d connections, want one per request (60)", got)
		}
	})
}

func TestRunIngest503(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		f := newFake(t)
		f.unavailableEvery = 3
		srv := f.start()
		rep, err := RunIngest(context.Background(), IngestConfig{
			URL: srv.URL, WriteKey: testKey, Client: client, Events: 30, Batch: 1, Concurrency: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Requests != 30 || rep.Errors != 10 || rep.EventsAcked != 20 {
			t.Errorf("requests %d, errors %d, acked %d; want 30, 10, 20", rep.Requests, rep.Errors, rep.EventsAcked)
		}
		want := `POST /v1/track: 503 Service Unavailable: {"error":{"code":"unavailable","message":"overloaded; retry"}}`
		if rep.FirstError != want {
			t.Errorf("first error\n%q, want\n%q", rep.FirstError, want)
		}
		checkConns(t, f, client, 3) // a 503 needs no new connection
		checkLatency(t, rep)
	})
}

func TestClientChoice(t *testing.T) {
	for _, tc := range []struct{ url, client, want string }{
		{"http://h:1", "", ClientRaw},
		{"http://h:1", ClientRaw, ClientRaw},
		{"http://h:1", ClientNetHTTP, ClientNetHTTP},
		{"https://h:1", "", ClientNetHTTP},
		{"https://h:1", ClientRaw, ClientNetHTTP},
		{"https://h:1", ClientNetHTTP, ClientNetHTTP},
	} {
		cfg, err := IngestConfig{URL: tc.url, Events: 1, Client: tc.client}.normalize()
		if err != nil || cfg.Client != tc.want {
			t.Errorf("%s with %q: %q, %v; want %q", tc.url, tc.client, cfg.Client, err, tc.want)
		}
	}
	if _, err := (IngestConfig{URL: "http://h:1", Events: 1, Client: "curl"}).normalize(); err == nil {
		t.Error("client curl accepted")
	}
}

func TestRunIngestCancelHung(t *testing.T) {
	forEachClient(t, func(t *testing.T, client string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		release := make(chan struct{})
		f := newFake(t)
		f.onRequest = func(n int64) {
			if n == 2 { // both workers wait for an answer that does not come
				time.AfterFunc(20*time.Millisecond, cancel)
			}
			<-release
		}
		srv := f.start()
		t.Cleanup(func() { close(release) }) // before srv.Close, which waits for handlers
		start := time.Now()
		rep, err := RunIngest(ctx, IngestConfig{
			URL: srv.URL, WriteKey: testKey, Client: client, Events: 10, Batch: 1, Concurrency: 2,
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if rep.Requests != 0 || rep.Errors != 0 || !rep.Canceled {
			t.Errorf("requests %d, errors %d (%s), canceled %v; want 0, 0, true", rep.Requests, rep.Errors, rep.FirstError, rep.Canceled)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cancel took %v", d)
		}
	})
}

// TestProfilesPayload checks the audience benchmark's events: one valid
// identify per customer, each its own user, with score n mod 100.
func TestProfilesPayload(t *testing.T) {
	cfg, err := IngestConfig{URL: "http://x", Events: 150, Batch: 100, Profiles: true}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildRequests(context.Background(), cfg, "aaaaaaaaaaaa", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range b.reqs {
		var body struct {
			Batch []struct {
				Type   string
				UserID string `json:"userId"`
				Traits struct{ Score int }
			}
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		for _, e := range body.Batch {
			if e.Type != "identify" || e.UserID != fmt.Sprintf("u-%d", n) || e.Traits.Score != n%100 {
				t.Fatalf("event %d: %+v", n, e)
			}
			n++
		}
	}
	if n != 150 {
		t.Fatalf("%d events, want 150", n)
	}
}

// TestSink counts posts and distinct webhook ids, and reports them.
func TestSink(t *testing.T) {
	s := NewSink()
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, id := range []string{"a", "b", "a"} {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"x":1}`))
		req.Header.Set("webhook-id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st SinkStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Received != 3 || st.Distinct != 2 || st.Bytes != 21 || st.First.IsZero() || st.Last.Before(st.First) {
		t.Errorf("stats %+v", st)
	}
}
