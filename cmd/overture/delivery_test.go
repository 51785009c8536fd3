package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// The delivery tests run the binary against real peers started in the
// test: an SMTP server (emersion/go-smtp, STARTTLS and AUTH PLAIN) and an
// HTTP server that behaves like Twilio's Messages API (basic auth,
// I-Twilio-Idempotency-Token, 429 answers, status callbacks).

const (
	smtpUser, smtpPass = "overture", "s3cret-pass"
	twilioSID          = "AC00000000000000000000000000000001"
	twilioToken        = "twilio-auth-token"
)

// mailbox is a real SMTP server that requires STARTTLS, then AUTH.
type mailbox struct {
	port int
	ca   string // the PEM file of its certificate
	mu   sync.Mutex
	msgs []mail
}

type mail struct {
	from string
	to   []string
	data string
	tls  bool
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailbox"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	mb := &mailbox{ca: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(mb.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) { return &mailSession{mb: mb, conn: c}, nil }))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return mb
}

func (mb *mailbox) received() []mail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]mail(nil), mb.msgs...)
}

type mailSession struct {
	mb     *mailbox
	conn   *gosmtp.Conn
	authed bool
	from   string
	to     []string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != smtpUser || pass != smtpPass {
			return gosmtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}
func (s *mailSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if !s.authed {
		return gosmtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *mailSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, mail{from: s.from, to: s.to, data: string(b), tls: isTLS})
	s.mb.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

// smsProvider behaves like Twilio's Messages resource: it keeps one
// message per idempotency token, answers the scripted failures first, and
// posts a "delivered" status callback for each message it creates.
type smsProvider struct {
	srv *httptest.Server

	mu       sync.Mutex
	failures []int          // statuses to answer first (429 with Retry-After: 1)
	hold     chan struct{}  // if set, a created message's answer waits for it
	created  []url.Values   // messages stored, in order
	byToken  map[string]int // token -> index in created
	tokens   []string       // every token seen, in order
	attempts map[string]int // per token
}

func startSMSProvider(t *testing.T) *smsProvider {
	p := &smsProvider{byToken: map[string]int{}, attempts: map[string]int{}}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *smsProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u, pw, ok := r.BasicAuth(); !ok || u != twilioSID || pw != twilioToken {
		http.Error(w, `{"code":20003,"message":"Authenticate"}`, http.StatusUnauthorized)
		return
	}
	if r.URL.Path != "/2010-04-01/Accounts/"+twilioSID+"/Messages.json" || r.ParseForm() != nil {
		http.Error(w, `{"code":20404}`, http.StatusNotFound)
		return
	}
	tok := r.Header.Get("I-Twilio-Idempotency-Token")
	p.mu.Lock()
	p.tokens = append(p.tokens, tok)
	p.attempts[tok]++
	if len(p.failures) > 0 {
		st := p.failures[0]
		p.failures = p.failures[1:]
		p.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		fmt.Fprintf(w, `{"code":20429,"message":"Too Many Requests","status":%d}`, st)
		return
	}
	i, seen := p.byToken[tok]
	if !seen {
		i = len(p.created)
		p.created = append(p.created, r.PostForm)
		p.byToken[tok] = i
	}
	hold := p.hold
	p.mu.Unlock()
	if hold != nil && !seen {
		<-hold // the caller dies meanwhile
	}
	sid := fmt.Sprintf("SM%032d", i+1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"sid":%q,"status":"queued"}`, sid)
	if cb := r.PostForm.Get("StatusCallback"); cb != "" && !seen {
		go func() {
			form := url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "To": {r.PostForm.Get("To")}}
			resp, err := http.PostForm(cb, form)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
}

func (p *smsProvider) messages() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.created...)
}

func (p *smsProvider) seen() (tokens []string, attempts map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := map[string]int{}
	for k, v := range p.attempts {
		a[k] = v
	}
	return append([]string(nil), p.tokens...), a
}

// deliveryConfig is a connectors file for the two peers.
func deliveryConfig(t *testing.T, mb *mailbox, sms *smsProvider) string {
	t.Helper()
	cfg := fmt.Sprintf(`connectors:
  - name: mail
    type: smtp
    host: 127.0.0.1
    port: %d
    from: "Overture Bank <hello@bank.example>"
    username: %s
    password_env: TEST_SMTP_PASSWORD
    starttls: required
    ca_file: %s
  - name: sms
    type: twilio
    channels: [sms]
    base_url: %s
    account_sid: %s
    auth_token_env: TEST_TWILIO_TOKEN
    from: "+15550100000"
    max_attempts: 5
`, mb.port, smtpUser, mb.ca, sms.srv.URL, twilioSID)
	path := filepath.Join(t.TempDir(), "connectors.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const welcomeTemplate = `id: welcome-mail
email:
  subject: "Welcome, {{ profile.traits.first_name }}"
  html: '<html><body><p>Hello {{ profile.traits.first_name }}, your plan is {{ event.properties.plan }}.</p><a href="https://bank.example/start?plan={{ event.properties.plan }}">Get started</a></body></html>'
  text: "Hello {{ profile.traits.first_name }}: https://bank.example/start"
sample:
  event: {properties: {plan: gold}}
`

const codeTemplate = `id: welcome-code
sms:
  body: "Your {{ event.properties.plan }} activation code is {{ journey.code }}"
sample:
  event: {properties: {plan: gold}}
  journey: {code: "4711"}
`

const thanksTemplate = `id: thanks
sms:
  body: "Thanks for getting started, {{ profile.traits.first_name }}!"
`

const deliveryJourneys = `id: onboarding
name: Onboarding
entry:
  trigger: {event: Signed Up}
variables:
  code: event.properties.code
start: mail
steps:
  mail: {type: send, channel: email, template: welcome-mail, next: code}
  code: {type: send, channel: sms, template: welcome-code, next: done}
  done: {type: exit, reason: welcomed}
`

const followUpJourney = `id: clicked-follow-up
name: Thank customers who clicked
entry:
  trigger: {event: message_clicked, condition: 'event.properties.journey == "onboarding"'}
start: thanks
steps:
  thanks: {type: send, channel: sms, template: thanks, next: done}
  done: {type: exit, reason: thanked}
`

// TestDeliveryE2E: a customer signs up; the journey's email passes
// arbitration and reaches a real SMTP server rendered, over STARTTLS with
// AUTH; the SMS provider answers 429 first and still records exactly one
// SMS; the provider's delivery receipt and the customer's click come back
// as events, and the click starts a follow-up journey whose SMS goes out.
func TestDeliveryE2E(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { deliveryE2E(t) })
	t.Run("postgres", func(t *testing.T) { deliveryE2E(t, "OVERTURE_STORE="+postgresSchema(t)) })
}

func deliveryE2E(t *testing.T, env ...string) {
	mb := startMailbox(t)
	sms := startSMSProvider(t)
	sms.failures = []int{429}
	addr := freeAddr(t)
	env = append(env, "OVERTURE_CONNECTORS="+deliveryConfig(t, mb, sms), "OVERTURE_PUBLIC_URL=http://"+addr,
		"TEST_SMTP_PASSWORD="+smtpPass, "TEST_TWILIO_TOKEN="+twilioToken, "OVERTURE_RETRY_BACKOFF=100ms")
	s := startServer(t, t.TempDir(), addr, env...)
	for id, src := range map[string]string{"welcome-mail": welcomeTemplate, "welcome-code": codeTemplate, "thanks": thanksTemplate} {
		if st := adminDo(t, s, "PUT", "/v1/templates/"+id, "application/yaml", src); st != 201 {
			t.Fatalf("PUT template %s: %d", id, st)
		}
	}
	putJourney(t, s, "onboarding", deliveryJourneys)
	putJourney(t, s, "clicked-follow-up", followUpJourney)

	now := time.Now().UTC().Format(time.RFC3339Nano)
	batch := `{"batch":[
	  {"type":"identify","userId":"ada","messageId":"id-1","timestamp":"` + now + `","traits":{"first_name":"Ada","email":"ada@example.com","phone":"+15550111111","consent":{"email":true,"sms":true}}},
	  {"type":"track","userId":"ada","event":"Signed Up","messageId":"su-1","timestamp":"` + now + `","properties":{"plan":"gold","code":"4711"}}]}`
	if st, err := postJSON(t.Context(), s.url+"/v1/batch", batch); err != nil || st != 200 {
		t.Fatalf("batch: %d %v", st, err)
	}

	waitUntil(t, s, "the email at the SMTP server", func() bool { return len(mb.received()) == 1 })
	m := mb.received()[0]
	if !m.tls || m.from != "hello@bank.example" || len(m.to) != 1 || m.to[0] != "ada@example.com" {
		t.Errorf("envelope: tls %v from %s to %v", m.tls, m.from, m.to)
	}
	data := strings.ReplaceAll(m.data, "=\r\n", "") // undo quoted-printable soft breaks
	for _, want := range []string{"Subject: Welcome, Ada", "Hello Ada, your plan is gold.", "/t/o/"} {
		if !strings.Contains(data, want) {
			t.Errorf("the email lacks %q:\n%s", want, m.data)
		}
	}
	click := regexp.MustCompile(`http://` + regexp.QuoteMeta(addr) + `/t/c/[A-Za-z0-9_=3D-]+`).FindString(data)
	if click == "" {
		t.Fatalf("no tracked link in the email:\n%s", m.data)
	}
	click = strings.ReplaceAll(click, "=3D", "=")

	waitUntil(t, s, "the SMS at the provider", func() bool { return len(sms.messages()) >= 1 })
	got := sms.messages()[0]
	if got.Get("Body") != "Your gold activation code is 4711" || got.Get("To") != "+15550111111" || !strings.Contains(got.Get("StatusCallback"), "/v1/receipts/") {
		t.Errorf("the SMS: %v", got)
	}
	tokens, attempts := sms.seen()
	if len(tokens) < 2 || attempts[tokens[0]] != 2 {
		t.Errorf("the provider saw tokens %v (attempts %v): want the 429'd attempt and its retry, same token", tokens, attempts)
	}

	// The customer clicks; the redirect goes to the signed target.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(click)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || loc != "https://bank.example/start?plan=gold" {
		t.Fatalf("click: %d to %q", resp.StatusCode, loc)
	}
	waitUntil(t, s, "the follow-up SMS", func() bool { return len(sms.messages()) == 2 })
	if b := sms.messages()[1].Get("Body"); b != "Thanks for getting started, Ada!" {
		t.Errorf("follow-up SMS %q", b)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(sms.messages()); n != 2 {
		t.Errorf("the provider holds %d SMS, want 2 (one per step, the 429 notwithstanding)", n)
	}

	// The timeline has the engagement events; the messages their attempts.
	waitUntil(t, s, "the receipts and the click on the timeline", func() bool {
		_, evs := s.timeline(t, "ada")
		n := map[string]int{}
		for _, e := range evs {
			n[fmt.Sprint(e["event"])]++
		}
		return n["message_delivered"] == 2 && n["message_clicked"] == 1
	})
	var page struct {
		Messages []struct {
			Step      string `json:"step"`
			Status    string `json:"status"`
			Connector string `json:"connector"`
			Count     int    `json:"attemptCount"`
			Attempts  []struct {
				Outcome string `json:"outcome"`
				Code    string `json:"code"`
			} `json:"attempts"`
		} `json:"messages"`
	}
	s.admin(t, "/v1/messages?status=sent", &page)
	steps := map[string]string{}
	for _, m := range page.Messages {
		var outcomes []string
		for _, a := range m.Attempts {
			outcomes = append(outcomes, a.Outcome+"/"+a.Code)
		}
		steps[m.Step] = m.Connector + " " + strings.Join(outcomes, ",")
	}
	want := map[string]string{"mail": "mail sent/", "code": "sms retrying/20429,sent/", "thanks": "sms sent/"}
	if fmt.Sprint(steps) != fmt.Sprint(want) {
		t.Errorf("messages: %v, want %v", steps, want)
	}
}

// TestDeliveryCrashBetweenProviderAndBookkeeping: the server is killed
// after the provider stored the SMS but before the answer was recorded;
// after a restart the provider sees the same idempotency key again and
// still holds one message, and the message is recorded as sent.
func TestDeliveryCrashBetweenProviderAndBookkeeping(t *testing.T) {
	mb := startMailbox(t)
	sms := startSMSProvider(t)
	sms.hold = make(chan struct{})
	data := t.TempDir()
	addr := freeAddr(t)
	env := []string{"OVERTURE_CONNECTORS=" + deliveryConfig(t, mb, sms), "OVERTURE_NODE=node-a",
		"TEST_SMTP_PASSWORD=" + smtpPass, "TEST_TWILIO_TOKEN=" + twilioToken}
	s := startServer(t, data, addr, env...)
	if st := adminDo(t, s, "PUT", "/v1/templates/welcome-code", "application/yaml", codeTemplate); st != 201 {
		t.Fatalf("PUT template: %d", st)
	}
	putJourney(t, s, "sms-only", `id: sms-only
name: SMS only
entry:
  trigger: {event: Signed Up}
variables:
  code: event.properties.code
start: code
steps:
  code: {type: send, channel: sms, template: welcome-code, next: done}
  done: {type: exit}
`)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if st, err := postJSON(t.Context(), s.url+"/v1/batch", `{"batch":[
	  {"type":"identify","userId":"bob","messageId":"id-b","timestamp":"`+now+`","traits":{"phone":"+15550122222","consent":{"sms":true}}},
	  {"type":"track","userId":"bob","event":"Signed Up","messageId":"su-b","timestamp":"`+now+`","properties":{"plan":"basic","code":"1234"}}]}`); err != nil || st != 200 {
		t.Fatalf("batch: %d %v", st, err)
	}
	waitUntil(t, s, "the provider to store the SMS", func() bool { return len(sms.messages()) == 1 })
	s.kill() // the provider has it; the server never learnt so
	sms.mu.Lock()
	close(sms.hold)
	sms.hold = nil
	sms.mu.Unlock()

	s = startServer(t, data, addr, env...)
	waitUntil(t, s, "the SMS recorded as sent", func() bool {
		var page struct {
			Messages []map[string]any `json:"messages"`
		}
		s.admin(t, "/v1/messages?status=sent", &page)
		return len(page.Messages) == 1
	})
	tokens, attempts := sms.seen()
	if len(tokens) != 2 || tokens[0] != tokens[1] || attempts[tokens[0]] != 2 {
		t.Errorf("the provider saw tokens %v: want the same one twice", tokens)
	}
	if n := len(sms.messages()); n != 1 {
		t.Errorf("the provider holds %d messages, want 1", n)
	}
	if !strings.Contains(s.output(), "handed back claims held when last stopped") {
		t.Errorf("the restarted server did not say it handed back its claims:\n%s", s.output())
	}
}

// waitUntil polls cond for up to 20 s.
func waitUntil(t *testing.T, s *server, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, s.output())
		}
		time.Sleep(25 * time.Millisecond)
	}
}
