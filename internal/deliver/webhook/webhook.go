// Package webhook is the webhook connector: it POSTs a message's JSON to a
// URL, signed as the Standard Webhooks specification says
// (https://www.standardwebhooks.com/), so that any of its libraries can
// verify the call. Webhooks are also the way to reach chat, WhatsApp
// business providers and contact-centre systems, so the connector can be
// configured to carry any channel.
//
// # What a receiver gets
//
// A POST with Content-Type application/json and these headers:
//
//	webhook-id:         the message's idempotency key, the same on every attempt
//	webhook-timestamp:  when this attempt was signed, Unix seconds
//	webhook-signature:  "v1,<base64 HMAC-SHA256 of id.timestamp.body>"
//	Idempotency-Key:    the idempotency key again, for receivers that use that header
//	X-Overture-Channel: the message's channel
//	X-Overture-<Name>:  one per Meta entry (profile, journey, step...)
//	X-Overture-Receipt-URL: where to POST what became of the message, if
//	                    tracking is on: {"status": "delivered"|"failed"|
//	                    "opened"|"clicked"|"read", "reason", "url"}
//
// The body is the message's JSON, or, when the message has none (a chat or
// WhatsApp text routed to a webhook), an Envelope.
//
// # Verifying a call (the recipe)
//
//  1. Read the raw body bytes; do not parse and re-encode them first.
//  2. Take the key: for a secret "whsec_<base64>", the bytes the base64
//     encodes; for any other secret, its bytes.
//  3. Compute base64(HMAC-SHA256(key, webhook-id + "." + webhook-timestamp +
//     "." + body)) and compare it, in constant time, with each
//     space-separated "v1,<signature>" in webhook-signature; one must match.
//  4. Reject a webhook-timestamp more than five minutes from your clock
//     (either way), which stops replays.
//  5. Deduplicate on webhook-id: a message can arrive more than once (the
//     sender retries when it gets no 2xx), always with the same id.
//  6. Answer 2xx once the message is stored; 429 or 5xx (with Retry-After
//     if you like) to be asked again later; any other status drops it.
//
// In Go, Verify does steps 2 to 4; Standard Webhooks' libraries in other
// languages do the same given the same secret.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/activation"
	"github.com/overture-cjo/overture/internal/deliver"
)

// Type is the connector type in the configuration.
const Type = "webhook"

// maxAnswer is how much of an answer's body is read.
const maxAnswer = 64 << 10

// Config configures a webhook connector.
type Config struct {
	Name     string
	Channels []string     // the channels it carries; default [webhook]
	URL      string       // where to post; empty: each message's To is the URL
	Key      []byte       // the signing key (see SigningKey); nil: calls are not signed
	Client   *http.Client // nil: 30 s per call, redirects not followed
	Now      func() time.Time
}

// Connector posts messages to webhooks.
type Connector struct {
	cfg Config
}

var _ deliver.Connector = (*Connector)(nil)

// New returns a webhook connector. It checks the URL if one is set.
func New(cfg Config) (*Connector, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("webhook: a name is required")
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []string{deliver.ChannelWebhook}
	}
	cfg.Channels = slices.Clone(cfg.Channels)
	if cfg.URL != "" {
		if err := checkURL(cfg.URL); err != nil {
			return nil, fmt.Errorf("connector %q: url: %w", cfg.Name, err)
		}
	}
	if cfg.Client == nil {
		cfg.Client = deliver.HTTPClient(30 * time.Second)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Connector{cfg: cfg}, nil
}

// Open returns the webhook connector an entry configures. Its settings:
//
//	url: https://hooks.example.com/overture  # optional; without it each message's To is the URL
//	secret_env: WEBHOOK_SECRET                # required: the variable holding the signing secret ("whsec_..." or raw)
//	timeout: 10s                              # per call; default 30s
//
// It carries the channels listed (any channel; default webhook).
func Open(cc *deliver.ConnectorConfig, env deliver.Env) (*Connector, error) {
	var s struct {
		URL       string        `yaml:"url"`
		SecretEnv string        `yaml:"secret_env"`
		Timeout   time.Duration `yaml:"timeout"`
	}
	if err := cc.Decode(&s); err != nil {
		return nil, err
	}
	secret, err := cc.Secret(env, "secret_env", s.SecretEnv)
	if err != nil {
		return nil, err
	}
	key, err := SigningKey(secret)
	if err != nil {
		return nil, cc.Errorf("secret_env: the secret in %s: %v", s.SecretEnv, err)
	}
	chs := []string{deliver.ChannelWebhook}
	if len(cc.Channels) > 0 {
		if chs, err = cc.ChannelsOr(deliver.Channels); err != nil {
			return nil, err
		}
	}
	cfg := Config{Name: cc.Name, Channels: chs, URL: s.URL, Key: key}
	if s.Timeout < 0 {
		return nil, cc.Errorf("timeout: must not be negative")
	}
	if s.Timeout > 0 {
		cfg.Client = deliver.HTTPClient(s.Timeout)
	}
	return New(cfg)
}

// SigningKey returns the HMAC key a secret stands for: for "whsec_<base64>"
// (the Standard Webhooks form) the bytes the base64 encodes, otherwise the
// secret's bytes.
func SigningKey(secret string) ([]byte, error) { return activation.Key(secret) }

// Verify checks a received call the way a Standard Webhooks receiver does
// (steps 2 to 4 of the recipe in the package documentation): secret is the
// shared secret, h and body the call's headers and raw body, now the
// receiver's clock. It returns nil if the call is authentic and fresh.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := SigningKey(secret)
	if err != nil {
		return err
	}
	return activation.Verify(key, h, body, now, activation.DefaultTolerance)
}

// Envelope is the body posted for a message that has no JSON of its own.
type Envelope struct {
	Key      string            `json:"key"`
	Channel  string            `json:"channel"`
	To       string            `json:"to,omitempty"`
	From     string            `json:"from,omitempty"`
	Subject  string            `json:"subject,omitempty"`
	Text     string            `json:"text,omitempty"`
	HTML     string            `json:"html,omitempty"`
	Body     string            `json:"body,omitempty"`
	MediaURL string            `json:"mediaUrl,omitempty"`
	Title    string            `json:"title,omitempty"`
	DeepLink string            `json:"deepLink,omitempty"`
	Script   string            `json:"script,omitempty"`
	IVRFlow  string            `json:"ivrFlow,omitempty"`
	Meta     map[string]string `json:"meta,omitempty"`
}

// Name returns the connector's name.
func (c *Connector) Name() string { return c.cfg.Name }

// Channels returns the channels it carries.
func (c *Connector) Channels() []string { return slices.Clone(c.cfg.Channels) }

// Send posts m once. A 2xx answer is success (Result.Status is the status
// code, ProviderID the answer's JSON "id" if it has one); 408, 425, 429 and
// 5xx are retryable with the answer's Retry-After; any other status,
// redirects included, is not.
func (c *Connector) Send(ctx context.Context, m *deliver.Message) (deliver.Result, error) {
	name := c.cfg.Name
	if err := ctx.Err(); err != nil {
		return deliver.Result{}, deliver.Transient(name, err)
	}
	if err := deliver.CheckChannel(name, c.cfg.Channels, m); err != nil {
		return deliver.Result{}, err
	}
	if err := deliver.CheckKey(name, m); err != nil {
		return deliver.Result{}, err
	}
	target := c.cfg.URL
	if target == "" {
		target = m.To
		if err := checkURL(target); err != nil {
			return deliver.Result{}, deliver.Permanent(name, fmt.Sprintf("to: %v", err))
		}
	}
	body := m.JSON
	if len(body) == 0 {
		var err error
		if body, err = json.Marshal(Envelope{Key: m.Key, Channel: m.Channel, To: m.To, From: m.From,
			Subject: m.Subject, Text: m.Text, HTML: m.HTML, Body: m.Body, MediaURL: m.MediaURL,
			Title: m.Title, DeepLink: m.DeepLink, Script: m.Script, IVRFlow: m.IVRFlow, Meta: m.Meta}); err != nil {
			return deliver.Result{}, deliver.Permanent(name, fmt.Sprintf("encoding the envelope: %v", err))
		}
	} else if !json.Valid(body) {
		return deliver.Result{}, deliver.Permanent(name, "the message's JSON is not valid JSON")
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return deliver.Result{}, deliver.Permanent(name, err.Error())
	}
	now := c.cfg.Now()
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "overture-deliver")
	h.Set(activation.HeaderID, m.Key)
	h.Set(activation.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if c.cfg.Key != nil {
		h.Set(activation.HeaderSignature, activation.Sign(c.cfg.Key, m.Key, now, body))
	}
	h.Set("Idempotency-Key", m.Key)
	for k, v := range m.Meta {
		if hk := metaHeader(k); hk != "" {
			h.Set(hk, headerValue(v))
		}
	}
	h.Set("X-Overture-Channel", m.Channel)
	if m.Receipt != "" {
		h.Set("X-Overture-Receipt-URL", m.Receipt)
	}

	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return deliver.Result{}, deliver.Transient(name, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode/100 != 2 {
		reason := strings.TrimSpace(string(answer))
		if len(reason) > 512 {
			reason = reason[:512]
		}
		if reason == "" {
			reason = http.StatusText(resp.StatusCode)
		}
		return deliver.Result{}, deliver.HTTPError(name, resp, c.cfg.Now(), "", reason)
	}
	var id struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(answer, &id) // an answer need not be JSON
	return deliver.Result{ProviderID: id.ID, Status: strconv.Itoa(resp.StatusCode)}, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	}
	return nil
}

// metaHeader turns a Meta key into a header name, "X-Overture-" and the
// key with '_' as '-'; "" if the key has other characters a header name
// cannot hold.
func metaHeader(k string) string {
	if k == "" {
		return ""
	}
	b := []byte(k)
	for i, r := range b {
		switch {
		case r == '_':
			b[i] = '-'
		case r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		default:
			return ""
		}
	}
	return http.CanonicalHeaderKey("X-Overture-" + string(b))
}

// headerValue drops the control characters a header value cannot hold.
func headerValue(v string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, v)
}
