package deliver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
)

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  *deliver.Error
		want string
	}{
		{&deliver.Error{Connector: "twilio", Status: 400, Code: "21211", Reason: "The 'To' number is not valid."},
			"twilio: 400 21211: The 'To' number is not valid."},
		{&deliver.Error{Connector: "hooks", Retryable: true, RetryAfter: 3 * time.Second, Status: 429, Reason: "slow down"},
			"hooks: 429: slow down (retry after 3s)"},
		{deliver.Transient("mail", errors.New("connection reset")), "mail: connection reset"},
		{&deliver.Error{Connector: "mail", Reason: "connect", Err: errors.New("refused")}, "mail: connect: refused"},
		{deliver.Permanent("push", "no device token"), "push: no device token"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err   error
		retry bool
		after time.Duration
	}{
		{nil, false, 0},
		{deliver.Permanent("x", "bad"), false, 0},
		{&deliver.Error{Retryable: true, RetryAfter: time.Minute}, true, time.Minute},
		{fmt.Errorf("wrapped: %w", deliver.Permanent("x", "bad")), false, 0},
		{errors.New("unexpected"), true, 0},
		{deliver.Transient("x", context.Canceled), true, 0},
	} {
		retry, after := deliver.Classify(tc.err)
		if retry != tc.retry || after != tc.after {
			t.Errorf("Classify(%v) = %v %s, want %v %s", tc.err, retry, after, tc.retry, tc.after)
		}
	}
	if !errors.Is(deliver.Transient("x", context.Canceled), context.Canceled) {
		t.Error("Transient does not unwrap")
	}
}

func TestRetryableStatus(t *testing.T) {
	for status, want := range map[int]bool{200: false, 302: false, 400: false, 401: false, 404: false, 408: true,
		425: true, 429: true, 500: true, 501: false, 502: true, 503: true, 504: true, 505: false} {
		if got := deliver.RetryableStatus(status); got != want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		" 2 ":                           2 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:05:05 GMT": time.Minute,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	} {
		if got := deliver.ParseRetryAfter(v, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestHTTPError(t *testing.T) {
	now := time.Now()
	resp := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"5"}}}
	e := deliver.HTTPError("x", resp, now, "", "")
	if !e.Retryable || e.RetryAfter != 5*time.Second || e.Reason != "Service Unavailable" {
		t.Errorf("%+v", e)
	}
	resp = &http.Response{StatusCode: 400, Header: http.Header{"Retry-After": {"5"}}}
	if e := deliver.HTTPError("x", resp, now, "c", "r"); e.Retryable || e.RetryAfter != 0 || e.Code != "c" {
		t.Errorf("%+v", e)
	}
}

func TestCheckChannel(t *testing.T) {
	if err := deliver.CheckChannel("x", []string{"sms"}, &deliver.Message{Channel: "sms"}); err != nil {
		t.Error(err)
	}
	for _, m := range []*deliver.Message{nil, {Channel: "email"}} {
		err := deliver.CheckChannel("x", []string{"sms"}, m)
		if retry, _ := deliver.Classify(err); err == nil || retry {
			t.Errorf("CheckChannel(%v) = %v, want a non-retryable error", m, err)
		}
	}
}

func TestCheckKey(t *testing.T) {
	if err := deliver.CheckKey("x", &deliver.Message{Key: "inst:3:1"}); err != nil {
		t.Error(err)
	}
	for _, key := range []string{"", "a\nb", "a\x7f"} {
		err := deliver.CheckKey("x", &deliver.Message{Key: key})
		if retry, _ := deliver.Classify(err); err == nil || retry {
			t.Errorf("CheckKey(%q) = %v, want a non-retryable error", key, err)
		}
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := deliver.ParseConfig([]byte(`
connectors:
  - name: mail
    type: smtp
    channels: [email]
    host: smtp.example.com
    port: 587
    password_env: SMTP_PASSWORD
`))
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.Connectors[0]
	if cc.Name != "mail" || cc.Type != "smtp" || len(cc.Channels) != 1 || cc.Settings["host"] != "smtp.example.com" {
		t.Fatalf("%+v", cc)
	}
	var s struct {
		Host        string `yaml:"host"`
		Port        int    `yaml:"port"`
		PasswordEnv string `yaml:"password_env"`
		Unused      string `yaml:"unused"`
	}
	if err := cc.Decode(&s); err != nil || s.Host != "smtp.example.com" || s.Port != 587 || s.PasswordEnv != "SMTP_PASSWORD" {
		t.Fatalf("Decode: %+v %v", s, err)
	}
	env := deliver.Env(func(k string) (string, bool) { return "hunter2", k == "SMTP_PASSWORD" })
	if v, err := cc.Secret(env, "password_env", s.PasswordEnv); err != nil || v != "hunter2" {
		t.Errorf("Secret = %q %v", v, err)
	}
	if _, err := cc.Secret(env, "password_env", "OTHER"); err == nil || !strings.Contains(err.Error(), "OTHER is not set") {
		t.Errorf("Secret(OTHER) = %v", err)
	}

	empty, err := deliver.ParseConfig(nil)
	if err != nil || len(empty.Connectors) != 0 {
		t.Errorf("empty config: %+v %v", empty, err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("connectors:\n  - name: a\n    type: log\n"))
	f.Add([]byte("connectors:\n  - name: a\n    type: smtp\n    channels: [email, sms]\n    port: x\n"))
	f.Add([]byte("connectors: [{name: '', type: 1}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := deliver.ParseConfig(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config Validate rejects: %v", err)
		}
		for i := range cfg.Connectors {
			var s struct {
				Host string `yaml:"host"`
			}
			_ = cfg.Connectors[i].Decode(&s) // must not panic
		}
	})
}
