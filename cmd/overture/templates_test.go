package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTemplatePreview applies message templates through the binary: a
// typo'd variable is refused with the field named, a good template is
// stored, and POST /v1/templates/{id}/preview renders it for a customer.
func TestTemplatePreview(t *testing.T) {
	s := startServer(t, t.TempDir(), freeAddr(t))
	bad := "id: welcome\nemail:\n  subject: Hi\n  text: \"Hello {{ profile.traits.nme }}\"\n"
	if st := adminDo(t, s, "PUT", "/v1/templates/welcome", "application/yaml", bad); st != 400 {
		t.Fatalf("PUT a template with a typo: %d, want 400", st)
	}
	good := `id: welcome
email:
  subject: "Welcome, {{ profile.traits.name }}"
  text: "Your plan: {{ profile.traits.plan | upcase }}. {% if offer %}Try {{ offer.name }}.{% endif %} Cart {{ journey.cart_id }}."
sms:
  body: "Hi {{ profile.traits.name }} \u2764"
sample:
  journey: {cart_id: c-1}
`
	if st := adminDo(t, s, "PUT", "/v1/templates/welcome", "application/yaml", good); st != 201 {
		t.Fatalf("PUT a good template: %d", st)
	}
	ident := `{"batch":[{"type":"identify","userId":"ann","traits":{"name":"Ann","plan":"pro"}}]}`
	if st, err := postJSON(context.Background(), s.url+"/v1/batch", ident); err != nil || st != 200 {
		t.Fatalf("identify: %d %v", st, err)
	}
	s.waitIdle(t, 20*time.Second)
	preview := func(body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", s.url+"/v1/templates/welcome/preview", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e2eAdmin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(buf.Bytes(), &out)
		return resp.StatusCode, out
	}
	st, out := preview(`{"customer":"user_id:ann","channel":"email","journey":{"cart_id":"c-9"}}`)
	if st != 200 || out["subject"] != "Welcome, Ann" || out["text"] != "Your plan: PRO.  Cart c-9." {
		t.Errorf("email preview: %d %v", st, out)
	}
	st, out = preview(`{"customer":"user_id:ann","channel":"sms"}`)
	if st != 200 || out["body"] != "Hi Ann \u2764" || out["encoding"] != "UCS-2" || out["segments"] != 1.0 {
		t.Errorf("sms preview: %d %v", st, out)
	}
	for _, c := range []struct {
		body, field string
		status      int
	}{
		{`{"customer":"user_id:ann","channel":"push"}`, "channel", 400},
		{`{"channel":"email"}`, "customer", 400},
		{`{"customer":"user_id:ann","channel":"email","offer":"nope"}`, "offer", 400},
		{`{"customer":"user_id:nobody","channel":"email"}`, "id", 404},
	} {
		st, out := preview(c.body)
		if e, _ := out["error"].(map[string]any); st != c.status || e["field"] != c.field {
			t.Errorf("%s: %d %v, want %d naming %s", c.body, st, out, c.status, c.field)
		}
	}
	var list struct {
		Templates []struct {
			ID       string   `json:"id"`
			Channels []string `json:"channels"`
		} `json:"templates"`
	}
	if st := s.admin(t, "/v1/templates", &list); st != 200 || len(list.Templates) != 1 || len(list.Templates[0].Channels) != 2 {
		t.Errorf("GET /v1/templates: %d %+v", st, list)
	}
}
