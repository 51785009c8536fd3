package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"image/gif"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/track"
)

// The public base URL the tracking links carry: a proxy in front of the
// test server, as in production. Requests go to the test server with the
// same path.
const (
	engBase    = "https://overture.example.com"
	twilioAuth = "twilio-test-auth-token"
	testPhone  = "+15551234567"
)

type engServer struct {
	*testServer
	url    string // where the handler with tracking listens
	signer *track.Signer
}

// newEngagementServer starts the test server's handler with tracking and
// the Twilio auth token configured.
func newEngagementServer(t *testing.T) *engServer {
	t.Helper()
	ts := newTestServer(t)
	signer, err := track.NewSigner([]byte("engagement-test-secret-0123456789abcdef"), engBase)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.Tracking = signer
	ts.srv.TwilioAuthToken = twilioAuth
	hs := httptest.NewServer(ts.srv.Handler())
	t.Cleanup(hs.Close)
	return &engServer{testServer: ts, url: hs.URL, signer: signer}
}

// local turns a public tracking URL into one on the test server.
func (es *engServer) local(t *testing.T, public string) string {
	t.Helper()
	if !strings.HasPrefix(public, engBase+"/") {
		t.Fatalf("%q is not under %s", public, engBase)
	}
	return es.url + strings.TrimPrefix(public, engBase)
}

// customer identifies a customer with a phone number (SMS consent
// granted) and returns the profile id.
func (es *engServer) customer(t *testing.T) string {
	t.Helper()
	if st, m := es.post(t, "/v1/identify", `{"userId":"u1","traits":{"email":"ann@example.com","phone":"`+testPhone+`","consent":{"sms":true,"email":true}}}`); st != 200 {
		t.Fatalf("identify: %d %v", st, m)
	}
	es.settle(t)
	st, p := es.admin(t, "GET", "/v1/profiles?userId=u1")
	if st != 200 {
		t.Fatalf("profile: %d %v", st, p)
	}
	return p["id"].(string)
}

func (es *engServer) ref(pid string) track.Ref {
	return track.Ref{Key: "welcome:" + pid + ":1:2", ProfileID: pid, JourneyID: "welcome", Version: 1, Step: "email_1", Channel: "email", Offer: "spring-sale"}
}

// events returns the profile's events named name, after the engine has
// applied everything acknowledged.
func (es *engServer) events(t *testing.T, pid, name string) []*core.Event {
	t.Helper()
	es.settle(t)
	evs, err := es.store.ListEvents(context.Background(), pid, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*core.Event
	for _, e := range evs {
		if e.Label() == name {
			out = append(out, e)
		}
	}
	return out
}

// waitEvents polls until the profile has n events named name.
func (es *engServer) waitEvents(t *testing.T, pid, name string, n int) []*core.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := es.events(t, pid, name)
		if len(evs) >= n || time.Now().After(deadline) {
			if len(evs) != n {
				t.Fatalf("%d %s events, want %d", len(evs), name, n)
			}
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logLen counts the events in the log.
func (es *engServer) logLen(t *testing.T) int {
	t.Helper()
	evs, err := es.store.ReadLog(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func propsOf(t *testing.T, e *core.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Properties, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantProps(t *testing.T, e *core.Event, want map[string]any) {
	t.Helper()
	p := propsOf(t, e)
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s: properties.%s = %v, want %v (%s)", e.Event, k, p[k], v, e.Properties)
		}
	}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func postBody(t *testing.T, u, contentType, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func wantJSONError(t *testing.T, what string, resp *http.Response, body []byte, status int, field string) {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	if _, f := errorOf(m); resp.StatusCode != status || f != field {
		t.Errorf("%s: got %d field %q (%s), want %d field %q", what, resp.StatusCode, f, body, status, field)
	}
}

func wantGIF(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" || !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
		t.Fatalf("%s: %d %v", what, resp.StatusCode, resp.Header)
	}
	img, err := gif.Decode(bytes.NewReader(body))
	if err != nil || img.Bounds().Dx() != 1 || img.Bounds().Dy() != 1 {
		t.Fatalf("%s: not a 1x1 GIF: %v", what, err)
	}
	if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
		t.Errorf("%s: the pixel is not transparent", what)
	}
}

func TestOpenPixel(t *testing.T) {
	es := newEngagementServer(t)
	pid := es.customer(t)
	ref := es.ref(pid)
	open := es.signer.OpenURL(ref)
	if !strings.HasSuffix(open, ".gif") {
		t.Fatalf("open URL %q", open)
	}
	resp, body := get(t, es.local(t, open))
	wantGIF(t, "valid token", resp, body)
	evs := es.waitEvents(t, pid, core.EventMessageOpened, 1)
	wantProps(t, evs[0], map[string]any{"channel": "email", "journey": "welcome", "version": 1.0, "step": "email_1",
		"key": ref.Key, "offer": "spring-sale"})
	if evs[0].SourceID != core.InternalSource {
		t.Errorf("source %q", evs[0].SourceID)
	}

	n := es.logLen(t)
	for _, bad := range []string{
		strings.Replace(open, "/t/o/", "/t/o/x", 1),              // tampered
		es.signer.ReceiptURL(ref)[len(engBase+"/v1/receipts/"):], // another purpose
		"nonsense.gif",
	} {
		u := bad
		if !strings.HasPrefix(u, engBase) {
			u = engBase + "/t/o/" + strings.TrimSuffix(u, ".gif") + ".gif"
		}
		resp, body := get(t, es.local(t, u))
		wantGIF(t, "bad token "+bad, resp, body)
	}
	// Opening again is not a new open.
	resp, body = get(t, es.local(t, open))
	wantGIF(t, "re-open", resp, body)
	if got := es.events(t, pid, core.EventMessageOpened); len(got) != 1 {
		t.Errorf("%d opens after a re-open and bad tokens, want 1", len(got))
	}
	if es.logLen(t) != n+1 { // the re-open is in the log, dropped when routed
		t.Errorf("bad tokens wrote to the log: %d -> %d", n, es.logLen(t))
	}
}

func TestClickRedirect(t *testing.T) {
	es := newEngagementServer(t)
	pid := es.customer(t)
	ref := es.ref(pid)
	target := "https://shop.example.com/start?utm_source=email&utm_campaign=welcome"
	click := es.signer.ClickURL(ref, target)
	resp, _ := get(t, es.local(t, click))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("click: %d %v", resp.StatusCode, resp.Header)
	}
	evs := es.waitEvents(t, pid, core.EventMessageClicked, 1)
	wantProps(t, evs[0], map[string]any{"channel": "email", "key": ref.Key, "offer": "spring-sale", "url": target})

	// Tampered or of another purpose: 400 naming token, no redirect.
	tok := click[len(engBase+"/t/c/"):]
	flipped := []byte(tok)
	flipped[len(flipped)/2] ^= 1
	other := es.signer.ClickURL(ref, "https://evil.example.net/")
	for name, u := range map[string]string{
		"tampered":    engBase + "/t/c/" + string(flipped),
		"open token":  engBase + "/t/c/" + strings.TrimSuffix(es.signer.OpenURL(ref)[len(engBase+"/t/o/"):], ".gif"),
		"spliced":     engBase + "/t/c/" + other[len(engBase+"/t/c/"):len(other)-22] + tok[len(tok)-22:],
		"not a token": engBase + "/t/c/hello",
	} {
		resp, body := get(t, es.local(t, u))
		wantJSONError(t, name, resp, body, http.StatusBadRequest, "token")
		if resp.Header.Get("Location") != "" {
			t.Errorf("%s: redirects to %s", name, resp.Header.Get("Location"))
		}
	}
	// A link checker's HEAD redirects without recording.
	head, err := noRedirect.Head(es.local(t, es.signer.ClickURL(ref, "https://shop.example.com/other")))
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != http.StatusFound || head.Header.Get("Location") != "https://shop.example.com/other" {
		t.Errorf("HEAD: %d %v", head.StatusCode, head.Header)
	}
	if got := es.events(t, pid, core.EventMessageClicked); len(got) != 1 {
		t.Errorf("%d clicks, want 1", len(got))
	}
}

func TestTwilioReceipts(t *testing.T) {
	es := newEngagementServer(t)
	pid := es.customer(t)
	ref := es.ref(pid)
	ref.Channel, ref.Step, ref.Offer = "sms", "sms_1", ""
	receipt := es.local(t, es.signer.ReceiptURL(ref))
	form := "application/x-www-form-urlencoded"

	post := func(what, body string, status int) {
		t.Helper()
		resp, b := postBody(t, receipt, form, body)
		if resp.StatusCode != status {
			t.Fatalf("%s: %d %s", what, resp.StatusCode, b)
		}
	}
	post("sent", "MessageSid=SM1&MessageStatus=sent&AccountSid=AC1", 204)
	post("delivered", "MessageSid=SM1&MessageStatus=delivered&AccountSid=AC1", 204)
	post("delivered again", "MessageSid=SM1&MessageStatus=delivered&AccountSid=AC1", 204)
	evs := es.waitEvents(t, pid, core.EventMessageDelivered, 1)
	wantProps(t, evs[0], map[string]any{"channel": "sms", "step": "sms_1", "key": ref.Key, "status": "delivered", "providerMessageId": "SM1"})
	if _, ok := propsOf(t, evs[0])["offer"]; ok {
		t.Error("offer in the properties of a message without one")
	}

	// Another message of the same customer fails.
	ref2 := ref
	ref2.Key = "welcome:" + pid + ":1:3"
	resp, b := postBody(t, es.local(t, es.signer.ReceiptURL(ref2)), form, "MessageSid=SM2&MessageStatus=undelivered&ErrorCode=30003")
	if resp.StatusCode != 204 {
		t.Fatalf("undelivered: %d %s", resp.StatusCode, b)
	}
	evs = es.waitEvents(t, pid, track.EventMessageFailed, 1)
	wantProps(t, evs[0], map[string]any{"key": ref2.Key, "status": "undelivered", "errorCode": "30003", "providerMessageId": "SM2"})

	// A voice call's status.
	post("call completed", "CallSid=CA1&CallStatus=completed", 204)
	if got := es.events(t, pid, core.EventMessageDelivered); len(got) != 2 {
		t.Errorf("%d delivered, want 2 (the SMS once, the call once)", len(got))
	}

	n := es.logLen(t)
	resp, b = postBody(t, receipt, form, "MessageSid=SM1")
	wantJSONError(t, "no status", resp, b, 400, "MessageStatus")
	resp, b = postBody(t, es.local(t, engBase+"/v1/receipts/AAAA"), form, "MessageStatus=delivered")
	wantJSONError(t, "bad token", resp, b, 401, "token")
	open := es.signer.OpenURL(ref)
	resp, b = postBody(t, es.local(t, engBase+"/v1/receipts/"+strings.TrimSuffix(open[len(engBase+"/t/o/"):], ".gif")), form, "MessageStatus=delivered")
	wantJSONError(t, "open token", resp, b, 401, "token")
	resp, b = postBody(t, receipt, "text/plain", "delivered")
	wantJSONError(t, "text/plain", resp, b, 415, "Content-Type")
	resp, b = postBody(t, receipt, form, "MessageStatus=delivered&Pad="+strings.Repeat("x", maxReceiptBody))
	wantJSONError(t, "too large", resp, b, 413, "body")
	if es.logLen(t) != n {
		t.Errorf("rejected receipts wrote %d events", es.logLen(t)-n)
	}
}

func TestJSONReceipts(t *testing.T) {
	es := newEngagementServer(t)
	pid := es.customer(t)
	ref := es.ref(pid)
	ref.Channel = "webhook"
	receipt := es.local(t, es.signer.ReceiptURL(ref))
	for _, body := range []string{
		`{"status":"delivered","id":"w-1"}`,
		`{"status":"clicked","url":"https://shop.example.com/x"}`,
		`{"status":"clicked","url":"https://shop.example.com/x"}`,
	} {
		if resp, b := postBody(t, receipt, "application/json", body); resp.StatusCode != 204 {
			t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
		}
	}
	wantProps(t, es.waitEvents(t, pid, core.EventMessageDelivered, 1)[0], map[string]any{"channel": "webhook", "providerMessageId": "w-1"})
	wantProps(t, es.waitEvents(t, pid, core.EventMessageClicked, 1)[0], map[string]any{"url": "https://shop.example.com/x"})

	ref.Key += "-b"
	resp, b := postBody(t, es.local(t, es.signer.ReceiptURL(ref)), "application/json; charset=utf-8", `{"status":"failed","reason":"endpoint answered 410"}`)
	if resp.StatusCode != 204 {
		t.Fatalf("failed: %d %s", resp.StatusCode, b)
	}
	wantProps(t, es.waitEvents(t, pid, track.EventMessageFailed, 1)[0], map[string]any{"status": "failed", "reason": "endpoint answered 410"})

	for _, c := range []struct{ body, field string }{
		{`{"status":`, "body"}, {`{"status":"bounced"}`, "status"}, {`{"status":"clicked"}`, "url"}, {`{"status":1}`, "status"},
	} {
		resp, b := postBody(t, receipt, "application/json", c.body)
		wantJSONError(t, c.body, resp, b, 400, c.field)
	}
}

// twilioSign signs a request as Twilio's "Webhooks security" page says:
// base64(HMAC-SHA1(token, URL + each parameter's name and value, sorted
// by name)).
func twilioSign(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data := u
	for _, k := range keys {
		data += k + form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestInboundTwilio(t *testing.T) {
	es := newEngagementServer(t)
	pid := es.customer(t)
	const path = "/v1/inbound/twilio?tenant=main"
	sms := func(from, body, sid string, sig string) (*http.Response, []byte) {
		t.Helper()
		f := url.Values{"From": {from}, "To": {"+15557654321"}, "Body": {body}, "MessageSid": {sid}, "AccountSid": {"AC1"}, "NumMedia": {"0"}}
		if sig == "" {
			sig = twilioSign(twilioAuth, engBase+path, f)
		}
		return postBody(t, es.url+path, "application/x-www-form-urlencoded", f.Encode(), "X-Twilio-Signature", sig)
	}
	wantTwiML := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") || !strings.Contains(string(body), "<Response/>") {
			t.Fatalf("%s: %d %s %s", what, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	smsConsent := func() (granted, ok bool) {
		t.Helper()
		es.settle(t)
		st, p := es.admin(t, "GET", "/v1/profiles/"+pid)
		if st != 200 {
			t.Fatalf("profile: %d %v", st, p)
		}
		c, ok := p["consent"].(map[string]any)["sms"].(map[string]any)
		if !ok {
			return false, false
		}
		return c["granted"].(bool), true
	}
	if g, ok := smsConsent(); !g || !ok {
		t.Fatal("sms consent not granted to begin with")
	}

	// A bad signature: 403, nothing recorded.
	n := es.logLen(t)
	resp, b := sms(testPhone, "STOP", "SM0", "bm90IHRoZSBzaWduYXR1cmU=")
	wantJSONError(t, "bad signature", resp, b, 403, "X-Twilio-Signature")
	resp, b = sms(testPhone, "STOP", "SM0", "-")
	wantJSONError(t, "garbage signature", resp, b, 403, "X-Twilio-Signature")
	// Signed for the URL the server sees rather than the public one.
	f := url.Values{"From": {testPhone}, "Body": {"STOP"}, "MessageSid": {"SM0"}}
	resp, b = postBody(t, es.url+path, "application/x-www-form-urlencoded", f.Encode(), "X-Twilio-Signature", twilioSign(twilioAuth, es.url+path, f))
	wantJSONError(t, "local URL", resp, b, 403, "X-Twilio-Signature")
	// An unknown number: TwiML, nothing recorded.
	resp, b = sms("+15550000000", "STOP", "SM00", "")
	wantTwiML("unknown number", resp, b)
	if es.logLen(t) != n {
		t.Fatalf("refused or unknown inbound wrote %d events", es.logLen(t)-n)
	}
	if g, _ := smsConsent(); !g {
		t.Fatal("refused inbound changed consent")
	}

	// STOP: consent revoked, the reply on the timeline; Twilio's retry of
	// the same message is dropped.
	resp, b = sms(testPhone, " Stop ", "SM1", "")
	wantTwiML("stop", resp, b)
	resp, b = sms(testPhone, " Stop ", "SM1", "")
	wantTwiML("stop again", resp, b)
	evs := es.waitEvents(t, pid, track.EventMessageReplied, 1)
	wantProps(t, evs[0], map[string]any{"channel": "sms", "body": " Stop ", "keyword": "STOP", "providerMessageId": "SM1"})
	if g, ok := smsConsent(); g || !ok {
		t.Fatal("STOP did not revoke sms consent")
	}

	// A plain reply changes nothing; START grants consent again.
	resp, b = sms(testPhone, "thanks!", "SM2", "")
	wantTwiML("plain", resp, b)
	resp, b = sms(testPhone, "start", "SM3", "")
	wantTwiML("start", resp, b)
	es.waitEvents(t, pid, track.EventMessageReplied, 3)
	if g, _ := smsConsent(); !g {
		t.Fatal("START did not grant sms consent again")
	}

	// Bad input, signed.
	f = url.Values{"From": {testPhone}, "Body": {"hi"}}
	resp, b = postBody(t, es.url+path, "application/x-www-form-urlencoded", f.Encode(), "X-Twilio-Signature", twilioSign(twilioAuth, engBase+path, f))
	wantJSONError(t, "no MessageSid", resp, b, 400, "MessageSid")
}

func TestEngagementNotConfigured(t *testing.T) {
	ts := newTestServer(t) // no Tracking, no Twilio auth token
	resp, body := get(t, ts.URL+"/t/o/anything.gif")
	wantGIF(t, "open", resp, body)
	resp, body = get(t, ts.URL+"/t/c/anything")
	wantJSONError(t, "click", resp, body, 503, "")
	resp, body = postBody(t, ts.URL+"/v1/receipts/anything", "application/json", `{"status":"delivered"}`)
	wantJSONError(t, "receipt", resp, body, 503, "")
	resp, body = postBody(t, ts.URL+"/v1/inbound/twilio", "application/x-www-form-urlencoded", "From=%2B15551234567&Body=STOP")
	wantJSONError(t, "inbound", resp, body, 503, "")
}
