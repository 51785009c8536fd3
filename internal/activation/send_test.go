package activation

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hook is a webhook receiver that answers the statuses in script, one per
// call (then 200), and records what it received.
type hook struct {
	t      *testing.T
	key    []byte
	now    time.Time
	script []int
	header http.Header // sent with every non-2xx answer

	mu    sync.Mutex
	calls []call
}

type call struct {
	id   string
	page Page
	err  error // Verify's verdict
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := call{id: r.Header.Get(HeaderID), err: Verify(h.key, r.Header, body, h.now, 0)}
	if err := json.Unmarshal(body, &c.page); err != nil {
		h.t.Errorf("body is not a page: %s", body)
	}
	h.mu.Lock()
	n := len(h.calls)
	h.calls = append(h.calls, c)
	h.mu.Unlock()
	if n < len(h.script) && h.script[n]/100 != 2 {
		for k, v := range h.header {
			w.Header()[k] = v
		}
		w.WriteHeader(h.script[n])
		io.WriteString(w, "not now\n")
	}
}

func newSender(t *testing.T, h *hook) (*Sender, *[]time.Duration) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	var waits []time.Duration
	s := &Sender{URL: srv.URL, Key: h.key, Now: func() time.Time { return h.now }, MaxBackoff: 10 * time.Second,
		sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	return s, &waits
}

var page = &Page{Audience: "vip", ActivationID: "act_1", Page: 2, Last: true, Members: []Row{
	{ProfileID: "p1", Since: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Traits: map[string]any{"email": "ann@example.com"}},
}}

func TestSenderRetriesThenDelivers(t *testing.T) {
	h := &hook{t: t, key: []byte("k"), now: time.Now(), script: []int{503}, header: http.Header{"Retry-After": {"2"}}}
	s, waits := newSender(t, h)
	if err := s.Send(context.Background(), page); err != nil {
		t.Fatal(err)
	}
	if len(h.calls) != 2 {
		t.Fatalf("%d calls, want 2 (503, then 200)", len(h.calls))
	}
	for i, c := range h.calls {
		if c.err != nil {
			t.Errorf("call %d: signature does not verify: %v", i, c.err)
		}
		if c.id != "act_1_2" {
			t.Errorf("call %d: webhook-id %q, want act_1_2 on every attempt", i, c.id)
		}
		if p := c.page; p.Audience != "vip" || p.ActivationID != "act_1" || p.Page != 2 || !p.Last || len(p.Members) != 1 ||
			p.Members[0].ProfileID != "p1" || p.Members[0].Traits["email"] != "ann@example.com" {
			t.Errorf("call %d: page %+v", i, p)
		}
	}
	if len(*waits) != 1 || (*waits)[0] != 2*time.Second {
		t.Errorf("waits %v, want [2s] (the Retry-After)", *waits)
	}
}

func TestSenderGivesUp(t *testing.T) {
	tests := []struct {
		name      string
		script    []int
		header    http.Header
		calls     int
		waits     string
		status    int
		errSubstr string
	}{
		{name: "5xx every time", script: []int{500, 502, 503, 504}, calls: 4, waits: "[1s 2s 4s]", status: 504,
			errSubstr: "page 2 not delivered after 4 attempts: answered 504 Gateway Timeout: not now"},
		{name: "429 capped backoff", script: []int{429, 429, 429, 429}, header: http.Header{"Retry-After": {"10"}}, calls: 4, waits: "[10s 10s 10s]", status: 429},
		{name: "4xx is final", script: []int{400}, calls: 1, waits: "[]", status: 400, errSubstr: "after 1 attempt: answered 400 Bad Request"},
		{name: "Retry-After too long", script: []int{503}, header: http.Header{"Retry-After": {"3600"}}, calls: 1, waits: "[]", status: 503,
			errSubstr: "asking to retry after 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &hook{t: t, key: []byte("k"), now: time.Now(), script: tt.script, header: tt.header}
			s, waits := newSender(t, h)
			err := s.Send(context.Background(), page)
			var de *DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("Send = %v, want a DeliveryError", err)
			}
			if len(h.calls) != tt.calls || de.Attempts != tt.calls || de.Status != tt.status || fmtDurations(*waits) != tt.waits {
				t.Fatalf("calls %d attempts %d status %d waits %v; want %d calls, status %d, waits %s", len(h.calls), de.Attempts, de.Status, *waits, tt.calls, tt.status, tt.waits)
			}
			if !strings.Contains(err.Error(), tt.errSubstr) {
				t.Fatalf("error %q lacks %q", err, tt.errSubstr)
			}
		})
	}
}

func TestSenderTransportErrorAndUnsigned(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	var waits []time.Duration
	s := &Sender{URL: url, Attempts: 2, sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	err := s.Send(context.Background(), page)
	var de *DeliveryError
	if !errors.As(err, &de) || de.Err == nil || de.Attempts != 2 || len(waits) != 1 {
		t.Fatalf("Send = %v (waits %v), want a DeliveryError with the transport error after 2 attempts", err, waits)
	}

	// Without a key the call carries id and timestamp but no signature.
	var got http.Header
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer ok.Close()
	if err := (&Sender{URL: ok.URL}).Send(context.Background(), page); err != nil {
		t.Fatal(err)
	}
	if got.Get(HeaderID) != "act_1_2" || got.Get(HeaderTimestamp) == "" || got.Get(HeaderSignature) != "" || got.Get("Content-Type") != "application/json" {
		t.Fatalf("unsigned call headers: %v", got)
	}
}

func TestSenderStopsWithContext(t *testing.T) {
	h := &hook{t: t, key: []byte("k"), now: time.Now(), script: []int{503, 503}}
	s, _ := newSender(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	s.sleep = func(ctx context.Context, d time.Duration) error { cancel(); return sleepCtx(ctx, d) }
	if err := s.Send(ctx, page); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
}

func fmtDurations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestNewActivationID(t *testing.T) {
	a, b := NewActivationID(), NewActivationID()
	if a == b || !strings.HasPrefix(a, "act_") || len(a) != 28 {
		t.Fatalf("ids %q %q", a, b)
	}
}
