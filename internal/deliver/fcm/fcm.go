// Package fcm is the push connector: it sends notifications through
// Firebase Cloud Messaging's HTTP v1 API, or any endpoint that behaves
// like it (the base URL is configurable, which is also how tests run it
// against a local server), with POST
// {base}/v1/projects/{project}/messages:send.
//
// Authentication is a bearer OAuth 2 access token supplied by a
// TokenSource. Minting tokens from a service account is out of this
// package's scope: Open reads a token from an environment variable, which
// suits tests and short runs (Google's tokens expire after an hour); a
// long-running server sets Config.Token to a refreshing source (for
// example golang.org/x/oauth2/google's, wrapped in a func).
//
// FCM has no idempotency key. Each message carries the delivery key in its
// data as overture_key, so an app that must not show a repeat can drop
// one; otherwise a retry after a lost answer can be shown twice.
package fcm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
)

// Type is the connector type in the configuration.
const Type = "fcm"

// DefaultBaseURL is FCM's API.
const DefaultBaseURL = "https://fcm.googleapis.com"

// maxAnswer is how much of an answer's body is read.
const maxAnswer = 64 << 10

// TokenSource returns the bearer token for the next request.
type TokenSource func(ctx context.Context) (string, error)

// StaticToken returns a TokenSource that always returns token.
func StaticToken(token string) TokenSource {
	return func(context.Context) (string, error) { return token, nil }
}

// Config configures an FCM connector.
type Config struct {
	Name      string
	Channels  []string // default [push], the only channel it carries
	BaseURL   string   // default DefaultBaseURL
	ProjectID string   // the Firebase project
	Token     TokenSource
	Client    *http.Client // nil: 30 s per request
	Now       func() time.Time
}

// Connector sends push notifications through FCM.
type Connector struct {
	cfg      Config
	endpoint string
}

var _ deliver.Connector = (*Connector)(nil)

// New returns an FCM connector, checking that the configuration is
// complete.
func New(cfg Config) (*Connector, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("fcm: a name is required")
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("connector %q: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []string{deliver.ChannelPush}
	}
	cfg.Channels = slices.Clone(cfg.Channels)
	for _, ch := range cfg.Channels {
		if ch != deliver.ChannelPush {
			return nil, bad("channels: fcm cannot carry %q", ch)
		}
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if u, err := url.Parse(cfg.BaseURL); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, bad("base_url: %q is not an absolute http or https URL", cfg.BaseURL)
	}
	if cfg.ProjectID == "" {
		return nil, bad("project_id is required")
	}
	if cfg.Token == nil {
		return nil, bad("an access token is required (credentials_env)")
	}
	if cfg.Client == nil {
		cfg.Client = deliver.HTTPClient(30 * time.Second)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Connector{cfg: cfg, endpoint: cfg.BaseURL + "/v1/projects/" + url.PathEscape(cfg.ProjectID) + "/messages:send"}, nil
}

// Open returns the FCM connector an entry configures. Its settings:
//
//	project_id: my-firebase-project        # required
//	credentials_env: FCM_ACCESS_TOKEN      # required: the variable holding an OAuth 2 access token
//	base_url: https://fcm.googleapis.com   # default
//	timeout: 10s                           # per request; default 30s
//
// The token is read once; see the package documentation for refreshing.
func Open(cc *deliver.ConnectorConfig, env deliver.Env) (*Connector, error) {
	var s struct {
		ProjectID      string        `yaml:"project_id"`
		CredentialsEnv string        `yaml:"credentials_env"`
		BaseURL        string        `yaml:"base_url"`
		Timeout        time.Duration `yaml:"timeout"`
	}
	if err := cc.Decode(&s); err != nil {
		return nil, err
	}
	if s.ProjectID == "" {
		return nil, cc.Errorf("project_id is required")
	}
	token, err := cc.Secret(env, "credentials_env", s.CredentialsEnv)
	if err != nil {
		return nil, err
	}
	chs, err := cc.ChannelsOr([]string{deliver.ChannelPush})
	if err != nil {
		return nil, err
	}
	if s.Timeout < 0 {
		return nil, cc.Errorf("timeout: must not be negative")
	}
	cfg := Config{Name: cc.Name, Channels: chs, BaseURL: s.BaseURL, ProjectID: s.ProjectID, Token: StaticToken(token)}
	if s.Timeout > 0 {
		cfg.Client = deliver.HTTPClient(s.Timeout)
	}
	return New(cfg)
}

// Name returns the connector's name.
func (c *Connector) Name() string { return c.cfg.Name }

// Channels returns the channels it carries.
func (c *Connector) Channels() []string { return slices.Clone(c.cfg.Channels) }

// Request is the body of a send request (the part of FCM's v1 API this
// connector uses).
type Request struct {
	Message RequestMessage `json:"message"`
}

// RequestMessage is the message in a Request.
type RequestMessage struct {
	Token        string            `json:"token"`
	Notification Notification      `json:"notification"`
	Data         map[string]string `json:"data,omitempty"`
}

// Notification is what the device shows.
type Notification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

// The data keys the connector sets.
const (
	DataDeepLink = "deep_link"    // the message's DeepLink, if any
	DataKey      = "overture_key" // the message's idempotency key
)

// errorAnswer is FCM's error body: a google.rpc.Status, whose details may
// hold an FcmError with a more precise code.
type errorAnswer struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type      string `json:"@type"`
			ErrorCode string `json:"errorCode"`
		} `json:"details"`
	} `json:"error"`
}

// retryable and permanent sort FCM's error codes (FcmError's errorCode, or
// the status when there is none); a code in neither is judged by its HTTP
// status.
var (
	retryable = []string{"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"}
	permanent = []string{"INVALID_ARGUMENT", "UNREGISTERED", "SENDER_ID_MISMATCH", "THIRD_PARTY_AUTH_ERROR",
		"PERMISSION_DENIED", "UNAUTHENTICATED", "NOT_FOUND"}
)

// Send makes one request. Result.ProviderID is FCM's message name.
// UNAVAILABLE, INTERNAL, QUOTA_EXCEEDED (429) and other 5xx are retryable,
// with the answer's Retry-After; INVALID_ARGUMENT, UNREGISTERED (the token
// is no longer valid: stop sending to it), SENDER_ID_MISMATCH and
// authentication errors are not. The *deliver.Error's Code is FCM's code.
func (c *Connector) Send(ctx context.Context, m *deliver.Message) (deliver.Result, error) {
	name := c.cfg.Name
	if err := ctx.Err(); err != nil {
		return deliver.Result{}, deliver.Transient(name, err)
	}
	if err := deliver.CheckChannel(name, c.cfg.Channels, m); err != nil {
		return deliver.Result{}, err
	}
	if m.To == "" {
		return deliver.Result{}, deliver.Permanent(name, "the message has no device token (to)")
	}
	if m.Title == "" && m.Body == "" {
		return deliver.Result{}, deliver.Permanent(name, "a push needs a title or a body")
	}
	data := map[string]string{}
	if m.Key != "" {
		data[DataKey] = m.Key
	}
	if m.DeepLink != "" {
		data[DataDeepLink] = m.DeepLink
	}
	body, err := json.Marshal(Request{Message: RequestMessage{Token: m.To,
		Notification: Notification{Title: m.Title, Body: m.Body}, Data: data}})
	if err != nil {
		return deliver.Result{}, deliver.Permanent(name, fmt.Sprintf("encoding the request: %v", err))
	}
	token, err := c.cfg.Token(ctx)
	if err != nil {
		return deliver.Result{}, deliver.Transient(name, fmt.Errorf("getting an access token: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return deliver.Result{}, deliver.Permanent(name, err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "overture-deliver")
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return deliver.Result{}, deliver.Transient(name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode/100 == 2 {
		var ok struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(b, &ok)
		return deliver.Result{ProviderID: ok.Name, Status: "accepted"}, nil
	}
	var a errorAnswer
	_ = json.Unmarshal(b, &a) // a proxy's error page need not be JSON
	code := a.Error.Status
	for _, d := range a.Error.Details {
		if strings.HasSuffix(d.Type, "google.firebase.fcm.v1.FcmError") && d.ErrorCode != "" {
			code = d.ErrorCode
		}
	}
	reason := a.Error.Message
	if reason == "" {
		reason = strings.TrimSpace(string(b[:min(len(b), 512)]))
	}
	now := c.cfg.Now()
	e := deliver.HTTPError(name, resp, now, code, reason)
	switch {
	case slices.Contains(retryable, code):
		e.Retryable = true
		e.RetryAfter = deliver.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	case slices.Contains(permanent, code):
		e.Retryable, e.RetryAfter = false, 0
	}
	return deliver.Result{}, e
}
