// Package smtp is the email connector: it submits each message to an SMTP
// server (a relay or a provider's submission endpoint) as a MIME message,
// over TLS (STARTTLS, required by default, or implicit TLS on port 465)
// and with AUTH PLAIN or LOGIN. It uses the standard library's net/smtp.
//
// SMTP has no idempotency key. The connector derives the Message-ID from
// the message's key, so a message submitted again after a crash or a lost
// answer carries the same Message-ID (and X-Overture-Key) as the first;
// mail systems and clients that deduplicate on Message-ID show it once,
// others may show it twice.
package smtp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
)

// Type is the connector type in the configuration.
const Type = "smtp"

// The STARTTLS policies.
const (
	StartTLSRequired      = "required"      // upgrade with STARTTLS or fail (the default)
	StartTLSOpportunistic = "opportunistic" // upgrade if the server offers STARTTLS
	StartTLSNone          = "none"          // never upgrade (local test servers)
)

// The AUTH mechanisms.
const (
	AuthPlain = "plain"
	AuthLogin = "login"
)

// Config configures an SMTP connector.
type Config struct {
	Name     string
	Channels []string // default [email], the only channel it carries

	Host string
	Port int // default 587, or 465 with ImplicitTLS

	Username string // if set, the connector authenticates
	Password string

	From string // the default sender, "Name <address>" or "address"

	StartTLS    string      // StartTLSRequired (default), StartTLSOpportunistic or StartTLSNone
	ImplicitTLS bool        // TLS from the first byte (port 465); StartTLS does not apply
	TLSConfig   *tls.Config // nil: the system's roots; ServerName defaults to Host

	Auth string // AuthPlain or AuthLogin; "": PLAIN if the server offers it, else LOGIN

	HELO    string        // the name given in EHLO; default "localhost"
	Timeout time.Duration // the most one Send may take; default 60 s
	Now     func() time.Time
}

// Connector sends email through one SMTP server.
type Connector struct {
	cfg  Config
	from *mail.Address
}

var _ deliver.Connector = (*Connector)(nil)

// New returns an SMTP connector, checking that the configuration is
// complete.
func New(cfg Config) (*Connector, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("smtp: a name is required")
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("connector %q: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []string{deliver.ChannelEmail}
	}
	cfg.Channels = slices.Clone(cfg.Channels)
	for _, ch := range cfg.Channels {
		if ch != deliver.ChannelEmail {
			return nil, bad("channels: smtp cannot carry %q", ch)
		}
	}
	if cfg.Host == "" {
		return nil, bad("host is required")
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.ImplicitTLS {
			cfg.Port = 465
		}
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, bad("port %d is out of range", cfg.Port)
	}
	switch cfg.StartTLS {
	case "":
		if !cfg.ImplicitTLS {
			cfg.StartTLS = StartTLSRequired
		}
	case StartTLSRequired, StartTLSOpportunistic, StartTLSNone:
		if cfg.ImplicitTLS {
			return nil, bad("starttls does not apply with implicit_tls")
		}
	default:
		return nil, bad("starttls: %q is not required, opportunistic or none", cfg.StartTLS)
	}
	switch cfg.Auth {
	case "", AuthPlain, AuthLogin:
	default:
		return nil, bad("auth: %q is not plain or login", cfg.Auth)
	}
	if cfg.Username == "" && cfg.Password != "" {
		return nil, bad("a password is set but no username")
	}
	if cfg.Username != "" && cfg.Password == "" {
		return nil, bad("username is set but no password (password_env)")
	}
	if cfg.From == "" {
		return nil, bad("from is required")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, bad("from: %q: %v", cfg.From, err)
	}
	if cfg.HELO == "" {
		cfg.HELO = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Connector{cfg: cfg, from: from}, nil
}

// Open returns the SMTP connector an entry configures. Its settings:
//
//	host: smtp.example.com                 # required
//	port: 587                              # default 587, or 465 with implicit TLS
//	from: "Example <news@example.com>"     # required: the default sender
//	username: overture                     # optional: authenticate as
//	password_env: SMTP_PASSWORD            # required with username: the variable holding the password
//	starttls: required                     # required (default), opportunistic or none
//	implicit_tls: true                     # TLS from the first byte; default true on port 465
//	ca_file: /etc/overture/smtp-ca.pem     # optional: trust these CAs instead of the system's
//	auth: plain                            # plain or login; default PLAIN if offered, else LOGIN
//	helo: mailer.example.com               # the EHLO name; default localhost
//	timeout: 30s                           # the most one message may take; default 60s
func Open(cc *deliver.ConnectorConfig, env deliver.Env) (*Connector, error) {
	var s struct {
		Host        string        `yaml:"host"`
		Port        int           `yaml:"port"`
		From        string        `yaml:"from"`
		Username    string        `yaml:"username"`
		PasswordEnv string        `yaml:"password_env"`
		StartTLS    string        `yaml:"starttls"`
		ImplicitTLS *bool         `yaml:"implicit_tls"`
		CAFile      string        `yaml:"ca_file"`
		Auth        string        `yaml:"auth"`
		HELO        string        `yaml:"helo"`
		Timeout     time.Duration `yaml:"timeout"`
	}
	if err := cc.Decode(&s); err != nil {
		return nil, err
	}
	chs, err := cc.ChannelsOr([]string{deliver.ChannelEmail})
	if err != nil {
		return nil, err
	}
	cfg := Config{Name: cc.Name, Channels: chs, Host: s.Host, Port: s.Port, From: s.From, Username: s.Username,
		StartTLS: s.StartTLS, Auth: s.Auth, HELO: s.HELO, Timeout: s.Timeout}
	if s.ImplicitTLS != nil {
		cfg.ImplicitTLS = *s.ImplicitTLS
	} else {
		cfg.ImplicitTLS = s.Port == 465
	}
	if s.Username != "" {
		if cfg.Password, err = cc.Secret(env, "password_env", s.PasswordEnv); err != nil {
			return nil, err
		}
	} else if s.PasswordEnv != "" {
		return nil, cc.Errorf("password_env is set but no username")
	}
	if s.Timeout < 0 {
		return nil, cc.Errorf("timeout: must not be negative")
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, cc.Errorf("ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, cc.Errorf("ca_file: no PEM certificates in %s", s.CAFile)
		}
		cfg.TLSConfig = &tls.Config{RootCAs: pool}
	}
	return New(cfg)
}

// Name returns the connector's name.
func (c *Connector) Name() string { return c.cfg.Name }

// Channels returns the channels it carries.
func (c *Connector) Channels() []string { return slices.Clone(c.cfg.Channels) }

// Send submits m in one SMTP session. Result.ProviderID is the Message-ID
// (without angle brackets). A 4xx reply, a broken connection or a timeout
// is retryable; a 5xx reply (a rejected recipient, failed authentication),
// a certificate that does not verify, or a server without STARTTLS when it
// is required is not. The *deliver.Error's Status is the SMTP reply code,
// its Code the enhanced status code ("5.7.8") if the server gave one.
func (c *Connector) Send(ctx context.Context, m *deliver.Message) (deliver.Result, error) {
	name := c.cfg.Name
	if err := ctx.Err(); err != nil {
		return deliver.Result{}, deliver.Transient(name, err)
	}
	if err := deliver.CheckChannel(name, c.cfg.Channels, m); err != nil {
		return deliver.Result{}, err
	}
	from, to, data, msgID, err := c.compose(m)
	if err != nil {
		return deliver.Result{}, err
	}

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.Port))
	var conn net.Conn
	if c.cfg.ImplicitTLS {
		conn, err = (&tls.Dialer{Config: c.tlsConfig()}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return deliver.Result{}, c.fail(ctx, "connect to "+addr, err)
	}
	defer conn.Close()
	// Closing the connection when ctx ends unblocks a read or write, and
	// since ctx has ended by then, fail reports ctx's error.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	cl, err := smtp.NewClient(conn, c.cfg.Host)
	if err != nil {
		return deliver.Result{}, c.fail(ctx, "greeting", err)
	}
	defer cl.Close()
	if err := cl.Hello(c.cfg.HELO); err != nil {
		return deliver.Result{}, c.fail(ctx, "helo", err)
	}
	if err := cl.Noop(); err != nil { // runs EHLO, whose error Extension would hide
		return deliver.Result{}, c.fail(ctx, "ehlo", err)
	}
	if !c.cfg.ImplicitTLS && c.cfg.StartTLS != StartTLSNone {
		if ok, _ := cl.Extension("STARTTLS"); ok {
			if err := cl.StartTLS(c.tlsConfig()); err != nil {
				return deliver.Result{}, c.fail(ctx, "starttls", err)
			}
		} else if c.cfg.StartTLS == StartTLSRequired {
			return deliver.Result{}, deliver.Permanent(name, fmt.Sprintf("%s does not offer STARTTLS, which starttls: required demands", addr))
		}
	}
	if c.cfg.Username != "" {
		a, err := c.auth(cl)
		if err != nil {
			return deliver.Result{}, err
		}
		if err := cl.Auth(a); err != nil {
			return deliver.Result{}, c.fail(ctx, "auth", err)
		}
	}
	if err := cl.Mail(from); err != nil {
		return deliver.Result{}, c.fail(ctx, "mail from", err)
	}
	if err := cl.Rcpt(to); err != nil {
		return deliver.Result{}, c.fail(ctx, "rcpt to", err)
	}
	w, err := cl.Data()
	if err != nil {
		return deliver.Result{}, c.fail(ctx, "data", err)
	}
	if _, err := w.Write(data); err != nil {
		return deliver.Result{}, c.fail(ctx, "data", err)
	}
	if err := w.Close(); err != nil {
		return deliver.Result{}, c.fail(ctx, "data", err)
	}
	_ = cl.Quit() // the message is accepted; a failed QUIT changes nothing
	return deliver.Result{ProviderID: msgID, Status: "accepted"}, nil
}

func (c *Connector) tlsConfig() *tls.Config {
	var t *tls.Config
	if c.cfg.TLSConfig != nil {
		t = c.cfg.TLSConfig.Clone()
	} else {
		t = &tls.Config{}
	}
	if t.ServerName == "" {
		t.ServerName = c.cfg.Host
	}
	if t.MinVersion == 0 {
		t.MinVersion = tls.VersionTLS12
	}
	return t
}

// auth picks the mechanism: the configured one, or PLAIN if the server
// offers it, else LOGIN.
func (c *Connector) auth(cl *smtp.Client) (smtp.Auth, error) {
	ok, params := cl.Extension("AUTH")
	if !ok {
		return nil, deliver.Permanent(c.cfg.Name, "the server offers no AUTH (over this connection), but a username is configured")
	}
	offered := strings.Fields(strings.ToUpper(params))
	mech := c.cfg.Auth
	if mech == "" {
		switch {
		case slices.Contains(offered, "PLAIN"):
			mech = AuthPlain
		case slices.Contains(offered, "LOGIN"):
			mech = AuthLogin
		default:
			return nil, deliver.Permanent(c.cfg.Name, fmt.Sprintf("the server offers AUTH %s; the connector speaks PLAIN and LOGIN", params))
		}
	}
	if mech == AuthLogin {
		return &loginAuth{username: c.cfg.Username, password: c.cfg.Password, host: c.cfg.Host}, nil
	}
	return smtp.PlainAuth("", c.cfg.Username, c.cfg.Password, c.cfg.Host), nil
}

// loginAuth is AUTH LOGIN, which net/smtp lacks. Like its PlainAuth, it
// refuses to send the password over an unencrypted connection to any host
// but this one.
type loginAuth struct{ username, password, host string }

func (a *loginAuth) Start(s *smtp.ServerInfo) (string, []byte, error) {
	if !s.TLS && !isLocalhost(s.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if s.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(challenge))) {
	case "username:", "user name", "username":
		return []byte(a.username), nil
	case "password:", "password":
		return []byte(a.password), nil
	}
	return nil, fmt.Errorf("unexpected AUTH LOGIN challenge %q", challenge)
}

func isLocalhost(name string) bool {
	return name == "localhost" || name == "127.0.0.1" || name == "::1"
}

// fail classifies an error met at stage.
func (c *Connector) fail(ctx context.Context, stage string, err error) *deliver.Error {
	name := c.cfg.Name
	if ctx.Err() != nil {
		e := deliver.Transient(name, ctx.Err())
		e.Reason = stage
		return e
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		code, text := enhancedCode(te.Msg)
		return &deliver.Error{Connector: name, Retryable: te.Code/100 == 4, Status: te.Code, Code: code, Reason: stage + ": " + text}
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return &deliver.Error{Connector: name, Reason: stage, Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		e := deliver.Transient(name, err)
		e.Reason = stage
		return e
	}
	return &deliver.Error{Connector: name, Reason: stage, Err: err}
}

// enhancedCode splits an RFC 3463 enhanced status code ("5.7.8") off the
// front of a reply's text.
func enhancedCode(msg string) (code, rest string) {
	first, after, _ := strings.Cut(msg, " ")
	parts := strings.Split(first, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return "", msg
	}
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err != nil || len(p) == 0 || len(p) > 3 {
			return "", msg
		}
	}
	return first, after
}

// MessageID returns the Message-ID (without angle brackets) of the message
// whose idempotency key is key, sent from domain: the same for every
// attempt.
func MessageID(key, domain string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16]) + ".overture@" + domain
}

// compose checks m and renders it: the envelope sender and recipient, the
// message, and its Message-ID.
func (c *Connector) compose(m *deliver.Message) (from, to string, data []byte, msgID string, err error) {
	name := c.cfg.Name
	bad := func(format string, args ...any) error {
		return deliver.Permanent(name, fmt.Sprintf(format, args...))
	}
	if err := deliver.CheckKey(name, m); err != nil {
		return "", "", nil, "", err
	}
	rcpt, err := mail.ParseAddress(m.To)
	if err != nil {
		return "", "", nil, "", bad("to: %q: %v", m.To, err)
	}
	sender := c.from
	if m.From != "" {
		if sender, err = mail.ParseAddress(m.From); err != nil {
			return "", "", nil, "", bad("from: %q: %v", m.From, err)
		}
	}
	if m.Text == "" && m.HTML == "" {
		return "", "", nil, "", bad("an email needs a text or an HTML body")
	}
	if len(m.Subject) > 900 {
		return "", "", nil, "", bad("the subject is longer than 900 bytes")
	}
	domain := "localhost"
	if i := strings.LastIndexByte(sender.Address, '@'); i >= 0 && i < len(sender.Address)-1 {
		domain = sender.Address[i+1:]
	}
	msgID = MessageID(m.Key, domain)

	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", sender.String())
	header("To", rcpt.String())
	header("Subject", encodeHeader(m.Subject))
	header("Date", c.cfg.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+msgID+">")
	header("MIME-Version", "1.0")
	header("X-Overture-Key", m.Key)

	switch {
	case m.Text != "" && m.HTML != "":
		mw := multipart.NewWriter(&b)
		header("Content-Type", "multipart/alternative;\r\n boundary=\""+mw.Boundary()+"\"")
		b.WriteString("\r\n")
		for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			pw, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {p.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return "", "", nil, "", bad("composing: %v", err)
			}
			if err := writeQP(pw, p.body); err != nil {
				return "", "", nil, "", bad("composing: %v", err)
			}
		}
		if err := mw.Close(); err != nil {
			return "", "", nil, "", bad("composing: %v", err)
		}
	default:
		typ, body := "text/plain", m.Text
		if m.Text == "" {
			typ, body = "text/html", m.HTML
		}
		header("Content-Type", typ+"; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, body); err != nil {
			return "", "", nil, "", bad("composing: %v", err)
		}
	}
	return sender.Address, rcpt.Address, b.Bytes(), msgID, nil
}

// writeQP writes body quoted-printable, with CRLF line ends.
func writeQP(w io.Writer, body string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, body); err != nil {
		return err
	}
	return qp.Close()
}

// encodeHeader encodes a header value as RFC 2047 words when it is not
// plain printable ASCII, folding between the words.
func encodeHeader(v string) string {
	enc := mime.QEncoding.Encode("utf-8", v)
	if enc == v {
		return v
	}
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}
