package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/machine"
)

func TestCall(t *testing.T) {
	var gotBody, gotKey, gotType string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody, gotKey, gotType = string(b), r.Header.Get("Idempotency-Key"), r.Header.Get("Content-Type")
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"status":"open"}`))
		case "/fail":
			w.WriteHeader(503)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	c := &Caller{}
	h := machine.Webhook{InstanceID: "j:p:1", Seq: 4, Method: "POST", Body: []byte(`{"cart":"c1"}`), Timeout: 2 * time.Second}

	h.URL = srv.URL + "/ok"
	rep := c.Call(context.Background(), h)
	if rep.Status != 200 || string(rep.Body) != `{"status":"open"}` || rep.Err != "" {
		t.Errorf("ok: %+v", rep)
	}
	if gotBody != `{"cart":"c1"}` || gotKey != "j:p:1:4" || gotType != "application/json" {
		t.Errorf("request: body %q key %q type %q", gotBody, gotKey, gotType)
	}

	h.URL = srv.URL + "/fail"
	if rep := c.Call(context.Background(), h); rep.Status != 503 || rep.Err != "" {
		t.Errorf("fail: %+v", rep)
	}

	h.URL, h.Timeout = srv.URL+"/slow", 50*time.Millisecond
	if rep := c.Call(context.Background(), h); rep.Status != 0 || !strings.Contains(rep.Err, "timeout after 50ms") {
		t.Errorf("slow: %+v", rep)
	}

	h.URL, h.Timeout = "http://127.0.0.1:1/none", time.Second
	if rep := c.Call(context.Background(), h); rep.Status != 0 || rep.Err == "" {
		t.Errorf("refused: %+v", rep)
	}
}
