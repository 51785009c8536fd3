package twilio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/delivertest"
	"github.com/overture-cjo/overture/internal/deliver/twilio"
)

const (
	sid   = "AC00000000000000000000000000000001"
	token = "s3cret-token"
)

// fakeTwilio behaves like Twilio's Messages and Calls resources as far as
// the connector can tell: basic auth, required form fields, Twilio's error
// bodies, and idempotency tokens (a repeated token returns the first
// resource instead of creating another). Answers queued in fail are given
// first, one per request; a "drop" answer creates the resource and then
// breaks the connection before answering, as a crash or a network cut
// after the provider accepted would.
type fakeTwilio struct {
	mu       sync.Mutex
	requests int
	created  []resource          // in order
	byToken  map[string]resource // by I-Twilio-Idempotency-Token
	fail     []string            // "429", "500", "drop"
}

type resource struct {
	Kind  string // Messages or Calls
	SID   string
	Form  url.Values
	Token string
}

func newFake(t *testing.T) (*fakeTwilio, *httptest.Server) {
	t.Helper()
	f := &fakeTwilio{byToken: map[string]resource{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	prefix := "/2010-04-01/Accounts/" + sid + "/"
	kind, ok := strings.CutPrefix(r.URL.Path, prefix)
	if r.Method != http.MethodPost || !ok || kind != "Messages.json" && kind != "Calls.json" {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != sid || p != token {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		twilioError(w, http.StatusBadRequest, 20001, "content type "+ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 20001, err.Error())
		return
	}
	if len(f.fail) > 0 {
		next := f.fail[0]
		f.fail = f.fail[1:]
		switch next {
		case "429":
			w.Header().Set("Retry-After", "2")
			twilioError(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
			return
		case "500":
			twilioError(w, http.StatusInternalServerError, 20500, "Internal Server Error")
			return
		case "drop":
			f.create(kind, r)
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
	}
	form := r.PostForm
	to := form.Get("To")
	if to == "" {
		twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	}
	if !strings.HasPrefix(strings.TrimPrefix(to, "whatsapp:"), "+") {
		twilioError(w, http.StatusBadRequest, 21211, "The 'To' number "+to+" is not a valid phone number.")
		return
	}
	if form.Get("From") == "" && (kind == "Calls.json" || form.Get("MessagingServiceSid") == "") {
		twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	}
	if kind == "Messages.json" && form.Get("Body") == "" && form.Get("MediaUrl") == "" {
		twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	if kind == "Calls.json" && form.Get("Twiml") == "" && form.Get("Url") == "" {
		twilioError(w, http.StatusBadRequest, 21205, "Url parameter is required.")
		return
	}
	res := f.create(kind, r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"sid": res.SID, "status": "queued", "to": to})
}

// create records a resource unless its idempotency token was seen.
func (f *fakeTwilio) create(kind string, r *http.Request) resource {
	tok := r.Header.Get("I-Twilio-Idempotency-Token")
	if res, ok := f.byToken[tok]; ok && tok != "" {
		return res
	}
	prefix := "SM"
	if kind == "Calls.json" {
		prefix = "CA"
	}
	res := resource{Kind: strings.TrimSuffix(kind, ".json"), SID: fmt.Sprintf("%s%032d", prefix, len(f.created)+1),
		Form: r.PostForm, Token: tok}
	f.created = append(f.created, res)
	f.byToken[tok] = res
	return res
}

func (f *fakeTwilio) all() []resource {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]resource(nil), f.created...)
}

func (f *fakeTwilio) failNext(answers ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, answers...)
}

func newConnector(t *testing.T, base string, edit func(*twilio.Config)) *twilio.Connector {
	t.Helper()
	cfg := twilio.Config{Name: "twilio", BaseURL: base, AccountSID: sid, AuthToken: token, From: "+15550100000",
		StatusCallback: "https://overture.example.com/v1/receipts/twilio", IVRBaseURL: "https://ivr.example.com/flows",
		Voice: "alice"}
	if edit != nil {
		edit(&cfg)
	}
	c, err := twilio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sms(key string) *deliver.Message {
	return &deliver.Message{Key: key, Channel: "sms", To: "+15550111111", Body: "Your code is 1234"}
}

func assertForm(t *testing.T, got url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, got.Get(k), v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected form field %s = %q", k, got.Get(k))
		}
	}
}

func TestSMS(t *testing.T) {
	f, srv := newFake(t)
	c := newConnector(t, srv.URL, nil)
	delivertest.Check(t, c, sms("i1:1:1"))

	res, err := c.Send(context.Background(), sms("i1:2:1"))
	if err != nil {
		t.Fatal(err)
	}
	all := f.all()
	last := all[len(all)-1]
	if res.ProviderID != last.SID || res.Status != "queued" || last.Kind != "Messages" || last.Token != "i1:2:1" {
		t.Errorf("result %+v, recorded %+v", res, last)
	}
	assertForm(t, last.Form, map[string]string{"To": "+15550111111", "From": "+15550100000",
		"Body": "Your code is 1234", "StatusCallback": "https://overture.example.com/v1/receipts/twilio"})
}

func TestMMSAndWhatsApp(t *testing.T) {
	f, srv := newFake(t)
	c := newConnector(t, srv.URL, func(c *twilio.Config) { c.MessagingServiceSID = "MG01" })
	ctx := context.Background()
	if _, err := c.Send(ctx, &deliver.Message{Key: "m1", Channel: "mms", To: "+15550111111", Body: "Look",
		MediaURL: "https://cdn.example.com/a.png"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, &deliver.Message{Key: "w1", Channel: "whatsapp", To: "+15550111111", From: "+15550199999",
		Body: "Hola", Receipt: "https://overture.example.com/v1/receipts/tok"}); err != nil {
		t.Fatal(err)
	}
	all := f.all()
	assertForm(t, all[0].Form, map[string]string{"To": "+15550111111", "MessagingServiceSid": "MG01", "Body": "Look",
		"MediaUrl": "https://cdn.example.com/a.png", "StatusCallback": "https://overture.example.com/v1/receipts/twilio"})
	assertForm(t, all[1].Form, map[string]string{"To": "whatsapp:+15550111111", "From": "whatsapp:+15550199999",
		"Body": "Hola", "StatusCallback": "https://overture.example.com/v1/receipts/tok"}) // the message's own receipt URL wins
}

func TestVoice(t *testing.T) {
	f, srv := newFake(t)
	c := newConnector(t, srv.URL, nil)
	ctx := context.Background()
	if _, err := c.Send(ctx, &deliver.Message{Key: "v1", Channel: "voice", To: "+15550111111",
		Script: `Hello Ana, your order <#42> & "gift" shipped.`}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, &deliver.Message{Key: "v2", Channel: "voice", To: "+15550111111", IVRFlow: "renewal survey"}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Send(ctx, &deliver.Message{Key: "v3", Channel: "voice", To: "+15550111111", IVRFlow: "https://ivr.example.net/x.xml"})
	if err != nil || !strings.HasPrefix(res.ProviderID, "CA") {
		t.Fatalf("call: %+v %v", res, err)
	}
	all := f.all()
	cb := "https://overture.example.com/v1/receipts/twilio"
	assertForm(t, all[0].Form, map[string]string{"To": "+15550111111", "From": "+15550100000", "StatusCallback": cb,
		"Twiml": `<Response><Say voice="alice">Hello Ana, your order &lt;#42&gt; &amp; &#34;gift&#34; shipped.</Say></Response>`})
	assertForm(t, all[1].Form, map[string]string{"To": "+15550111111", "From": "+15550100000", "StatusCallback": cb,
		"Url": "https://ivr.example.com/flows/renewal%20survey"})
	assertForm(t, all[2].Form, map[string]string{"To": "+15550111111", "From": "+15550100000", "StatusCallback": cb,
		"Url": "https://ivr.example.net/x.xml"})
	for _, r := range all {
		if r.Kind != "Calls" {
			t.Errorf("%s created a %s, want a call", r.Token, r.Kind)
		}
	}
}

// 429 then 201, as the dispatcher drives it: the first attempt is
// retryable after the Retry-After, the second creates exactly one message.
func TestRateLimitedThenAccepted(t *testing.T) {
	f, srv := newFake(t)
	c := newConnector(t, srv.URL, nil)
	f.failNext("429")
	_, err := c.Send(context.Background(), sms("i7:1:1"))
	var de *deliver.Error
	if !errors.As(err, &de) || !de.Retryable || de.RetryAfter != 2*time.Second || de.Status != 429 || de.Code != "20429" {
		t.Fatalf("first attempt: %#v, want retryable 429 after 2s", err)
	}
	if _, err := c.Send(context.Background(), sms("i7:1:1")); err != nil {
		t.Fatal(err)
	}
	if n := len(f.all()); n != 1 {
		t.Errorf("%d messages recorded, want 1", n)
	}
}

// The provider accepts, then the answer is lost: the retry carries the same
// idempotency token and no second message is created.
func TestLostAnswerIsNotSentTwice(t *testing.T) {
	f, srv := newFake(t)
	c := newConnector(t, srv.URL, nil)
	f.failNext("drop")
	_, err := c.Send(context.Background(), sms("i8:1:1"))
	if retry, _ := deliver.Classify(err); err == nil || !retry {
		t.Fatalf("lost answer: %v, want a retryable error", err)
	}
	res, err := c.Send(context.Background(), sms("i8:1:1"))
	if err != nil {
		t.Fatal(err)
	}
	all := f.all()
	if len(all) != 1 || res.ProviderID != all[0].SID {
		t.Errorf("recorded %+v, result %+v: want one message, the same", all, res)
	}
}

func TestErrors(t *testing.T) {
	f, srv := newFake(t)
	ctx := context.Background()
	c := newConnector(t, srv.URL, nil)

	f.failNext("500")
	_, err := c.Send(ctx, sms("e1"))
	var de *deliver.Error
	if !errors.As(err, &de) || !de.Retryable || de.Status != 500 {
		t.Errorf("500: %v, want retryable", err)
	}

	m := sms("e2")
	m.To = "5550111111"
	_, err = c.Send(ctx, m)
	if !errors.As(err, &de) || de.Retryable || de.Status != 400 || de.Code != "21211" ||
		de.Reason != "The 'To' number 5550111111 is not a valid phone number." {
		t.Errorf("invalid number: %#v, want non-retryable 400 21211 with Twilio's message", err)
	}

	wrong := newConnector(t, srv.URL, func(c *twilio.Config) { c.AuthToken = "wrong" })
	_, err = wrong.Send(ctx, sms("e3"))
	if !errors.As(err, &de) || de.Retryable || de.Status != 401 || de.Code != "20003" {
		t.Errorf("wrong token: %v, want non-retryable 401 20003", err)
	}

	for _, bad := range []*deliver.Message{
		{Key: "b1", Channel: "sms", To: "+15550111111"},                             // no body
		{Key: "b2", Channel: "mms", To: "+15550111111", Body: "x"},                  // no media
		{Key: "b3", Channel: "voice", To: "+15550111111"},                           // no script
		{Key: "", Channel: "sms", To: "+15550111111", Body: "x"},                    // no key
		{Key: "b\n", Channel: "sms", To: "+15550111111", Body: "x"},                 // key not a header value
		{Key: "b5", Channel: "sms", Body: "x"},                                      // no recipient
		{Key: "b6", Channel: "email", To: "a@example.com", Subject: "x", Text: "x"}, // not carried
	} {
		_, err := c.Send(ctx, bad)
		if retry, _ := deliver.Classify(err); err == nil || retry {
			t.Errorf("Send(%+v) = %v, want a non-retryable error", bad, err)
		}
	}
	if n := len(f.all()); n != 0 {
		t.Errorf("%d messages recorded, want 0", n)
	}
}

func TestOpen(t *testing.T) {
	f, srv := newFake(t)
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"TWILIO_AUTH_TOKEN": token}[k]
		return v, ok
	}
	settings := map[string]any{"account_sid": sid, "auth_token_env": "TWILIO_AUTH_TOKEN", "from": "+15550100000",
		"base_url": srv.URL, "timeout": "5s"}
	c, err := twilio.Open(&deliver.ConnectorConfig{Name: "sms", Type: "twilio", Channels: []string{"sms"}, Settings: settings}, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), sms("o1")); err != nil || len(f.all()) != 1 {
		t.Fatalf("send: %v", err)
	}
	for _, tc := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(s map[string]any) { delete(s, "auth_token_env") }, `connector "sms": auth_token_env is required`},
		{func(s map[string]any) { s["auth_token_env"] = "UNSET" }, `connector "sms": auth_token_env: environment variable UNSET is not set`},
		{func(s map[string]any) { s["auth_token"] = token }, `connector "sms": auth_token: secrets are not written in the configuration; put it in an environment variable and name that in auth_token_env`},
		{func(s map[string]any) { delete(s, "account_sid") }, `connector "sms": account_sid is required`},
		{func(s map[string]any) { delete(s, "from") }, `connector "sms": from or messaging_service_sid is required`},
		{func(s map[string]any) { s["timeout"] = "soon" }, `connector "sms": timeout:`},
	} {
		s := map[string]any{}
		for k, v := range settings {
			s[k] = v
		}
		tc.edit(s)
		_, err := twilio.Open(&deliver.ConnectorConfig{Name: "sms", Type: "twilio", Settings: s}, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open = %v, want %q", err, tc.want)
		}
	}
}
