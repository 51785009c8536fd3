package fcm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/deliver/delivertest"
	"github.com/overture-cjo/overture/internal/deliver/fcm"
)

const (
	project = "demo-project"
	bearer  = "ya29.test-access-token"
)

// fakeFCM behaves like FCM's v1 send endpoint as far as the connector can
// tell: bearer auth, a strict JSON body, FcmError details, and the error
// codes FCM documents. Answers queued in fail come first.
type fakeFCM struct {
	mu   sync.Mutex
	sent []fcm.Request
	fail []string // "QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"
}

func newFake(t *testing.T) (*fakeFCM, *httptest.Server) {
	t.Helper()
	f := &fakeFCM{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func fcmError(w http.ResponseWriter, status int, rpcStatus, errorCode, msg string) {
	e := map[string]any{"code": status, "message": msg, "status": rpcStatus}
	if errorCode != "" {
		e["details"] = []any{map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": errorCode}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func (f *fakeFCM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/"+project+"/messages:send" {
		fcmError(w, http.StatusNotFound, "NOT_FOUND", "", "no such method "+r.URL.Path)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+bearer {
		fcmError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "", "Request had invalid authentication credentials.")
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req fcm.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || r.Header.Get("Content-Type") != "application/json" {
		fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. %v", err))
		return
	}
	if len(f.fail) > 0 {
		next := f.fail[0]
		f.fail = f.fail[1:]
		switch next {
		case "QUOTA_EXCEEDED":
			w.Header().Set("Retry-After", "30")
			fcmError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded.")
		case "UNAVAILABLE":
			fcmError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
		case "INTERNAL":
			fcmError(w, http.StatusInternalServerError, "INTERNAL", "INTERNAL", "Internal error encountered.")
		}
		return
	}
	switch tok := req.Message.Token; {
	case tok == "stale-token":
		fcmError(w, http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
		return
	case !strings.HasPrefix(tok, "dev-"):
		fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
		return
	}
	f.sent = append(f.sent, req)
	_ = json.NewEncoder(w).Encode(map[string]string{"name": fmt.Sprintf("projects/%s/messages/0:%d", project, len(f.sent))})
}

func newConnector(t *testing.T, base string, token string) *fcm.Connector {
	t.Helper()
	c, err := fcm.New(fcm.Config{Name: "push", BaseURL: base, ProjectID: project, Token: fcm.StaticToken(token)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func push(key, to string) *deliver.Message {
	return &deliver.Message{Key: key, Channel: "push", To: to, Title: "Your cart", Body: "Still thinking it over?",
		DeepLink: "shop://cart"}
}

func TestPush(t *testing.T) {
	f, srv := newFake(t)
	c := newConnector(t, srv.URL, bearer)
	delivertest.Check(t, c, push("i1:1:1", "dev-abc"))

	res, err := c.Send(context.Background(), push("i1:2:1", "dev-xyz"))
	if err != nil {
		t.Fatal(err)
	}
	if res.ProviderID != "projects/demo-project/messages/0:2" || res.Status != "accepted" {
		t.Errorf("result %+v", res)
	}
	got, _ := json.Marshal(f.sent[1])
	want := `{"message":{"token":"dev-xyz","notification":{"title":"Your cart","body":"Still thinking it over?"},` +
		`"data":{"deep_link":"shop://cart","overture_key":"i1:2:1"}}}`
	if string(got) != want {
		t.Errorf("request\n got %s\nwant %s", got, want)
	}
}

func TestErrors(t *testing.T) {
	f, srv := newFake(t)
	c := newConnector(t, srv.URL, bearer)
	ctx := context.Background()
	for _, tc := range []struct {
		fail, to   string
		status     int
		code       string
		retry      bool
		retryAfter time.Duration
	}{
		{"QUOTA_EXCEEDED", "dev-a", 429, "QUOTA_EXCEEDED", true, 30 * time.Second},
		{"UNAVAILABLE", "dev-a", 503, "UNAVAILABLE", true, 0},
		{"INTERNAL", "dev-a", 500, "INTERNAL", true, 0},
		{"", "stale-token", 404, "UNREGISTERED", false, 0},
		{"", "garbage", 400, "INVALID_ARGUMENT", false, 0},
	} {
		if tc.fail != "" {
			f.mu.Lock()
			f.fail = append(f.fail, tc.fail)
			f.mu.Unlock()
		}
		_, err := c.Send(ctx, push("k", tc.to))
		var de *deliver.Error
		if !errors.As(err, &de) || de.Status != tc.status || de.Code != tc.code || de.Retryable != tc.retry || de.RetryAfter != tc.retryAfter {
			t.Errorf("%s/%s: %#v, want %d %s retryable %v after %s", tc.fail, tc.to, err, tc.status, tc.code, tc.retry, tc.retryAfter)
		}
	}

	_, err := newConnector(t, srv.URL, "expired").Send(ctx, push("k", "dev-a"))
	var de *deliver.Error
	if !errors.As(err, &de) || de.Status != 401 || de.Code != "UNAUTHENTICATED" || de.Retryable {
		t.Errorf("bad token: %v, want non-retryable 401 UNAUTHENTICATED", err)
	}

	for _, bad := range []*deliver.Message{
		{Key: "k", Channel: "push", Title: "x"},  // no device token
		{Key: "k", Channel: "push", To: "dev-a"}, // nothing to show
	} {
		_, err := c.Send(ctx, bad)
		if retry, _ := deliver.Classify(err); err == nil || retry {
			t.Errorf("Send(%+v) = %v, want a non-retryable error", bad, err)
		}
	}
	if len(f.sent) != 0 {
		t.Errorf("%d sent, want 0", len(f.sent))
	}
}

func TestOpen(t *testing.T) {
	f, srv := newFake(t)
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"FCM_ACCESS_TOKEN": bearer}[k]
		return v, ok
	}
	settings := map[string]any{"project_id": project, "credentials_env": "FCM_ACCESS_TOKEN", "base_url": srv.URL}
	c, err := fcm.Open(&deliver.ConnectorConfig{Name: "push", Type: "fcm", Settings: settings}, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), push("o1", "dev-a")); err != nil || len(f.sent) != 1 {
		t.Fatalf("send: %v", err)
	}
	for _, tc := range []struct {
		cc   deliver.ConnectorConfig
		want string
	}{
		{deliver.ConnectorConfig{Settings: map[string]any{"project_id": project}}, `connector "push": credentials_env is required`},
		{deliver.ConnectorConfig{Settings: map[string]any{"project_id": project, "credentials_env": "GONE"}}, `connector "push": credentials_env: environment variable GONE is not set`},
		{deliver.ConnectorConfig{Settings: map[string]any{"credentials_env": "FCM_ACCESS_TOKEN"}}, `connector "push": project_id is required`},
		{deliver.ConnectorConfig{Channels: []string{"sms"}, Settings: settings}, `connector "push": channels: type fcm cannot carry "sms"`},
	} {
		tc.cc.Name, tc.cc.Type = "push", "fcm"
		_, err := fcm.Open(&tc.cc, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open = %v, want %q", err, tc.want)
		}
	}
}
