package smtp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/delivertest"
	"github.com/overture-cjo/overture/internal/deliver/smtp"
)

var sentAt = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func newConnector(t *testing.T, ms *mailServer, edit func(*smtp.Config)) *smtp.Connector {
	t.Helper()
	cfg := smtp.Config{Name: "mail", Host: ms.Host, Port: ms.Port, Username: "overture", Password: "hunter2",
		From: "Overture News <news@example.com>", TLSConfig: &tls.Config{RootCAs: ms.Cert.Pool},
		Timeout: 10 * time.Second, Now: func() time.Time { return sentAt }}
	if edit != nil {
		edit(&cfg)
	}
	c, err := smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	text = "Hi Ana,\n.this line starts with a dot\nA long line that quoted-printable has to break somewhere because it goes on and on past seventy-six characters.\nÉté = summer\n"
	html = "<p>Hi Ana,</p>\n<p>Été = <b>summer</b></p>\n"
)

func email(key, to string) *deliver.Message {
	return &deliver.Message{Key: key, Channel: "email", To: "Ana Souza <" + to + ">",
		Subject: "Votre été commence ici ☀", Text: text, HTML: html}
}

// parsed is a received message, decoded.
type parsed struct {
	Header mail.Header
	Parts  map[string]string // decoded body by media type
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading the message: %v\n%s", err, data)
	}
	p := parsed{Header: msg.Header, Parts: map[string]string{}}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("Content-Transfer-Encoding %q", cte)
		}
		body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
		p.Parts[mt] = string(body)
		return p
	}
	if mt != "multipart/alternative" {
		t.Errorf("Content-Type %s, want multipart/alternative", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var order []string
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, pp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if pp["charset"] != "utf-8" {
			t.Errorf("%s charset %q", pt, pp["charset"])
		}
		b, _ := io.ReadAll(part)
		p.Parts[pt] = string(b)
		order = append(order, pt)
	}
	if strings.Join(order, ",") != "text/plain,text/html" {
		t.Errorf("parts %v, want text then html (the preferred last)", order)
	}
	return p
}

func TestSendOverSTARTTLS(t *testing.T) {
	ms := startServer(t, serveSTARTTLS)
	c := newConnector(t, ms, nil)
	delivertest.Check(t, c, email("i0:1:1", "ana@example.org"))

	res, err := c.Send(context.Background(), email("inst1:4:2", "ana@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	got := ms.received()
	if len(got) != 2 {
		t.Fatalf("received %d messages, want 2", len(got))
	}
	r := got[1]
	if !r.TLS || r.User != "overture" || r.From != "news@example.com" || strings.Join(r.To, ",") != "ana@example.org" {
		t.Errorf("session: TLS %v user %q from %q to %v", r.TLS, r.User, r.From, r.To)
	}
	p := parse(t, r.Data)
	subject, err := new(mime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	wantID := smtp.MessageID("inst1:4:2", "example.com")
	for k, want := range map[string]string{
		"From":           `"Overture News" <news@example.com>`,
		"To":             `"Ana Souza" <ana@example.org>`,
		"Date":           "Sat, 14 Mar 2026 09:26:53 +0000",
		"Message-Id":     "<" + wantID + ">",
		"Mime-Version":   "1.0",
		"X-Overture-Key": "inst1:4:2",
	} {
		if got := p.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if subject != "Votre été commence ici ☀" {
		t.Errorf("Subject decodes to %q", subject)
	}
	if res.ProviderID != wantID || res.Status != "accepted" {
		t.Errorf("result %+v, want the Message-ID %s", res, wantID)
	}
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	if p.Parts["text/plain"] != crlf(text) {
		t.Errorf("text part %q, want %q", p.Parts["text/plain"], crlf(text))
	}
	if p.Parts["text/html"] != crlf(html) {
		t.Errorf("html part %q, want %q", p.Parts["text/html"], crlf(html))
	}
	for i, line := range strings.Split(string(r.Data), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line %d is %d bytes long: %q", i+1, len(line), line)
		}
	}
}

func TestSinglePart(t *testing.T) {
	ms := startServer(t, serveSTARTTLS)
	c := newConnector(t, ms, nil)
	if _, err := c.Send(context.Background(), &deliver.Message{Key: "k1", Channel: "email", To: "ana@example.org",
		From: "Promo <promo@shop.example>", Subject: "Plain", Text: "Just text.\n"}); err != nil {
		t.Fatal(err)
	}
	r := ms.received()[0]
	p := parse(t, r.Data)
	if ct := p.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if p.Parts["text/plain"] != "Just text.\r\n" || r.From != "promo@shop.example" ||
		p.Header.Get("Message-Id") != "<"+smtp.MessageID("k1", "shop.example")+">" {
		t.Errorf("from %q, message-id %q, body %q", r.From, p.Header.Get("Message-Id"), p.Parts["text/plain"])
	}
}

// A resend after a crash carries the same Message-ID; another message a
// different one.
func TestMessageIDFollowsKey(t *testing.T) {
	ms := startServer(t, serveSTARTTLS)
	c := newConnector(t, ms, nil)
	for _, key := range []string{"inst1:4:2", "inst1:4:2", "inst1:5:2"} {
		if _, err := c.Send(context.Background(), email(key, "ana@example.org")); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, r := range ms.received() {
		ids = append(ids, parse(t, r.Data).Header.Get("Message-Id"))
	}
	if ids[0] != ids[1] || ids[0] == ids[2] {
		t.Errorf("Message-IDs %v: want the first two equal, the third different", ids)
	}
}

func TestAuthLogin(t *testing.T) {
	ms := startServer(t, serveSTARTTLS, "LOGIN")
	if _, err := newConnector(t, ms, nil).Send(context.Background(), email("k", "ana@example.org")); err != nil {
		t.Fatal(err)
	}
	if r := ms.received(); len(r) != 1 || r[0].User != "overture" {
		t.Fatalf("received %+v", r)
	}
}

func wantError(t *testing.T, err error, retry bool, status int, code string) *deliver.Error {
	t.Helper()
	var de *deliver.Error
	if !errors.As(err, &de) {
		t.Fatalf("got %v, want a *deliver.Error", err)
	}
	if de.Retryable != retry || de.Status != status || de.Code != code {
		t.Errorf("got %v (retryable %v, status %d, code %q), want retryable %v, status %d, code %q",
			err, de.Retryable, de.Status, de.Code, retry, status, code)
	}
	return de
}

func TestAuthFailureIsPermanent(t *testing.T) {
	ms := startServer(t, serveSTARTTLS)
	c := newConnector(t, ms, func(c *smtp.Config) { c.Password = "wrong" })
	_, err := c.Send(context.Background(), email("k", "ana@example.org"))
	de := wantError(t, err, false, 535, "5.7.8")
	if !strings.HasPrefix(de.Reason, "auth: ") {
		t.Errorf("reason %q", de.Reason)
	}
	if len(ms.received()) != 0 {
		t.Error("a message was accepted")
	}
}

func TestReplies(t *testing.T) {
	ms := startServer(t, serveSTARTTLS)
	c := newConnector(t, ms, nil)
	_, err := c.Send(context.Background(), email("k", "busy@example.org"))
	de := wantError(t, err, true, 451, "4.3.0")
	if de.Reason != "rcpt to: Mailbox busy, try again later" {
		t.Errorf("reason %q", de.Reason)
	}
	_, err = c.Send(context.Background(), email("k", "nobody@example.org"))
	wantError(t, err, false, 550, "5.1.1")
	if len(ms.received()) != 0 {
		t.Error("a message was accepted")
	}
}

func TestTLSPolicies(t *testing.T) {
	ctx := context.Background()
	plain := startServer(t, servePlain)

	// required (the default) refuses a server without STARTTLS.
	_, err := newConnector(t, plain, nil).Send(ctx, email("k", "ana@example.org"))
	de := wantError(t, err, false, 0, "")
	if !strings.Contains(de.Reason, "STARTTLS") {
		t.Errorf("reason %q", de.Reason)
	}
	if len(plain.received()) != 0 {
		t.Fatal("sent without TLS under starttls: required")
	}

	// opportunistic and none send in the clear (credentials only to localhost).
	for _, policy := range []string{smtp.StartTLSOpportunistic, smtp.StartTLSNone} {
		c := newConnector(t, plain, func(c *smtp.Config) { c.StartTLS = policy })
		if _, err := c.Send(ctx, email("k-"+policy, "ana@example.org")); err != nil {
			t.Fatalf("%s: %v", policy, err)
		}
	}
	for _, r := range plain.received() {
		if r.TLS {
			t.Error("TLS on a server without it")
		}
	}

	// opportunistic upgrades when offered.
	starttls := startServer(t, serveSTARTTLS)
	c := newConnector(t, starttls, func(c *smtp.Config) { c.StartTLS = smtp.StartTLSOpportunistic })
	if _, err := c.Send(ctx, email("k", "ana@example.org")); err != nil {
		t.Fatal(err)
	}
	if r := starttls.received(); len(r) != 1 || !r[0].TLS {
		t.Errorf("opportunistic did not upgrade: %+v", r)
	}

	// implicit TLS (port 465 style).
	implicit := startServer(t, serveImplicit)
	c = newConnector(t, implicit, func(c *smtp.Config) { c.ImplicitTLS = true })
	if _, err := c.Send(ctx, email("k", "ana@example.org")); err != nil {
		t.Fatal(err)
	}
	if r := implicit.received(); len(r) != 1 || !r[0].TLS || r[0].User != "overture" {
		t.Errorf("implicit TLS: %+v", r)
	}

	// A certificate the client does not trust is a permanent failure, in
	// both forms of TLS.
	for _, tc := range []struct {
		ms       *mailServer
		implicit bool
	}{{starttls, false}, {implicit, true}} {
		c := newConnector(t, tc.ms, func(c *smtp.Config) { c.TLSConfig = nil; c.ImplicitTLS = tc.implicit })
		_, err := c.Send(ctx, email("k", "ana@example.org"))
		wantError(t, err, false, 0, "")
		var cert *tls.CertificateVerificationError
		if !errors.As(err, &cert) {
			t.Errorf("implicit %v: %v, want a certificate verification error", tc.implicit, err)
		}
	}
}

func TestUnreachableAndStalledAreRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	stalled := make(chan net.Conn, 1)
	go func() { // accepts and never greets
		if conn, err := l.Accept(); err == nil {
			stalled <- conn
		}
	}()
	t.Cleanup(func() {
		l.Close()
		select {
		case conn := <-stalled:
			conn.Close()
		default:
		}
	})
	ms := &mailServer{Host: "127.0.0.1", Port: port, Cert: newCertificate(t)}
	c := newConnector(t, ms, func(c *smtp.Config) { c.Timeout = 200 * time.Millisecond })
	_, err = c.Send(context.Background(), email("k", "ana@example.org"))
	wantError(t, err, true, 0, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled: %v, want a deadline", err)
	}

	l.Close()
	_, err = c.Send(context.Background(), email("k", "ana@example.org"))
	wantError(t, err, true, 0, "")
}

func TestBadMessages(t *testing.T) {
	ms := startServer(t, serveSTARTTLS)
	c := newConnector(t, ms, nil)
	for _, m := range []*deliver.Message{
		{Key: "k", Channel: "email", To: "not an address", Subject: "s", Text: "t"},
		{Key: "k", Channel: "email", To: "a@example.org", Subject: "s"},
		{Key: "", Channel: "email", To: "a@example.org", Subject: "s", Text: "t"},
		{Key: "k\r\nBcc: x@evil.example", Channel: "email", To: "a@example.org", Subject: "s", Text: "t"},
		{Key: "k", Channel: "email", To: "a@example.org", From: "nope", Subject: "s", Text: "t"},
	} {
		_, err := c.Send(context.Background(), m)
		if retry, _ := deliver.Classify(err); err == nil || retry {
			t.Errorf("Send(%+v) = %v, want a non-retryable error", m, err)
		}
	}
	// A subject with a line break cannot add a header.
	if _, err := c.Send(context.Background(), &deliver.Message{Key: "k", Channel: "email", To: "a@example.org",
		Subject: "Hi\r\nBcc: x@evil.example", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	p := parse(t, ms.received()[0].Data)
	if p.Header.Get("Bcc") != "" {
		t.Error("the subject injected a Bcc header")
	}
}

func TestOpen(t *testing.T) {
	ms := startServer(t, serveSTARTTLS)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, ms.Cert.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"SMTP_PASSWORD": "hunter2", "EMPTY": ""}[k]
		return v, ok
	}
	cfg, err := deliver.ParseConfig([]byte(`
connectors:
  - name: mail
    type: smtp
    channels: [email]
    host: 127.0.0.1
    port: ` + strconv.Itoa(ms.Port) + `
    from: "Overture <news@example.com>"
    username: overture
    password_env: SMTP_PASSWORD
    ca_file: ` + ca + `
    timeout: 5s
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.Open(&cfg.Connectors[0], env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), email("k", "ana@example.org")); err != nil {
		t.Fatal(err)
	}
	if r := ms.received(); len(r) != 1 || !r[0].TLS {
		t.Fatalf("received %+v", r)
	}

	base := map[string]any{"host": "127.0.0.1", "port": ms.Port, "from": "news@example.com",
		"username": "overture", "password_env": "SMTP_PASSWORD"}
	for _, tc := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(s map[string]any) { s["password_env"] = "NOT_SET" }, `connector "mail": password_env: environment variable NOT_SET is not set`},
		{func(s map[string]any) { s["password_env"] = "EMPTY" }, `connector "mail": password_env: environment variable EMPTY is empty`},
		{func(s map[string]any) { delete(s, "password_env") }, `connector "mail": password_env is required`},
		{func(s map[string]any) { s["password"] = "hunter2" }, `connector "mail": password: secrets are not written in the configuration; put it in an environment variable and name that in password_env`},
		{func(s map[string]any) { s["starttls"] = "sometimes" }, `connector "mail": starttls: "sometimes" is not required, opportunistic or none`},
		{func(s map[string]any) { s["port"] = "smtp" }, `connector "mail": port: cannot unmarshal`},
		{func(s map[string]any) { delete(s, "host") }, `connector "mail": host is required`},
		{func(s map[string]any) { delete(s, "from") }, `connector "mail": from is required`},
		{func(s map[string]any) { s["ca_file"] = "/nonexistent.pem" }, `connector "mail": ca_file: open /nonexistent.pem`},
		{func(s map[string]any) { s["implicit_tls"] = true; s["starttls"] = "required" }, `connector "mail": starttls does not apply with implicit_tls`},
		{func(s map[string]any) { s["hots"] = "x" }, `connector "mail": unknown setting "hots" for type smtp`},
	} {
		s := map[string]any{}
		for k, v := range base {
			s[k] = v
		}
		tc.edit(s)
		_, err := smtp.Open(&deliver.ConnectorConfig{Name: "mail", Type: "smtp", Settings: s}, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open = %v, want %q", err, tc.want)
		}
	}

	// implicit_tls, with the same CA file.
	implicit := startServer(t, serveImplicit)
	if err := os.WriteFile(ca, implicit.Cert.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	s := map[string]any{"host": "127.0.0.1", "port": implicit.Port, "implicit_tls": true, "ca_file": ca,
		"from": "news@example.com", "username": "overture", "password_env": "SMTP_PASSWORD", "auth": "login"}
	c, err = smtp.Open(&deliver.ConnectorConfig{Name: "mail", Type: "smtp", Settings: s}, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), email("k", "ana@example.org")); err != nil {
		t.Fatal(err)
	}
	if r := implicit.received(); len(r) != 1 || !r[0].TLS {
		t.Fatalf("received %+v", r)
	}
}
