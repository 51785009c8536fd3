package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testToken = "adm_test"

// touchServer is a fake touchpoint API that checks what RunDecide sends.
type touchServer struct {
	t     *testing.T
	users int
	// handle, if set, runs before the request is answered with its
	// 1-based number; it may answer itself and return true.
	handle func(n int64, w http.ResponseWriter, r *http.Request) bool

	n        atomic.Int64
	mu       sync.Mutex
	decides  int
	contexts int
	arrivals []time.Time
	seen     map[string]int // customer -> requests
	tps      map[string]int
	bad      []string
}

func newTouchServer(t *testing.T, users int) (*touchServer, *httptest.Server) {
	f := &touchServer{t: t, users: users, seen: map[string]int{}, tps: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *touchServer) fail(format string, args ...any) {
	f.mu.Lock()
	f.bad = append(f.bad, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// customer checks a customer reference and returns it.
func (f *touchServer) customer(ref string) bool {
	n, ok := strings.CutPrefix(ref, "user_id:u-")
	if !ok {
		return false
	}
	i, err := strconv.Atoi(n)
	return err == nil && i >= 0 && i < f.users && strconv.Itoa(i) == n
}

func (f *touchServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.n.Add(1)
	now := time.Now()
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		f.fail("request %d: Authorization %q", n, got)
	}
	if f.handle != nil && f.handle(n, w, r) {
		return
	}
	var ref, tp string
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/decide":
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			f.fail("decide %d: Content-Type %q", n, ct)
		}
		var body struct {
			Customer   string            `json:"customer"`
			Touchpoint string            `json:"touchpoint"`
			Context    map[string]string `json:"context"`
			Offers     struct {
				Limit int `json:"limit"`
			} `json:"offers"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			f.fail("decide %d: body: %v", n, err)
		}
		ref, tp = body.Customer, body.Touchpoint
		if !slices.Contains(Touchpoints, tp) {
			f.fail("decide %d: touchpoint %q", n, tp)
		}
		if body.Offers.Limit != DefaultOfferLimit {
			f.fail("decide %d: offers.limit %d", n, body.Offers.Limit)
		}
		if !slices.Contains(placements, body.Context["placement"]) || !slices.Contains(countries, body.Context["country"]) {
			f.fail("decide %d: context %v", n, body.Context)
		}
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/profiles/") && strings.HasSuffix(r.URL.Path, "/context"):
		ref = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/profiles/"), "/context")
		if r.ContentLength > 0 {
			f.fail("context %d: a body", n)
		}
	default:
		f.fail("request %d: %s %s", n, r.Method, r.URL.Path)
	}
	if !f.customer(ref) {
		f.fail("request %d: customer %q", n, ref)
	}
	f.mu.Lock()
	f.arrivals = append(f.arrivals, now)
	f.seen[ref]++
	if tp != "" {
		f.decides++
		f.tps[tp]++
	} else {
		f.contexts++
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"profileId":"p","offers":[]}`)
}

func (f *touchServer) check() {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, b := range f.bad {
		if i == 10 {
			f.t.Errorf("... and %d more", len(f.bad)-10)
			break
		}
		f.t.Error(b)
	}
}

func TestRunDecideRequests(t *testing.T) {
	for _, client := range []string{ClientRaw, ClientNetHTTP} {
		t.Run(client, func(t *testing.T) {
			f, srv := newTouchServer(t, 50)
			rep, err := RunDecide(context.Background(), DecideConfig{
				URL: srv.URL, Token: testToken, Rate: 4000, Requests: 2000, Users: 50,
				DecideShare: 0.5, Connections: 8, Seed: 7, Client: client,
			})
			if err != nil {
				t.Fatal(err)
			}
			f.check()
			if rep.Config.Client != client {
				t.Errorf("client %q, want %q", rep.Config.Client, client)
			}
			if rep.Planned != 2000 || rep.Requests != 2000 || rep.OK != 2000 || rep.Errors != 0 || rep.ErrorsByStatus != nil {
				t.Errorf("planned %d requests %d ok %d errors %d %v", rep.Planned, rep.Requests, rep.OK, rep.Errors, rep.ErrorsByStatus)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.decides != rep.Decide.Requests || f.contexts != rep.Context.Requests || f.decides+f.contexts != 2000 {
				t.Errorf("server saw %d decide and %d context requests, report says %d and %d",
					f.decides, f.contexts, rep.Decide.Requests, rep.Context.Requests)
			}
			if f.decides < 850 || f.decides > 1150 {
				t.Errorf("%d decide requests of 2000 at share 0.5", f.decides)
			}
			if len(f.seen) != 50 {
				t.Errorf("%d customers of 50 got requests", len(f.seen))
			}
			for _, tp := range Touchpoints {
				if f.tps[tp] < f.decides/10 {
					t.Errorf("touchpoint %s: %d of %d decide requests", tp, f.tps[tp], f.decides)
				}
			}
			if rep.Decide.Latency.Count != rep.Decide.Requests || rep.Latency.Count != 2000 || rep.Latency.Max <= 0 ||
				rep.Latency.P50 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.P999 || rep.Latency.P999 > rep.Latency.Max {
				t.Errorf("latency %+v", rep.Latency)
			}
			s := rep.String()
			for _, want := range []string{"POST /v1/decide", "GET context", "p99.9", "2000 ok"} {
				if !strings.Contains(s, want) {
					t.Errorf("String() lacks %q:\n%s", want, s)
				}
			}
			b, err := json.Marshal(rep)
			if err != nil || strings.Contains(string(b), testToken) {
				t.Errorf("JSON report: %v, or it holds the token: %s", err, b)
			}
		})
	}
}

func TestRunDecideShares(t *testing.T) {
	for _, share := range []float64{0, 1} {
		f, srv := newTouchServer(t, 10)
		rep, err := RunDecide(context.Background(), DecideConfig{
			URL: srv.URL, Token: testToken, Rate: 5000, Requests: 200, Users: 10, DecideShare: share, Connections: 4,
		})
		if err != nil {
			t.Fatal(err)
		}
		f.check()
		if share == 0 && (rep.Decide.Requests != 0 || rep.Context.Requests != 200) ||
			share == 1 && (rep.Decide.Requests != 200 || rep.Context.Requests != 0) {
			t.Errorf("share %v: %d decide, %d context", share, rep.Decide.Requests, rep.Context.Requests)
		}
	}
}

// The schedule is open-loop: requests go out at the rate, neither faster
// nor in bursts, and the whole run takes its scheduled time.
func TestRunDecideKeepsRate(t *testing.T) {
	f, srv := newTouchServer(t, 100)
	const rate, n = 1000.0, 500
	rep, err := RunDecide(context.Background(), DecideConfig{
		URL: srv.URL, Token: testToken, Rate: rate, Duration: 500 * time.Millisecond, Users: 100,
		DecideShare: 0.5, Connections: 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.check()
	if rep.Planned != n || rep.Requests != n {
		t.Fatalf("planned %d, completed %d; want %d", rep.Planned, rep.Requests, n)
	}
	f.mu.Lock()
	arr := slices.Clone(f.arrivals)
	f.mu.Unlock()
	slices.SortFunc(arr, func(a, b time.Time) int { return a.Compare(b) })
	span := arr[len(arr)-1].Sub(arr[0])
	// 499 intervals of 1 ms; a generator that sent as fast as it could
	// would take a few ms.
	if span < 490*time.Millisecond || span > 700*time.Millisecond {
		t.Errorf("requests arrived over %v, want about 499ms", span)
	}
	// Never ahead of the schedule: request k goes out k ms after the
	// first (a generator that falls behind may catch up in a burst, but
	// never runs early).
	for k, at := range arr {
		if ahead := time.Duration(k)*time.Millisecond - at.Sub(arr[0]); ahead > 10*time.Millisecond {
			t.Errorf("request %d arrived %v after the first, %v ahead of the schedule", k, at.Sub(arr[0]), ahead)
			break
		}
	}
	if rep.Elapsed < rep.Scheduled || rep.AchievedRate > rate*1.02 || rep.AchievedRate < rate*0.8 {
		t.Errorf("elapsed %v (scheduled %v), achieved %.1f requests/s; want about %v", rep.Elapsed, rep.Scheduled, rep.AchievedRate, rate)
	}
	if rep.Scheduled != 499*time.Millisecond {
		t.Errorf("scheduled %v, want 499ms", rep.Scheduled)
	}
}

// Latency runs from the scheduled time: a server that stalls once makes
// every request queued behind the stall slow, not just the stalled one.
func TestRunDecideStallCounted(t *testing.T) {
	const stallAt = 50
	var stalled atomic.Bool
	f, srv := newTouchServer(t, 10)
	f.handle = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n == stallAt && stalled.CompareAndSwap(false, true) {
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	rep, err := RunDecide(context.Background(), DecideConfig{
		URL: srv.URL, Token: testToken, Rate: 1000, Requests: 300, Users: 10, DecideShare: 0.5, Connections: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.check()
	if rep.Requests != 300 || rep.Errors != 0 {
		t.Fatalf("%d requests, %d errors", rep.Requests, rep.Errors)
	}
	if rep.Latency.Max < 50*time.Millisecond || rep.Service.Max < 50*time.Millisecond {
		t.Errorf("max latency %v, from send %v; want at least the 50ms stall", rep.Latency.Max, rep.Service.Max)
	}
	// About 50 requests were scheduled during the stall and waited for the
	// connection: from 49 ms down. Measured from when they were sent they
	// would look fast; from when they were due, 10% of the run is over 10 ms.
	if rep.Latency.P90 < 10*time.Millisecond {
		t.Errorf("p90 latency %v, want the queue behind the stall (over 10ms)", rep.Latency.P90)
	}
	if rep.Late < 30 || rep.StartLag.Max < 40*time.Millisecond {
		t.Errorf("%d requests late, start lag max %v; want the ~50 queued behind the stall", rep.Late, rep.StartLag.Max)
	}
	if rep.TargetMet {
		t.Errorf("target met with p99 %v", rep.Latency.P99)
	}
	if rep.Service.P90 >= rep.Latency.P90 {
		t.Errorf("service p90 %v is not below latency p90 %v", rep.Service.P90, rep.Latency.P90)
	}
}

func TestRunDecideErrors(t *testing.T) {
	f, srv := newTouchServer(t, 20)
	f.handle = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPost && n%3 == 0:
			http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
			return true
		case r.Method == http.MethodGet && n%5 == 0:
			http.Error(w, `{"error":"no profile"}`, http.StatusNotFound)
			return true
		}
		return false
	}
	rep, err := RunDecide(context.Background(), DecideConfig{
		URL: srv.URL, Token: testToken, Rate: 5000, Requests: 300, Users: 20, DecideShare: 0.5, Connections: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.check()
	f.mu.Lock()
	okServer := f.decides + f.contexts
	f.mu.Unlock()
	if rep.OK != okServer || rep.Errors != 300-okServer ||
		rep.ErrorsByStatus["500"]+rep.ErrorsByStatus["404"] != rep.Errors || rep.ErrorsByStatus["500"] == 0 || rep.ErrorsByStatus["404"] == 0 {
		t.Errorf("ok %d (server %d), errors %d %v", rep.OK, okServer, rep.Errors, rep.ErrorsByStatus)
	}
	if rep.Decide.Errors != rep.ErrorsByStatus["500"] || rep.Context.Errors != rep.ErrorsByStatus["404"] {
		t.Errorf("decide errors %d, context errors %d, by status %v", rep.Decide.Errors, rep.Context.Errors, rep.ErrorsByStatus)
	}
	if !strings.Contains(rep.FirstError, "500") && !strings.Contains(rep.FirstError, "404") {
		t.Errorf("first error %q", rep.FirstError)
	}
	if rep.TargetMet {
		t.Error("target met despite errors")
	}
}

func TestRunDecideTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	rep, err := RunDecide(context.Background(), DecideConfig{URL: url, Rate: 5000, Requests: 20, DecideShare: 0.5, Connections: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 20 || rep.ErrorsByStatus["transport"] != 20 || rep.FirstError == "" {
		t.Errorf("errors %d %v, first %q", rep.Errors, rep.ErrorsByStatus, rep.FirstError)
	}
}

func TestRunDecideCancel(t *testing.T) {
	f, srv := newTouchServer(t, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	rep, err := RunDecide(ctx, DecideConfig{URL: srv.URL, Token: testToken, Rate: 100, Duration: time.Minute, Users: 10, DecideShare: 0.5})
	if !errors.Is(err, context.DeadlineExceeded) || rep == nil || !rep.Canceled {
		t.Fatalf("err %v, report %v", err, rep)
	}
	f.check()
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("canceled run took %v", d)
	}
	if rep.Requests < 10 || rep.Requests > 40 || rep.RateKept {
		t.Errorf("%d requests in 200ms at 100/s, rate kept %v", rep.Requests, rep.RateKept)
	}
}

func TestRunDecideInvalidConfig(t *testing.T) {
	for _, cfg := range []DecideConfig{
		{URL: "127.0.0.1:1"},
		{URL: "http://x", Rate: -1},
		{URL: "http://x", DecideShare: 1.5},
		{URL: "http://x", Requests: -1},
		{URL: "http://x", Users: -1},
		{URL: "http://x", Client: "curl"},
	} {
		if rep, err := RunDecide(context.Background(), cfg); err == nil || rep != nil {
			t.Errorf("%+v: report %v, err %v", cfg, rep, err)
		}
	}
}

func TestPlanRequestReproducible(t *testing.T) {
	a := DecideConfig{Seed: 1, Users: 1000, DecideShare: 0.5}
	b := a
	b.Seed = 2
	same, diff := 0, 0
	for i := range 1000 {
		ra, rb := planRequest(&a, i), planRequest(&b, i)
		if ra != planRequest(&a, i) {
			t.Fatalf("request %d differs between calls", i)
		}
		if ra.user >= 1000 || ra.user < 0 {
			t.Fatalf("user %d", ra.user)
		}
		if ra == rb {
			same++
		} else {
			diff++
		}
	}
	if diff < 900 {
		t.Errorf("seeds 1 and 2 agree on %d of 1000 requests", same)
	}
}

func TestRawDecideNoAllocs(t *testing.T) {
	// The canned server does not allocate per request as net/http does.
	cu := startCannedServer(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"offers\":[]}")
	cfg, u, err := DecideConfig{URL: "http://" + cu.Host, Token: testToken, Users: 10, DecideShare: 0.5}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	cl := &rawDecide{c: newRawConn(context.Background(), u, IngestConfig{Timeout: time.Second}), host: u.Host, token: testToken}
	defer cl.close()
	var path, body []byte
	i := 0
	send := func() {
		rq := planRequest(&cfg, i)
		i++
		path = rq.appendPath(path[:0], "")
		method, b := http.MethodGet, []byte(nil)
		if rq.decide {
			method, body = http.MethodPost, rq.appendBody(body[:0], 3)
			b = body
		}
		if code, _, _, _, err := cl.do(context.Background(), method, path, b); err != nil || code != 200 {
			t.Fatalf("code %d, err %v", code, err)
		}
	}
	for range 10 {
		send()
	}
	if n := testing.AllocsPerRun(200, send); n > 0 {
		t.Errorf("%.1f allocations per request", n)
	}
}
