package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultUsers is the number of distinct userIds events are spread over when
// IngestConfig.Users is zero.
const DefaultUsers = 10000

// DefaultTimeout is the per-request timeout used when IngestConfig.Timeout
// is zero.
const DefaultTimeout = 60 * time.Second

// Clients RunIngest can send requests with; see IngestConfig.Client.
const (
	// ClientRaw is the minimal HTTP/1.1 client over raw TCP connections.
	// It speaks http:// only; for https:// URLs ClientNetHTTP is used.
	ClientRaw = "raw"
	// ClientNetHTTP is net/http's client.
	ClientNetHTTP = "nethttp"
)

// userAgent is the User-Agent header of every request.
const userAgent = "overture-bench/1"

// maxBody bounds how much of a response body is read into memory; the rest
// is read and discarded.
const maxBody = 1 << 20

// maxErrorBody bounds how much of a failed response's body is kept for
// IngestReport.FirstError.
const maxErrorBody = 512

// IngestConfig describes one ingestion benchmark run.
type IngestConfig struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8420; the
	// /v1/track or /v1/batch path is appended to it.
	URL string `json:"url"`
	// WriteKey is sent as the HTTP Basic username with an empty password;
	// empty sends no Authorization header. It never appears in reports.
	WriteKey string `json:"-"`
	// Events is the total number of events to send; it must be positive.
	Events int `json:"events"`
	// Batch is the number of events per request: 1 sends each event with
	// POST /v1/track, more sends POST /v1/batch with up to Batch events
	// (the last request carries the remainder). Zero means 1.
	Batch int `json:"batch"`
	// Concurrency is the number of concurrent workers, each using its own
	// keep-alive connection. Zero means 1.
	Concurrency int `json:"concurrency"`
	// Users is the number of distinct userIds the events are spread over.
	// Zero means DefaultUsers.
	Users int `json:"users"`
	// Gzip gzips request bodies (Content-Encoding: gzip).
	Gzip bool `json:"gzip"`
	// Seed makes payloads reproducible: runs with the same Seed send the
	// same events except for their messageIds, which embed a random run ID
	// so that they are unique across runs.
	Seed int64 `json:"seed"`
	// Timeout bounds each request, from sending to reading the whole
	// response. Zero means DefaultTimeout.
	Timeout time.Duration `json:"timeoutNs"`
	// Client selects the HTTP client: ClientRaw (the default; "" means it)
	// or ClientNetHTTP. ClientRaw falls back to ClientNetHTTP for https://
	// URLs; the report's Config says which client ran.
	Client string `json:"client"`
	// Journeys shapes the events for the reference journey benchmark:
	// event n is Checkout Started for its own customer (u-n), except that
	// every fifth is Order Completed for the previous event's customer.
	// Users is ignored.
	Journeys bool `json:"journeys,omitempty"`
	// Profiles shapes the events for the audience benchmark: event n is
	// an identify for its own customer (u-n) with traits score (n mod
	// 100) and email, so N events make N profiles. Users is ignored.
	Profiles bool `json:"profiles,omitempty"`
}

// normalize applies defaults and validates cfg.
func (cfg IngestConfig) normalize() (IngestConfig, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return cfg, fmt.Errorf("loadgen: invalid URL %q: %v", cfg.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("loadgen: URL %q must be an absolute http:// or https:// URL", cfg.URL)
	}
	if cfg.Batch == 0 {
		cfg.Batch = 1
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 1
	}
	if cfg.Users == 0 {
		cfg.Users = DefaultUsers
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch cfg.Client {
	case "", ClientRaw:
		cfg.Client = ClientRaw
		if u.Scheme != "http" {
			cfg.Client = ClientNetHTTP
		}
	case ClientNetHTTP:
	default:
		return cfg, fmt.Errorf("loadgen: client must be %q or %q, not %q", ClientRaw, ClientNetHTTP, cfg.Client)
	}
	switch {
	case cfg.Events <= 0:
		return cfg, fmt.Errorf("loadgen: events must be positive, not %d", cfg.Events)
	case cfg.Batch < 0:
		return cfg, fmt.Errorf("loadgen: batch must be positive, not %d", cfg.Batch)
	case cfg.Concurrency < 0:
		return cfg, fmt.Errorf("loadgen: concurrency must be positive, not %d", cfg.Concurrency)
	case cfg.Users < 0:
		return cfg, fmt.Errorf("loadgen: users must be positive, not %d", cfg.Users)
	case cfg.Timeout < 0:
		return cfg, fmt.Errorf("loadgen: timeout must be positive, not %v", cfg.Timeout)
	}
	return cfg, nil
}

// Latency summarizes per-request acknowledgement latencies: the time from
// sending a request to having read its whole response. Percentiles use the
// nearest-rank method on the exact sorted sample. All are zero when no
// request completed.
type Latency struct {
	// Min is the fastest request.
	Min time.Duration `json:"minNs"`
	// Mean is the arithmetic mean.
	Mean time.Duration `json:"meanNs"`
	// P50 is the median.
	P50 time.Duration `json:"p50Ns"`
	// P90 is the 90th percentile.
	P90 time.Duration `json:"p90Ns"`
	// P99 is the 99th percentile.
	P99 time.Duration `json:"p99Ns"`
	// Max is the slowest request.
	Max time.Duration `json:"maxNs"`
}

// IngestReport is the outcome of RunIngest. Counts cover completed
// requests: those that got a response or failed in transport. Requests
// still in flight or never sent when the context was canceled are left out.
type IngestReport struct {
	// Config is the configuration that ran, with defaults applied.
	Config IngestConfig `json:"config"`
	// RunID is embedded in every messageId: bench-<RunID>-<n>.
	RunID string `json:"runId"`
	// Canceled reports that the context ended the run early.
	Canceled bool `json:"canceled"`

	// PlannedRequests is ceil(Events/Batch), the number of requests built.
	PlannedRequests int `json:"plannedRequests"`
	// Requests is the number of completed requests.
	Requests int `json:"requests"`
	// EventsSent is the number of events in completed requests.
	EventsSent int `json:"eventsSent"`
	// EventsAcked is the number of events the server acknowledged as
	// accepted in successful responses.
	EventsAcked int `json:"eventsAcked"`
	// EventsRejected is the number of events successful responses reported
	// as rejected (invalid items of a batch, quarantined by the server).
	EventsRejected int `json:"eventsRejected"`
	// Errors is the number of failed requests: transport errors, non-2xx
	// responses and 2xx responses that do not say {"success":true}.
	Errors int `json:"errors"`
	// FirstError describes the first failure seen, including the start of
	// the response body for an HTTP error.
	FirstError string `json:"firstError,omitempty"`

	// AvgEventBytes is the mean size of one event's JSON, uncompressed.
	AvgEventBytes int `json:"avgEventBytes"`
	// BodyBytes is the total size of the bodies of completed requests as
	// sent (gzipped when Config.Gzip).
	BodyBytes int64 `json:"bodyBytes"`
	// BuildTime is how long building the request bodies took; it is not
	// part of Elapsed.
	BuildTime time.Duration `json:"buildNs"`
	// Elapsed is the wall time from the first request being sent to the
	// last one completing.
	Elapsed time.Duration `json:"elapsedNs"`
	// EventsPerSec is EventsAcked divided by Elapsed.
	EventsPerSec float64 `json:"eventsPerSec"`
	// RequestsPerSec is Requests divided by Elapsed.
	RequestsPerSec float64 `json:"requestsPerSec"`
	// Latency summarizes the latency of every completed request, failed
	// ones included.
	Latency Latency `json:"latency"`
}

// result is the outcome of one request, written only by the worker that
// sent it.
type result struct {
	done     bool // completed (not skipped or aborted by cancellation)
	ok       bool
	latency  time.Duration
	acked    int
	rejected int
}

// ackBody is the part of an ingestion response loadgen checks.
type ackBody struct {
	Success  *bool             `json:"success"`
	Accepted *int              `json:"accepted"`
	Rejected []json.RawMessage `json:"rejected"`
}

// RunIngest runs the benchmark cfg describes and reports on it. It builds
// all ceil(Events/Batch) request bodies first, then sends each exactly once
// (no retries) from Concurrency workers. Failed requests are counted in the
// report, not returned as an error. The error is non-nil for an invalid
// cfg (with a nil report) or when ctx ends the run: then the report, if
// the sending had started, covers the requests completed until then.
func RunIngest(ctx context.Context, cfg IngestConfig) (*IngestReport, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.URL) // cannot fail: normalize parsed it
	if err != nil {
		return nil, err
	}
	path := "/v1/batch"
	if cfg.Batch == 1 {
		path = "/v1/track"
	}
	// The path is appended to the URL's, as in "<URL>/v1/track".
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""

	var idb [6]byte
	_, _ = rand.Read(idb[:]) // crypto/rand.Read never fails
	runID := hex.EncodeToString(idb[:])

	// newSender makes one worker's sender; it is called before the clock
	// starts. head, if not nil, frames each body as a whole HTTP request.
	var (
		newSender func() sender
		head      func(dst []byte, bodyLen int) []byte
	)
	workers := min(cfg.Concurrency, (cfg.Events+cfg.Batch-1)/cfg.Batch)
	if cfg.Client == ClientRaw {
		head = requestHead(u, cfg)
		newSender = func() sender { return newRawConn(ctx, u, cfg) }
	} else {
		client := newHTTPClient(cfg, workers)
		defer client.CloseIdleConnections()
		newSender = func() sender { return &httpSender{client: client, url: u.String(), cfg: cfg} }
	}

	buildStart := time.Now()
	b, err := buildRequests(ctx, cfg, runID, buildStart, head)
	if err != nil {
		return nil, err
	}
	rep := &IngestReport{
		Config:          cfg,
		RunID:           runID,
		PlannedRequests: len(b.reqs),
		AvgEventBytes:   int(b.rawBytes / int64(cfg.Events)),
		BuildTime:       time.Since(buildStart),
	}

	results := make([]result, len(b.reqs))
	var (
		next     atomic.Int64
		errMu    sync.Mutex
		firstErr string
		wg       sync.WaitGroup
	)
	noteErr := func(msg string) {
		errMu.Lock()
		if firstErr == "" {
			firstErr = msg
		}
		errMu.Unlock()
	}
	senders := make([]sender, workers)
	for w := range senders {
		senders[w] = newSender()
		defer senders[w].close()
	}

	start := time.Now()
	for _, snd := range senders {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(b.reqs) {
					return
				}
				res, msg := snd.send(ctx, &b.reqs[i])
				if !res.done {
					return // canceled
				}
				if msg != "" {
					noteErr(msg)
				}
				results[i] = res
			}
		})
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	rep.FirstError = firstErr

	lat := make([]time.Duration, 0, len(results))
	var sum time.Duration
	for i, r := range results {
		if !r.done {
			continue
		}
		rep.Requests++
		rep.EventsSent += b.reqs[i].events
		rep.BodyBytes += int64(len(b.reqs[i].body))
		if r.ok {
			rep.EventsAcked += r.acked
			rep.EventsRejected += r.rejected
		} else {
			rep.Errors++
		}
		lat = append(lat, r.latency)
		sum += r.latency
	}
	if secs := rep.Elapsed.Seconds(); secs > 0 {
		rep.EventsPerSec = float64(rep.EventsAcked) / secs
		rep.RequestsPerSec = float64(rep.Requests) / secs
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		rep.Latency = Latency{
			Min:  lat[0],
			Mean: sum / time.Duration(len(lat)),
			P50:  percentile(lat, 50),
			P90:  percentile(lat, 90),
			P99:  percentile(lat, 99),
			Max:  lat[len(lat)-1],
		}
	}
	if err := ctx.Err(); err != nil {
		rep.Canceled = true
		return rep, fmt.Errorf("loadgen: run stopped after %d of %d requests: %w", rep.Requests, rep.PlannedRequests, err)
	}
	return rep, nil
}

// A sender sends requests one at a time over its own keep-alive
// connection; each worker owns one.
type sender interface {
	// send sends rq and reads its whole response. It returns a result with
	// done false if ctx was canceled meanwhile, and a description of the
	// failure if the request failed.
	send(ctx context.Context, rq *request) (result, string)
	// close releases the connection.
	close()
}

// checkResponse judges a response both clients have read in full: status
// is its status code and reason ("503 Service Unavailable"), only read for
// an error message. lat is the
// request's latency and events the number of events it carried.
func checkResponse(path string, status []byte, code int, body []byte, events int, lat time.Duration) (result, string) {
	res := result{done: true, latency: lat}
	if code < 200 || code > 299 {
		return res, fmt.Sprintf("POST %s: %s: %s", path, status, clip(body))
	}
	ok, accepted, rejected := parseAck(body)
	if !ok {
		return res, fmt.Sprintf("POST %s: %s without {\"success\":true}: %s", path, status, clip(body))
	}
	res.ok = true
	res.rejected = rejected
	if accepted >= 0 {
		res.acked = accepted
	} else {
		res.acked = max(events-rejected, 0)
	}
	return res, ""
}

// ackPrefix starts the body the server sends for every fully accepted
// request; parseAck reads such bodies without decoding JSON.
const ackPrefix = `{"success":true,"accepted":`

// parseAck reports whether an ingestion response body says
// {"success":true} and, if so, how many events it reports as accepted (-1
// if it does not say) and as rejected. A body of the shape
// {"success":true,"accepted":N} takes a fast path; any other is decoded as
// JSON.
func parseAck(body []byte) (ok bool, accepted, rejected int) {
	b := body
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	if len(b) > len(ackPrefix)+1 && len(b) <= len(ackPrefix)+10 && string(b[:len(ackPrefix)]) == ackPrefix && b[len(b)-1] == '}' {
		digits := b[len(ackPrefix) : len(b)-1]
		n := 0
		for _, c := range digits {
			if c < '0' || c > '9' {
				n = -1
				break
			}
			n = n*10 + int(c-'0')
		}
		if n >= 0 && (digits[0] != '0' || len(digits) == 1) {
			return true, n, 0
		}
	}
	return parseAckJSON(body)
}

// parseAckJSON is parseAck's general path: any body, decoded as JSON.
func parseAckJSON(body []byte) (ok bool, accepted, rejected int) {
	var ack ackBody
	if err := json.Unmarshal(body, &ack); err != nil || ack.Success == nil || !*ack.Success {
		return false, 0, 0
	}
	accepted = -1
	if ack.Accepted != nil {
		accepted = *ack.Accepted
	}
	return true, accepted, len(ack.Rejected)
}

// isJSONSpace reports whether c is whitespace in JSON.
func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// clip returns the start of a response body for an error message.
func clip(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > maxErrorBody {
		s = s[:maxErrorBody] + "..."
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

// percentile returns the p-th percentile (0 < p <= 100) of the sorted,
// non-empty sample by the nearest-rank method: the smallest value at least
// p percent of the sample is less than or equal to.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// String returns a short human-readable multi-line summary of the run.
func (r *IngestReport) String() string {
	var sb strings.Builder
	c := r.Config
	gz := "off"
	if c.Gzip {
		gz = "on"
	}
	path := "/v1/batch"
	if c.Batch == 1 {
		path = "/v1/track"
	}
	fmt.Fprintf(&sb, "ingest bench %s: POST %s%s, batch %d, concurrency %d, gzip %s, %d users, ~%d B/event\n",
		r.RunID, strings.TrimRight(c.URL, "/"), path, c.Batch, c.Concurrency, gz, c.Users, r.AvgEventBytes)
	fmt.Fprintf(&sb, "  sent      %d events in %d of %d requests (%s of bodies)\n",
		r.EventsSent, r.Requests, r.PlannedRequests, byteSize(r.BodyBytes))
	fmt.Fprintf(&sb, "  acked     %d events, %d rejected, %d failed requests\n", r.EventsAcked, r.EventsRejected, r.Errors)
	fmt.Fprintf(&sb, "  elapsed   %v: %.0f events/s, %.1f requests/s\n", r.Elapsed.Round(time.Millisecond), r.EventsPerSec, r.RequestsPerSec)
	l := r.Latency
	fmt.Fprintf(&sb, "  latency   p50 %v  p90 %v  p99 %v  max %v  (mean %v)\n",
		roundDur(l.P50), roundDur(l.P90), roundDur(l.P99), roundDur(l.Max), roundDur(l.Mean))
	if r.Canceled {
		sb.WriteString("  canceled before all requests completed\n")
	}
	if r.FirstError != "" {
		fmt.Fprintf(&sb, "  first error: %s\n", r.FirstError)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// roundDur rounds d to three significant digits or so, for display.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// byteSize formats n bytes with a binary unit.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
