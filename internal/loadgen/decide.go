package loadgen

// The touchpoint benchmark: RunDecide sends an open-loop mix of POST
// /v1/decide and GET /v1/profiles/{id}/context requests at a fixed rate.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of DecideConfig's zero fields.
const (
	// DefaultDecideRate is the target request rate, requests/s.
	DefaultDecideRate = 5000
	// DefaultDecideDuration is how long requests are scheduled for when
	// neither Duration nor Requests is set.
	DefaultDecideDuration = 10 * time.Second
	// DefaultDecideUsers is the number of customers requests pick from.
	DefaultDecideUsers = 100000
	// DefaultDecideShare is the CLI's share of POST /v1/decide requests
	// (RunDecide takes DecideConfig.DecideShare as it is).
	DefaultDecideShare = 0.5
	// DefaultDecideConnections is the number of keep-alive connections.
	DefaultDecideConnections = 64
	// DefaultDecideTimeout bounds each request.
	DefaultDecideTimeout = 10 * time.Second
	// DefaultOfferLimit is the offers.limit of each decide request.
	DefaultOfferLimit = 3
	// DefaultTargetP99 is the latency target the report is judged by.
	DefaultTargetP99 = 5 * time.Millisecond
)

// LateThreshold is how long after its scheduled time a request may start
// before it counts as late (DecideReport.Late).
const LateThreshold = time.Millisecond

// minRateShare is the share of the target rate a run must achieve for the
// rate to count as kept (DecideReport.RateKept).
const minRateShare = 0.99

// Touchpoints are the touchpoints decide requests name, picked uniformly.
var Touchpoints = []string{"ivr", "chat", "web", "app", "agent"}

// placements and countries fill the context of decide requests.
var (
	placements = []string{"home", "usage", "billing", "support"}
	countries  = []string{"GB", "FR", "DE", "US"}
)

// DecideConfig describes one touchpoint benchmark run.
type DecideConfig struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8420.
	URL string `json:"url"`
	// Token is the admin bearer token; empty sends no Authorization
	// header. It never appears in reports.
	Token string `json:"-"`
	// Rate is the number of requests scheduled per second. Zero means
	// DefaultDecideRate.
	Rate float64 `json:"rate"`
	// Duration is how long requests are scheduled for: Rate × Duration
	// requests, rounded up. Used when Requests is zero; if both are zero,
	// DefaultDecideDuration.
	Duration time.Duration `json:"durationNs"`
	// Requests, if positive, is the number of requests to schedule,
	// instead of Rate × Duration.
	Requests int `json:"requests"`
	// Users is the number of customers, u-0 to u-(Users-1), requests pick
	// from uniformly. Zero means DefaultDecideUsers.
	Users int `json:"users"`
	// DecideShare is the share of POST /v1/decide requests, from 0 to 1;
	// the rest are GET /v1/profiles/user_id:u-N/context. It is taken as it
	// is: 0 sends only context requests.
	DecideShare float64 `json:"decideShare"`
	// Connections is the number of keep-alive connections, each with one
	// request outstanding at most. Zero means DefaultDecideConnections.
	Connections int `json:"connections"`
	// OfferLimit is the offers.limit of decide requests. Zero means
	// DefaultOfferLimit.
	OfferLimit int `json:"offerLimit"`
	// Seed picks the endpoint, customer, touchpoint and context of each
	// request: runs with the same Seed send the same requests in the same
	// order.
	Seed int64 `json:"seed"`
	// Timeout bounds each request, from writing it to reading its whole
	// response. Zero means DefaultDecideTimeout.
	Timeout time.Duration `json:"timeoutNs"`
	// Client selects the HTTP client as IngestConfig.Client does.
	Client string `json:"client"`
	// TargetP99 is the latency the report is judged by (TargetMet). Zero
	// means DefaultTargetP99.
	TargetP99 time.Duration `json:"targetP99Ns"`
}

// normalize applies defaults and validates cfg.
func (cfg DecideConfig) normalize() (DecideConfig, *url.URL, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return cfg, nil, fmt.Errorf("loadgen: invalid URL %q: %v", cfg.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, nil, fmt.Errorf("loadgen: URL %q must be an absolute http:// or https:// URL", cfg.URL)
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultDecideRate
	}
	if cfg.Requests == 0 && cfg.Duration == 0 {
		cfg.Duration = DefaultDecideDuration
	}
	if cfg.Users == 0 {
		cfg.Users = DefaultDecideUsers
	}
	if cfg.Connections == 0 {
		cfg.Connections = DefaultDecideConnections
	}
	if cfg.OfferLimit == 0 {
		cfg.OfferLimit = DefaultOfferLimit
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultDecideTimeout
	}
	if cfg.TargetP99 == 0 {
		cfg.TargetP99 = DefaultTargetP99
	}
	switch cfg.Client {
	case "", ClientRaw:
		cfg.Client = ClientRaw
		if u.Scheme != "http" {
			cfg.Client = ClientNetHTTP
		}
	case ClientNetHTTP:
	default:
		return cfg, nil, fmt.Errorf("loadgen: client must be %q or %q, not %q", ClientRaw, ClientNetHTTP, cfg.Client)
	}
	switch {
	case !(cfg.Rate > 0) || cfg.Rate > 1e7:
		return cfg, nil, fmt.Errorf("loadgen: rate must be above 0 and at most 1e7 requests/s, not %v", cfg.Rate)
	case cfg.Requests < 0:
		return cfg, nil, fmt.Errorf("loadgen: requests must be positive, not %d", cfg.Requests)
	case cfg.Duration < 0:
		return cfg, nil, fmt.Errorf("loadgen: duration must be positive, not %v", cfg.Duration)
	case cfg.Users < 0:
		return cfg, nil, fmt.Errorf("loadgen: users must be positive, not %d", cfg.Users)
	case !(cfg.DecideShare >= 0 && cfg.DecideShare <= 1):
		return cfg, nil, fmt.Errorf("loadgen: decide share must be from 0 to 1, not %v", cfg.DecideShare)
	case cfg.Connections < 0:
		return cfg, nil, fmt.Errorf("loadgen: connections must be positive, not %d", cfg.Connections)
	case cfg.OfferLimit < 0:
		return cfg, nil, fmt.Errorf("loadgen: offer limit must be positive, not %d", cfg.OfferLimit)
	case cfg.Timeout < 0:
		return cfg, nil, fmt.Errorf("loadgen: timeout must be positive, not %v", cfg.Timeout)
	case cfg.TargetP99 < 0:
		return cfg, nil, fmt.Errorf("loadgen: target p99 must be positive, not %v", cfg.TargetP99)
	}
	return cfg, u, nil
}

// planned is the number of requests cfg schedules; cfg is normalized.
func (cfg DecideConfig) planned() int {
	if cfg.Requests > 0 {
		return cfg.Requests
	}
	n := int(cfg.Rate*cfg.Duration.Seconds() + 0.999999)
	return max(n, 1)
}

// DecideLatency summarizes latencies by the nearest-rank method on the
// exact sorted sample. All are zero when Count is.
type DecideLatency struct {
	Count int           `json:"count"`
	Min   time.Duration `json:"minNs"`
	Mean  time.Duration `json:"meanNs"`
	P50   time.Duration `json:"p50Ns"`
	P90   time.Duration `json:"p90Ns"`
	P99   time.Duration `json:"p99Ns"`
	P999  time.Duration `json:"p999Ns"`
	Max   time.Duration `json:"maxNs"`
}

// summarize sorts sample and summarizes it.
func summarize(sample []time.Duration) DecideLatency {
	if len(sample) == 0 {
		return DecideLatency{}
	}
	slices.Sort(sample)
	var sum time.Duration
	for _, d := range sample {
		sum += d
	}
	return DecideLatency{
		Count: len(sample),
		Min:   sample[0],
		Mean:  sum / time.Duration(len(sample)),
		P50:   percentile(sample, 50),
		P90:   percentile(sample, 90),
		P99:   percentile(sample, 99),
		P999:  percentile(sample, 99.9),
		Max:   sample[len(sample)-1],
	}
}

// EndpointReport is the outcome of one endpoint's requests.
type EndpointReport struct {
	// Requests is the number of completed requests.
	Requests int `json:"requests"`
	// OK is the number of 2xx responses.
	OK int `json:"ok"`
	// Errors is Requests - OK.
	Errors int `json:"errors"`
	// Latency is measured from each request's scheduled send time to
	// having read its whole response, so it includes the time a request
	// waited for a free connection.
	Latency DecideLatency `json:"latency"`
}

// DecideReport is the outcome of RunDecide. Counts cover completed
// requests: those that got a response or failed in transport.
type DecideReport struct {
	// Config is the configuration that ran, with defaults applied.
	Config DecideConfig `json:"config"`
	// Canceled reports that the context ended the run early.
	Canceled bool `json:"canceled"`
	// Planned is the number of requests scheduled.
	Planned int `json:"planned"`
	// Requests is the number of completed requests.
	Requests int `json:"requests"`
	// OK is the number of 2xx responses.
	OK int `json:"ok"`
	// Errors is the number of failed requests; ErrorsByStatus counts them
	// by status code, "transport" for requests without a response.
	Errors         int            `json:"errors"`
	ErrorsByStatus map[string]int `json:"errorsByStatus,omitempty"`
	// FirstError describes the first failure.
	FirstError string `json:"firstError,omitempty"`

	// Scheduled is the time from the first request's scheduled send time
	// to the last one's: (Planned-1)/Rate.
	Scheduled time.Duration `json:"scheduledNs"`
	// Elapsed is the time from the first scheduled send to the last
	// response.
	Elapsed time.Duration `json:"elapsedNs"`
	// AchievedRate is Requests divided by Elapsed.
	AchievedRate float64 `json:"achievedRate"`
	// Late is the number of requests that started more than LateThreshold
	// after their scheduled time, for want of a free connection or of
	// CPU; StartLag summarizes how late every request started. Part of
	// it is the generator's own: an idle Go process wakes from a timer
	// up to about 1 ms late (the runtime polls with millisecond timeouts,
	// golang/go#53824), so at a few thousand requests/s some requests
	// start over 1 ms late even against an instant server.
	Late     int           `json:"late"`
	StartLag DecideLatency `json:"startLag"`
	// RateKept reports that every scheduled request completed and
	// AchievedRate is at least 99% of Config.Rate: the server kept up
	// with the schedule over the run (momentary queueing shows in Late
	// and the latencies, not here).
	RateKept bool `json:"rateKept"`
	// TargetMet reports that the rate was kept, no request failed and
	// the p99 latency of both endpoints, from the scheduled times, is at
	// most Config.TargetP99.
	TargetMet bool `json:"targetMet"`

	// Latency covers every completed request, from its scheduled send
	// time (see EndpointReport.Latency); Service from when it was
	// actually written, which leaves out waiting for a connection.
	Latency DecideLatency `json:"latency"`
	Service DecideLatency `json:"service"`
	// Decide and Context are the POST /v1/decide and GET context requests.
	Decide  EndpointReport `json:"decide"`
	Context EndpointReport `json:"context"`
}

// decideResult is the outcome of one request, written only by the worker
// that sent it.
type decideResult struct {
	done    bool
	decide  bool
	code    int16 // 0: transport error
	lag     time.Duration
	latency time.Duration // from the scheduled time
	service time.Duration // from the write
}

// decideReq is what request i of a run asks.
type decideReq struct {
	decide     bool
	user       int
	touchpoint string
	placement  string
	country    string
}

// planRequest returns request i of a run: a pure function of the seed and
// i, so runs are reproducible whichever worker sends which request.
func planRequest(cfg *DecideConfig, i int) decideReq {
	h1 := mix(uint64(cfg.Seed)*0x9e3779b97f4a7c15 ^ uint64(i))
	h2 := mix(h1)
	h3 := mix(h2)
	return decideReq{
		decide:     float64(h1>>11)/(1<<53) < cfg.DecideShare,
		user:       int((h2 >> 32) * uint64(cfg.Users) >> 32),
		touchpoint: Touchpoints[h3%uint64(len(Touchpoints))],
		placement:  placements[(h3>>8)%uint64(len(placements))],
		country:    countries[(h3>>16)%uint64(len(countries))],
	}
}

// appendCustomer appends customer r.user's reference, user_id:u-N.
func appendCustomer(b []byte, user int) []byte {
	b = append(b, "user_id:u-"...)
	return strconv.AppendInt(b, int64(user), 10)
}

// appendPath appends the request's path after base (the URL's own path,
// without a trailing slash).
func (r *decideReq) appendPath(b []byte, base string) []byte {
	b = append(b, base...)
	if r.decide {
		return append(b, "/v1/decide"...)
	}
	b = append(b, "/v1/profiles/"...)
	b = appendCustomer(b, r.user)
	return append(b, "/context"...)
}

// appendBody appends a decide request's JSON body.
func (r *decideReq) appendBody(b []byte, limit int) []byte {
	b = append(b, `{"customer":"`...)
	b = appendCustomer(b, r.user)
	b = append(b, `","touchpoint":"`...)
	b = append(b, r.touchpoint...)
	b = append(b, `","context":{"placement":"`...)
	b = append(b, r.placement...)
	b = append(b, `","country":"`...)
	b = append(b, r.country...)
	b = append(b, `"},"offers":{"limit":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	return append(b, `}}`...)
}

// decideClient sends one request at a time over its own connection.
type decideClient interface {
	// do sends a request and reads its whole response. aborted reports
	// that ctx ended meanwhile; err a transport failure.
	do(ctx context.Context, method string, path, body []byte) (code int, status, resp []byte, aborted bool, err error)
	close()
}

// rawDecide is the raw client's decideClient: a rawConn and a buffer the
// whole request is built in.
type rawDecide struct {
	c     *rawConn
	host  string
	token string
	wire  []byte
}

func (r *rawDecide) do(ctx context.Context, method string, path, body []byte) (int, []byte, []byte, bool, error) {
	w := append(r.wire[:0], method...)
	w = append(w, ' ')
	w = append(w, path...)
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, r.host...)
	w = append(w, "\r\nUser-Agent: "+userAgent+"\r\n"...)
	if r.token != "" {
		w = append(w, "Authorization: Bearer "...)
		w = append(w, r.token...)
		w = append(w, "\r\n"...)
	}
	if body != nil {
		w = append(w, "Content-Type: application/json\r\nContent-Length: "...)
		w = strconv.AppendInt(w, int64(len(body)), 10)
		w = append(w, "\r\n"...)
	}
	w = append(w, "\r\n"...)
	w = append(w, body...)
	r.wire = w

	c := r.c
	t0 := time.Now()
	if c.conn == nil {
		if err := c.dial(ctx); err != nil {
			return 0, nil, nil, ctx.Err() != nil, err
		}
	}
	_ = c.conn.SetDeadline(t0.Add(c.timeout))
	if ctx.Err() != nil {
		return 0, nil, nil, true, nil
	}
	code, closeAfter, err := c.roundTrip(w)
	if err != nil || closeAfter {
		c.closeConn()
	}
	if err != nil {
		return 0, nil, nil, ctx.Err() != nil, err
	}
	return code, c.status, c.body, false, nil
}

func (r *rawDecide) close() { r.c.close() }

// httpDecide is the net/http decideClient.
type httpDecide struct {
	client *http.Client
	origin string // scheme://host
	token  string
	buf    []byte
}

func (h *httpDecide) do(ctx context.Context, method string, path, body []byte) (int, []byte, []byte, bool, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.origin+string(path), rd)
	if err != nil {
		return 0, nil, nil, false, err
	}
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, nil, ctx.Err() != nil, err
	}
	defer resp.Body.Close()
	buf := bytes.NewBuffer(h.buf[:0])
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	h.buf = buf.Bytes()
	if err != nil {
		return 0, nil, nil, ctx.Err() != nil, err
	}
	return resp.StatusCode, []byte(resp.Status), h.buf, false, nil
}

func (h *httpDecide) close() {}

// RunDecide runs the touchpoint benchmark cfg describes: an open-loop
// generator. Request i is scheduled at start + i/Rate whatever the server
// does; Connections workers, each over its own keep-alive connection, take
// the requests in order, wait for their scheduled time if it is still to
// come, and send them. A request that finds every connection busy starts
// late, and its latency is measured from its scheduled time, so that a
// server falling behind shows up in the latency as the queueing it causes
// (no coordinated omission). Each request is sent once; failures are
// counted in the report. The error is non-nil for an invalid cfg (with a
// nil report) or when ctx ends the run, with a report of the requests
// completed until then.
func RunDecide(ctx context.Context, cfg DecideConfig) (*DecideReport, error) {
	cfg, u, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	total := cfg.planned()
	base := strings.TrimRight(u.Path, "/")
	workers := min(cfg.Connections, total)

	var newClient func() decideClient
	if cfg.Client == ClientRaw {
		icfg := IngestConfig{Timeout: cfg.Timeout}
		newClient = func() decideClient {
			return &rawDecide{c: newRawConn(ctx, u, icfg), host: u.Host, token: cfg.Token, wire: make([]byte, 0, 512)}
		}
	} else {
		hc := newHTTPClient(IngestConfig{Timeout: cfg.Timeout}, workers)
		defer hc.CloseIdleConnections()
		origin := u.Scheme + "://" + u.Host
		newClient = func() decideClient {
			return &httpDecide{client: hc, origin: origin, token: cfg.Token, buf: make([]byte, 0, 4096)}
		}
	}
	clients := make([]decideClient, workers)
	var dials sync.WaitGroup
	for w := range clients {
		clients[w] = newClient()
		defer clients[w].close()
		if r, ok := clients[w].(*rawDecide); ok {
			// Connect before the clock starts; a failure here is retried
			// (and reported) by the first request.
			dials.Go(func() { _ = r.c.dial(ctx) })
		}
	}
	dials.Wait()

	results := make([]decideResult, total)
	var (
		next     atomic.Int64
		errMu    sync.Mutex
		firstErr string
		wg       sync.WaitGroup
		lastDone atomic.Int64 // nanoseconds after start
	)
	noteErr := func(msg string) {
		errMu.Lock()
		if firstErr == "" {
			firstErr = msg
		}
		errMu.Unlock()
	}
	interval := 1e9 / cfg.Rate // nanoseconds
	// The first request is scheduled a little after now, so that every
	// worker is waiting for its slot when the clock starts.
	start := time.Now().Add(2 * time.Millisecond)
	for _, cl := range clients {
		wg.Go(func() {
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			var path, body []byte
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				at := start.Add(time.Duration(float64(i) * interval))
				rq := planRequest(&cfg, i)
				path = rq.appendPath(path[:0], base)
				method := http.MethodGet
				var b []byte
				if rq.decide {
					method = http.MethodPost
					body = rq.appendBody(body[:0], cfg.OfferLimit)
					b = body
				}
				if d := time.Until(at); d > 0 {
					timer.Reset(d)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				}
				t0 := time.Now()
				code, status, resp, aborted, err := cl.do(ctx, method, path, b)
				t1 := time.Now()
				if aborted {
					return
				}
				res := decideResult{done: true, decide: rq.decide, code: int16(code),
					lag: t0.Sub(at), latency: t1.Sub(at), service: t1.Sub(t0)}
				switch {
				case err != nil:
					res.code = 0
					noteErr(fmt.Sprintf("%s %s: %v", method, path, err))
				case code < 200 || code > 299:
					noteErr(fmt.Sprintf("%s %s: %s: %s", method, path, status, clip(resp)))
				}
				results[i] = res
				d := int64(t1.Sub(start))
				for {
					old := lastDone.Load()
					if d <= old || lastDone.CompareAndSwap(old, d) {
						break
					}
				}
			}
		})
	}
	wg.Wait()

	rep := &DecideReport{
		Config:    cfg,
		Planned:   total,
		Scheduled: time.Duration(float64(total-1) * interval),
		Elapsed:   time.Duration(lastDone.Load()),
	}
	rep.FirstError = firstErr
	all := make([]time.Duration, 0, total)
	service := make([]time.Duration, 0, total)
	lags := make([]time.Duration, 0, total)
	var dec, ctxl []time.Duration
	for _, r := range results {
		if !r.done {
			continue
		}
		rep.Requests++
		ep := &rep.Context
		if r.decide {
			ep = &rep.Decide
			dec = append(dec, r.latency)
		} else {
			ctxl = append(ctxl, r.latency)
		}
		ep.Requests++
		if r.code >= 200 && r.code <= 299 {
			rep.OK++
			ep.OK++
		} else {
			rep.Errors++
			ep.Errors++
			if rep.ErrorsByStatus == nil {
				rep.ErrorsByStatus = map[string]int{}
			}
			key := "transport"
			if r.code != 0 {
				key = strconv.Itoa(int(r.code))
			}
			rep.ErrorsByStatus[key]++
		}
		if r.lag > LateThreshold {
			rep.Late++
		}
		all = append(all, r.latency)
		service = append(service, r.service)
		lags = append(lags, max(r.lag, 0))
	}
	rep.Latency = summarize(all)
	rep.Service = summarize(service)
	rep.StartLag = summarize(lags)
	rep.Decide.Latency = summarize(dec)
	rep.Context.Latency = summarize(ctxl)
	if secs := rep.Elapsed.Seconds(); secs > 0 {
		rep.AchievedRate = float64(rep.Requests) / secs
	}
	rep.Canceled = ctx.Err() != nil
	rep.RateKept = !rep.Canceled && rep.Requests == rep.Planned && rep.AchievedRate >= minRateShare*cfg.Rate
	rep.TargetMet = rep.RateKept && rep.Errors == 0 &&
		rep.Decide.Latency.P99 <= cfg.TargetP99 && rep.Context.Latency.P99 <= cfg.TargetP99
	if rep.Canceled {
		return rep, fmt.Errorf("loadgen: run stopped after %d of %d requests: %w", rep.Requests, rep.Planned, ctx.Err())
	}
	return rep, nil
}

// String returns a human-readable summary of the run, with a latency table.
func (r *DecideReport) String() string {
	var sb strings.Builder
	c := r.Config
	fmt.Fprintf(&sb, "decide bench: %s, %.0f requests/s scheduled over %v (%d requests), %.0f%% POST /v1/decide, %d users, %d connections, seed %d\n",
		strings.TrimRight(c.URL, "/"), c.Rate, r.Scheduled.Round(time.Millisecond), r.Planned, c.DecideShare*100, c.Users, c.Connections, c.Seed)
	fmt.Fprintf(&sb, "  sent      %d of %d requests: %d ok, %d failed", r.Requests, r.Planned, r.OK, r.Errors)
	if len(r.ErrorsByStatus) > 0 {
		keys := make([]string, 0, len(r.ErrorsByStatus))
		for k := range r.ErrorsByStatus {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s: %d", k, r.ErrorsByStatus[k])
		}
		fmt.Fprintf(&sb, " (%s)", strings.Join(parts, ", "))
	}
	sb.WriteString("\n")
	kept := "rate kept"
	if !r.RateKept {
		kept = "rate NOT kept"
	}
	late := 0.0
	if r.Requests > 0 {
		late = 100 * float64(r.Late) / float64(r.Requests)
	}
	fmt.Fprintf(&sb, "  rate      %.1f requests/s achieved in %v: %s; %d (%.1f%%) started > %v late (start lag p50 %v, p99 %v, max %v)\n",
		r.AchievedRate, r.Elapsed.Round(time.Millisecond), kept, r.Late, late, LateThreshold,
		roundDur(r.StartLag.P50), roundDur(r.StartLag.P99), roundDur(r.StartLag.Max))
	fmt.Fprintf(&sb, "  %-22s %8s %9s %9s %9s %9s %9s %9s\n", "latency", "requests", "p50", "p90", "p99", "p99.9", "max", "mean")
	row := func(name string, l DecideLatency) {
		fmt.Fprintf(&sb, "  %-22s %8d %9v %9v %9v %9v %9v %9v\n", name, l.Count,
			roundDur(l.P50), roundDur(l.P90), roundDur(l.P99), roundDur(l.P999), roundDur(l.Max), roundDur(l.Mean))
	}
	row("all", r.Latency)
	row("POST /v1/decide", r.Decide.Latency)
	row("GET context", r.Context.Latency)
	row("all, from send", r.Service)
	verdict := "met"
	if !r.TargetMet {
		verdict = "NOT met"
	}
	fmt.Fprintf(&sb, "  target    p99 <= %v at %.0f requests/s, no errors: %s\n", c.TargetP99, c.Rate, verdict)
	if r.Canceled {
		sb.WriteString("  canceled before all requests completed\n")
	}
	if r.FirstError != "" {
		fmt.Fprintf(&sb, "  first error: %s\n", r.FirstError)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}
