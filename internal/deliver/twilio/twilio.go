// Package twilio is the connector for SMS, MMS, WhatsApp and outbound
// voice calls through Twilio's REST API, or any API that behaves like it
// (the base URL is configurable, which is also how tests run it against a
// local server).
//
// Messages are created with POST {base}/2010-04-01/Accounts/{sid}/Messages.json
// (To, From or MessagingServiceSid, Body, MediaUrl, StatusCallback) and
// calls with POST .../Calls.json (To, From, Twiml or Url, StatusCallback),
// authenticated with HTTP basic auth (account SID or API key SID, and the
// auth token or API key secret). Every request carries the message's key as
// I-Twilio-Idempotency-Token (the header Twilio itself uses for the same
// purpose on the webhooks it sends), so a provider that deduplicates on it
// treats a repeat of a request it already accepted as that request. Twilio
// does not document that its Messages and Calls resources do so; where
// they do not, a repeat after a lost answer can send twice.
package twilio

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
)

// Type is the connector type in the configuration.
const Type = "twilio"

// DefaultBaseURL is Twilio's API.
const DefaultBaseURL = "https://api.twilio.com"

// Supported lists the channels a Twilio connector can carry.
var Supported = []string{deliver.ChannelSMS, deliver.ChannelMMS, deliver.ChannelVoice, deliver.ChannelWhatsApp}

// maxAnswer is how much of an answer's body is read.
const maxAnswer = 64 << 10

// Config configures a Twilio connector.
type Config struct {
	Name     string
	Channels []string // default Supported
	BaseURL  string   // default DefaultBaseURL

	AccountSID string // the account the messages are sent from (in the URL path)
	APIKeySID  string // if set, the basic-auth user instead of AccountSID
	AuthToken  string // the auth token, or the API key's secret

	From                string // the default sender: an E.164 number (WhatsApp: prefixed with "whatsapp:" if it is not)
	MessagingServiceSID string // if set, messages without their own From go through this messaging service
	StatusCallback      string // the URL Twilio posts status changes to, if set
	IVRBaseURL          string // a voice message's IVRFlow that is not a URL is taken as a path under this URL
	Voice, Language     string // attributes of <Say> for scripted calls, if set

	Client *http.Client // nil: 30 s per call
	Now    func() time.Time
}

// Connector sends through a Twilio-compatible API.
type Connector struct {
	cfg      Config
	messages string // the Messages resource URL
	calls    string // the Calls resource URL
}

var _ deliver.Connector = (*Connector)(nil)

// New returns a Twilio connector, checking that the configuration is
// complete.
func New(cfg Config) (*Connector, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("twilio: a name is required")
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("connector %q: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = Supported
	}
	cfg.Channels = slices.Clone(cfg.Channels)
	for _, ch := range cfg.Channels {
		if !slices.Contains(Supported, ch) {
			return nil, bad("channels: twilio cannot carry %q", ch)
		}
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if u, err := url.Parse(cfg.BaseURL); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, bad("base_url: %q is not an absolute http or https URL", cfg.BaseURL)
	}
	if cfg.AccountSID == "" {
		return nil, bad("account_sid is required")
	}
	if cfg.AuthToken == "" {
		return nil, bad("an auth token is required (auth_token_env)")
	}
	if cfg.From == "" && cfg.MessagingServiceSID == "" {
		return nil, bad("from or messaging_service_sid is required")
	}
	if cfg.From == "" && slices.Contains(cfg.Channels, deliver.ChannelVoice) {
		return nil, bad("from is required for the voice channel (calls cannot use a messaging service)")
	}
	if cfg.Client == nil {
		cfg.Client = deliver.HTTPClient(30 * time.Second)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	account := cfg.BaseURL + "/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID)
	return &Connector{cfg: cfg, messages: account + "/Messages.json", calls: account + "/Calls.json"}, nil
}

// Open returns the Twilio connector an entry configures. Its settings:
//
//	account_sid: AC0123...                 # required
//	auth_token_env: TWILIO_AUTH_TOKEN      # required: the variable holding the auth token (or API key secret)
//	api_key_sid: SK0123...                 # optional: authenticate with an API key instead of the account SID
//	from: "+15550100000"                   # the default sender; required for voice
//	messaging_service_sid: MG0123...       # optional: send messages through a messaging service
//	status_callback: https://overture.example.com/v1/receipts/twilio   # optional
//	ivr_base_url: https://ivr.example.com/flows                         # optional: where IVR flow ids live
//	voice: Polly.Joanna                    # optional <Say> voice
//	language: en-US                        # optional <Say> language
//	base_url: https://api.twilio.com       # default
//	timeout: 10s                           # per request; default 30s
//
// It carries the channels listed (sms, mms, voice, whatsapp; default all).
func Open(cc *deliver.ConnectorConfig, env deliver.Env) (*Connector, error) {
	var s struct {
		AccountSID          string        `yaml:"account_sid"`
		AuthTokenEnv        string        `yaml:"auth_token_env"`
		APIKeySID           string        `yaml:"api_key_sid"`
		From                string        `yaml:"from"`
		MessagingServiceSID string        `yaml:"messaging_service_sid"`
		StatusCallback      string        `yaml:"status_callback"`
		IVRBaseURL          string        `yaml:"ivr_base_url"`
		Voice               string        `yaml:"voice"`
		Language            string        `yaml:"language"`
		BaseURL             string        `yaml:"base_url"`
		Timeout             time.Duration `yaml:"timeout"`
	}
	if err := cc.Decode(&s); err != nil {
		return nil, err
	}
	if s.AccountSID == "" {
		return nil, cc.Errorf("account_sid is required")
	}
	token, err := cc.Secret(env, "auth_token_env", s.AuthTokenEnv)
	if err != nil {
		return nil, err
	}
	chs, err := cc.ChannelsOr(Supported)
	if err != nil {
		return nil, err
	}
	if s.Timeout < 0 {
		return nil, cc.Errorf("timeout: must not be negative")
	}
	cfg := Config{
		Name: cc.Name, Channels: chs, BaseURL: s.BaseURL,
		AccountSID: s.AccountSID, APIKeySID: s.APIKeySID, AuthToken: token,
		From: s.From, MessagingServiceSID: s.MessagingServiceSID, StatusCallback: s.StatusCallback,
		IVRBaseURL: s.IVRBaseURL, Voice: s.Voice, Language: s.Language,
	}
	if s.Timeout > 0 {
		cfg.Client = deliver.HTTPClient(s.Timeout)
	}
	return New(cfg)
}

// Name returns the connector's name.
func (c *Connector) Name() string { return c.cfg.Name }

// Channels returns the channels it carries.
func (c *Connector) Channels() []string { return slices.Clone(c.cfg.Channels) }

// Send makes one request: a message for sms, mms and whatsapp, a call for
// voice. Result.ProviderID is Twilio's SID, Status its status ("queued").
// 429 and 5xx answers are retryable, with their Retry-After; other 4xx are
// not, and carry Twilio's error code and message.
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
	if m.To == "" {
		return deliver.Result{}, deliver.Permanent(name, "the message has no recipient (to)")
	}
	var (
		form     url.Values
		endpoint string
		err      error
	)
	if m.Channel == deliver.ChannelVoice {
		form, err = c.callForm(m)
		endpoint = c.calls
	} else {
		form, err = c.messageForm(m)
		endpoint = c.messages
	}
	if err != nil {
		return deliver.Result{}, err
	}
	return c.post(ctx, endpoint, m.Key, form)
}

func (c *Connector) messageForm(m *deliver.Message) (url.Values, error) {
	f := url.Values{}
	to, from := m.To, m.From
	if m.Channel == deliver.ChannelWhatsApp {
		to = whatsApp(to)
		if from != "" {
			from = whatsApp(from)
		}
	}
	f.Set("To", to)
	switch {
	case from != "":
		f.Set("From", from)
	case c.cfg.MessagingServiceSID != "":
		f.Set("MessagingServiceSid", c.cfg.MessagingServiceSID)
	case m.Channel == deliver.ChannelWhatsApp:
		f.Set("From", whatsApp(c.cfg.From))
	default:
		f.Set("From", c.cfg.From)
	}
	if m.Body != "" {
		f.Set("Body", m.Body)
	}
	switch m.Channel {
	case deliver.ChannelSMS:
		if m.Body == "" {
			return nil, deliver.Permanent(c.cfg.Name, "an sms needs a body")
		}
	case deliver.ChannelMMS:
		if m.MediaURL == "" {
			return nil, deliver.Permanent(c.cfg.Name, "an mms needs a media URL")
		}
		f.Set("MediaUrl", m.MediaURL)
	case deliver.ChannelWhatsApp:
		if m.Body == "" && m.MediaURL == "" {
			return nil, deliver.Permanent(c.cfg.Name, "a whatsapp message needs a body or a media URL")
		}
		if m.MediaURL != "" {
			f.Set("MediaUrl", m.MediaURL)
		}
	}
	c.setCallback(f, m)
	return f, nil
}

func (c *Connector) callForm(m *deliver.Message) (url.Values, error) {
	f := url.Values{}
	f.Set("To", m.To)
	from := m.From
	if from == "" {
		from = c.cfg.From
	}
	f.Set("From", from)
	switch {
	case m.IVRFlow != "":
		u, err := c.ivrURL(m.IVRFlow)
		if err != nil {
			return nil, err
		}
		f.Set("Url", u)
	case m.Script != "":
		f.Set("Twiml", c.twiml(m.Script))
	default:
		return nil, deliver.Permanent(c.cfg.Name, "a voice message needs a script or an IVR flow")
	}
	c.setCallback(f, m)
	return f, nil
}

// setCallback sets StatusCallback: the message's receipt URL, else the
// configured one.
func (c *Connector) setCallback(f url.Values, m *deliver.Message) {
	switch {
	case m.Receipt != "":
		f.Set("StatusCallback", m.Receipt)
	case c.cfg.StatusCallback != "":
		f.Set("StatusCallback", c.cfg.StatusCallback)
	}
}

// twiml is the TwiML that speaks script: <Response><Say>script</Say></Response>.
func (c *Connector) twiml(script string) string {
	var b strings.Builder
	b.WriteString("<Response><Say")
	for _, a := range [][2]string{{"voice", c.cfg.Voice}, {"language", c.cfg.Language}} {
		if a[1] != "" {
			b.WriteString(" " + a[0] + `="`)
			_ = xml.EscapeText(&b, []byte(a[1]))
			b.WriteString(`"`)
		}
	}
	b.WriteString(">")
	_ = xml.EscapeText(&b, []byte(script))
	b.WriteString("</Say></Response>")
	return b.String()
}

// ivrURL resolves an IVR flow: an absolute http(s) URL as is, anything else
// as a path segment under IVRBaseURL.
func (c *Connector) ivrURL(flow string) (string, error) {
	if u, err := url.Parse(flow); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return flow, nil
	}
	if c.cfg.IVRBaseURL == "" {
		return "", deliver.Permanent(c.cfg.Name, fmt.Sprintf("IVR flow %q is not a URL and ivr_base_url is not set", flow))
	}
	return strings.TrimRight(c.cfg.IVRBaseURL, "/") + "/" + url.PathEscape(flow), nil
}

func whatsApp(addr string) string {
	if strings.HasPrefix(addr, "whatsapp:") {
		return addr
	}
	return "whatsapp:" + addr
}

// answer is the part of Twilio's answers the connector reads: a created
// resource (sid, status) or an error (code, message).
type answer struct {
	SID     string `json:"sid"`
	Status  any    `json:"status"` // a string for a resource, a number for an error
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (c *Connector) post(ctx context.Context, endpoint, key string, form url.Values) (deliver.Result, error) {
	name := c.cfg.Name
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return deliver.Result{}, deliver.Permanent(name, err.Error())
	}
	user := c.cfg.AccountSID
	if c.cfg.APIKeySID != "" {
		user = c.cfg.APIKeySID
	}
	req.SetBasicAuth(user, c.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "overture-deliver")
	req.Header.Set("I-Twilio-Idempotency-Token", key)
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return deliver.Result{}, deliver.Transient(name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	var a answer
	_ = json.Unmarshal(b, &a) // a proxy's error page need not be JSON
	if resp.StatusCode/100 != 2 {
		code := ""
		if a.Code != 0 {
			code = strconv.Itoa(a.Code)
		}
		reason := a.Message
		if reason == "" {
			reason = strings.TrimSpace(string(b[:min(len(b), 512)]))
		}
		return deliver.Result{}, deliver.HTTPError(name, resp, c.cfg.Now(), code, reason)
	}
	status, _ := a.Status.(string)
	return deliver.Result{ProviderID: a.SID, Status: status}, nil
}
