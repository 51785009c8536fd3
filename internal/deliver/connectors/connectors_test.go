package connectors_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/connectors"
	"github.com/overture-cjo/overture/internal/deliver/fcm"
	"github.com/overture-cjo/overture/internal/deliver/logsend"
	"github.com/overture-cjo/overture/internal/deliver/smtp"
	"github.com/overture-cjo/overture/internal/deliver/twilio"
	"github.com/overture-cjo/overture/internal/deliver/webhook"
)

var env = deliver.Env(func(k string) (string, bool) {
	v, ok := map[string]string{
		"SMTP_PASSWORD":     "hunter2",
		"TWILIO_AUTH_TOKEN": "tok",
		"FCM_ACCESS_TOKEN":  "ya29.x",
		"WEBHOOK_SECRET":    "whsec_aGVsbG8=",
	}[k]
	return v, ok
})

func TestOpenAll(t *testing.T) {
	data, err := os.ReadFile("testdata/all.yml")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	conns, err := connectors.Load(data, connectors.Options{Env: env, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		typ      any
		channels []string
	}{
		"mail":   {(*smtp.Connector)(nil), []string{"email"}},
		"twilio": {(*twilio.Connector)(nil), []string{"sms", "mms", "voice", "whatsapp"}},
		"push":   {(*fcm.Connector)(nil), []string{"push"}},
		"chat":   {(*webhook.Connector)(nil), []string{"webhook", "whatsapp"}},
		"dry":    {(*logsend.Connector)(nil), []string{"email"}},
	}
	if len(conns) != len(want) {
		t.Errorf("opened %d connectors, want %d", len(conns), len(want))
	}
	for name, w := range want {
		c := conns[name]
		if c == nil {
			t.Errorf("%s not opened", name)
			continue
		}
		if reflect.TypeOf(c) != reflect.TypeOf(w.typ) || c.Name() != name || !reflect.DeepEqual(c.Channels(), w.channels) {
			t.Errorf("%s: %T %q %v, want %T %v", name, c, c.Name(), c.Channels(), w.typ, w.channels)
		}
	}
	if _, err := conns["dry"].Send(context.Background(), &deliver.Message{Key: "k", Channel: "email", To: "a@example.org"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "deliver (dry run)") {
		t.Errorf("the log connector did not log to the given logger: %q", logs.String())
	}
}

// Each testdata/*.bad.yml starts with "# error: " and the error it must
// produce.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# error: ")
			if !ok {
				t.Fatalf("first line %q is not '# error: ...'", first)
			}
			conns, err := connectors.Load(data, connectors.Options{Env: env})
			if err == nil {
				t.Fatalf("opened %d connectors, want error %q", len(conns), want)
			}
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n got %s\nwant %s", err, want)
			}
		})
	}
}

// TestExample keeps examples/delivery/connectors.yaml valid: every
// connector opens (with its secrets in the environment) and the dispatch
// settings are read.
func TestExample(t *testing.T) {
	data, err := os.ReadFile("../../../examples/delivery/connectors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := deliver.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	example := deliver.Env(func(k string) (string, bool) {
		v, ok := map[string]string{"SMTP_PASSWORD": "pw", "TWILIO_AUTH_TOKEN": "tok", "FCM_ACCESS_TOKEN": "ya29.x", "CRM_WEBHOOK_SECRET": "whsec_aGVsbG8="}[k]
		return v, ok
	})
	conns, err := connectors.Open(cfg, connectors.Options{Env: example})
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 4 {
		t.Errorf("opened %d connectors, want 4", len(conns))
	}
	tw := cfg.Connectors[1].WithDefaults()
	if tw.Concurrency != 16 || tw.Rate != 30 || tw.Burst != 30 || tw.MaxAttempts != 10 || tw.Breaker.Failures != 5 || tw.Breaker.Cooldown != time.Minute {
		t.Errorf("twilio's dispatch settings: %+v", tw)
	}
	if crm := cfg.Connectors[3].WithDefaults(); crm.Concurrency != 64 || crm.MaxAttempts != deliver.DefaultMaxAttempts || crm.Breaker.Cooldown != deliver.DefaultBreakerCooldown {
		t.Errorf("crm's dispatch settings: %+v", crm)
	}
}
