package logsend_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/delivertest"
	"github.com/overture-cjo/overture/internal/deliver/logsend"
)

func TestLogsMessage(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	c, err := logsend.Open(&deliver.ConnectorConfig{Name: "dry", Type: "log", Channels: []string{"sms", "email"},
		Settings: map[string]any{"level": "warn"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	delivertest.Check(t, c, &deliver.Message{Key: "i1:3:1", Channel: "sms", To: "+15550001111", Body: "hello",
		Meta: map[string]string{"profile": "p1"}})

	line, _, _ := strings.Cut(buf.String(), "\n")
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	want := map[string]any{"level": "WARN", "msg": "deliver (dry run)", "connector": "dry", "key": "i1:3:1",
		"channel": "sms", "to": "+15550001111", "body": "hello", "meta": map[string]any{"profile": "p1"}}
	for k, v := range want {
		got, _ := json.Marshal(rec[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("%s = %s, want %s", k, got, exp)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		cc   deliver.ConnectorConfig
		want string
	}{
		{deliver.ConnectorConfig{Name: "dry", Type: "log", Settings: map[string]any{"level": "loud"}}, `connector "dry": level:`},
		{deliver.ConnectorConfig{Name: "dry", Type: "log", Settings: map[string]any{"levle": "info"}}, `unknown setting "levle"`},
	} {
		_, err := logsend.Open(&tc.cc, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %v, want an error containing %q", tc.cc.Settings, err, tc.want)
		}
	}
}
