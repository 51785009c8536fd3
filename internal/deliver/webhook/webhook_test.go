package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/delivertest"
	"github.com/overture-cjo/overture/internal/deliver/webhook"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is a webhook endpoint as the package documentation asks one to
// be: it verifies each call, deduplicates on webhook-id and can be told to
// answer the next calls with given statuses first.
type receiver struct {
	t      *testing.T
	secret string

	mu      sync.Mutex
	got     map[string][]byte      // body by webhook-id
	headers map[string]http.Header // headers by webhook-id
	calls   int
	answers []int // statuses to answer before accepting, in order
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	t.Helper()
	r := &receiver{t: t, secret: secret, got: map[string][]byte{}, headers: map[string]http.Header{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if err := webhook.Verify(r.secret, req.Header, body, time.Now()); err != nil {
		http.Error(w, "signature: "+err.Error(), http.StatusUnauthorized)
		return
	}
	if len(r.answers) > 0 {
		status := r.answers[0]
		r.answers = r.answers[1:]
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3")
		}
		if status == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		http.Error(w, "not now", status)
		return
	}
	id := req.Header.Get("webhook-id")
	if _, dup := r.got[id]; !dup {
		r.got[id] = body
		r.headers[id] = req.Header.Clone()
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"rcv_` + id + `"}`))
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func newConnector(t *testing.T, url string) *webhook.Connector {
	t.Helper()
	key, err := webhook.SigningKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	c, err := webhook.New(webhook.Config{Name: "hooks", Channels: []string{"webhook", "whatsapp"}, URL: url, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func msg(key string) *deliver.Message {
	return &deliver.Message{Key: key, Channel: "webhook", JSON: []byte(`{"event":"welcome","points":12}`),
		Meta: map[string]string{"profile_id": "p1", "journey": "onboarding", "bad key!": "dropped"}}
}

func TestSignedRoundTrip(t *testing.T) {
	r, srv := newReceiver(t)
	c := newConnector(t, srv.URL)
	delivertest.Check(t, c, msg("i1:2:1"))

	res, err := c.Send(context.Background(), msg("i1:3:1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.ProviderID != "rcv_i1:3:1" || res.Status != "200" {
		t.Errorf("result %+v", res)
	}
	body, h := r.got["i1:3:1"], r.headers["i1:3:1"]
	if string(body) != `{"event":"welcome","points":12}` {
		t.Errorf("body %s", body)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", "Idempotency-Key": "i1:3:1", "X-Overture-Channel": "webhook",
		"X-Overture-Profile-Id": "p1", "X-Overture-Journey": "onboarding",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}

	// The signature checks out under the specification's formula computed
	// here independently, not only under the package's own Verify.
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); h.Get("webhook-signature") != want {
		t.Errorf("webhook-signature %q, want %q", h.Get("webhook-signature"), want)
	}
}

func TestTamperedBodyRejected(t *testing.T) {
	r, srv := newReceiver(t)
	// A proxy between sender and receiver that changes one byte of the body.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		body = bytes.Replace(body, []byte("12"), []byte("99"), 1)
		out, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		out.Header = req.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer proxy.Close()

	_, err := newConnector(t, proxy.URL).Send(context.Background(), msg("i1:3:1"))
	var de *deliver.Error
	if !errors.As(err, &de) || de.Status != http.StatusUnauthorized || de.Retryable {
		t.Fatalf("tampered call: %v, want a non-retryable 401", err)
	}
	if !strings.Contains(de.Reason, "no valid webhook signature") {
		t.Errorf("reason %q", de.Reason)
	}
	if r.count() != 0 {
		t.Error("the receiver stored a tampered message")
	}

	// Verify itself: tampered body, wrong secret, stale timestamp.
	key, _ := webhook.SigningKey(secret)
	h := http.Header{}
	h.Set("webhook-id", "k")
	h.Set("webhook-timestamp", "1700000000")
	body := []byte(`{"a":1}`)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("k.1700000000." + string(body)))
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	at := time.Unix(1_700_000_010, 0)
	if err := webhook.Verify(secret, h, body, at); err != nil {
		t.Errorf("genuine call: %v", err)
	}
	if err := webhook.Verify(secret, h, []byte(`{"a":2}`), at); err == nil {
		t.Error("tampered body verified")
	}
	if err := webhook.Verify("whsec_aGVsbG8=", h, body, at); err == nil {
		t.Error("wrong secret verified")
	}
	if err := webhook.Verify(secret, h, body, at.Add(time.Hour)); err == nil {
		t.Error("stale timestamp verified")
	}
}

func TestStatuses(t *testing.T) {
	r, srv := newReceiver(t)
	c := newConnector(t, srv.URL)
	ctx := context.Background()
	for _, tc := range []struct {
		status     int
		retry      bool
		retryAfter time.Duration
	}{
		{http.StatusTooManyRequests, true, 3 * time.Second},
		{http.StatusServiceUnavailable, true, 0},
		{http.StatusBadRequest, false, 0},
		{http.StatusFound, false, 0}, // redirects are not followed
	} {
		r.mu.Lock()
		r.answers = []int{tc.status}
		r.mu.Unlock()
		_, err := c.Send(ctx, msg("k"))
		var de *deliver.Error
		if !errors.As(err, &de) {
			t.Fatalf("%d: got %v, want a *deliver.Error", tc.status, err)
		}
		if de.Status != tc.status || de.Retryable != tc.retry || de.RetryAfter != tc.retryAfter {
			t.Errorf("%d: %+v, want retryable %v after %s", tc.status, de, tc.retry, tc.retryAfter)
		}
	}
	if r.count() != 0 {
		t.Fatalf("stored %d, want 0", r.count())
	}
	// 429 then 2xx, as the dispatcher would drive it: one message stored,
	// and a repeat after a lost answer is deduplicated on webhook-id.
	r.mu.Lock()
	r.answers = []int{http.StatusTooManyRequests}
	r.mu.Unlock()
	if _, err := c.Send(ctx, msg("i9:1:1")); err == nil {
		t.Fatal("first call accepted, want 429")
	}
	for range 2 {
		if _, err := c.Send(ctx, msg("i9:1:1")); err != nil {
			t.Fatal(err)
		}
	}
	if r.count() != 1 || r.calls != 7 {
		t.Errorf("stored %d after %d calls, want 1 after 7", r.count(), r.calls)
	}
}

func TestAddressesAndEnvelope(t *testing.T) {
	r, srv := newReceiver(t)
	c := newConnector(t, "") // no URL: To is the URL
	ctx := context.Background()
	m := &deliver.Message{Key: "i2:1:1", Channel: "whatsapp", To: srv.URL + "/wa", Body: "Hi Ana"}
	if _, err := c.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	var env webhook.Envelope
	if err := json.Unmarshal(r.got["i2:1:1"], &env); err != nil {
		t.Fatal(err)
	}
	if env.Key != "i2:1:1" || env.Channel != "whatsapp" || env.Body != "Hi Ana" || env.To != m.To {
		t.Errorf("envelope %+v", env)
	}

	for _, bad := range []*deliver.Message{
		{Key: "k", Channel: "webhook", To: "+15550001111", JSON: []byte(`{}`)},
		{Key: "k", Channel: "webhook", To: srv.URL, JSON: []byte(`{not json`)},
		{Key: "", Channel: "webhook", To: srv.URL, JSON: []byte(`{}`)},
		{Key: "k\r\nX-Evil: 1", Channel: "webhook", To: srv.URL, JSON: []byte(`{}`)},
	} {
		_, err := c.Send(ctx, bad)
		if retry, _ := deliver.Classify(err); err == nil || retry {
			t.Errorf("Send(%+v) = %v, want a non-retryable error", bad, err)
		}
	}

	// Nobody listening: retryable.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	_, err := c.Send(ctx, &deliver.Message{Key: "k", Channel: "webhook", To: down.URL, JSON: []byte(`{}`)})
	if retry, _ := deliver.Classify(err); err == nil || !retry {
		t.Errorf("unreachable: %v, want a retryable error", err)
	}
}

func TestOpen(t *testing.T) {
	r, srv := newReceiver(t)
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"HOOK_SECRET": secret}[k]
		return v, ok
	}
	cc := &deliver.ConnectorConfig{Name: "crm", Type: "webhook",
		Settings: map[string]any{"url": srv.URL, "secret_env": "HOOK_SECRET", "timeout": "5s"}}
	c, err := webhook.Open(cc, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Channels(); len(got) != 1 || got[0] != "webhook" {
		t.Errorf("channels %v, want [webhook]", got)
	}
	if _, err := c.Send(context.Background(), msg("i3:1:1")); err != nil || r.count() != 1 {
		t.Fatalf("send: %v (stored %d)", err, r.count())
	}

	for _, tc := range []struct {
		settings map[string]any
		want     string
	}{
		{map[string]any{"url": srv.URL}, `connector "crm": secret_env is required`},
		{map[string]any{"secret_env": "NOPE"}, `connector "crm": secret_env: environment variable NOPE is not set`},
		{map[string]any{"secret_env": "HOOK_SECRET", "secret": "x"}, `connector "crm": secret: secrets are not written in the configuration`},
		{map[string]any{"secret_env": "HOOK_SECRET", "url": "ftp://x"}, `connector "crm": url:`},
	} {
		_, err := webhook.Open(&deliver.ConnectorConfig{Name: "crm", Type: "webhook", Settings: tc.settings}, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %v, want %q", tc.settings, err, tc.want)
		}
	}
}
