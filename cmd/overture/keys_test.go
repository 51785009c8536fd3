package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestKeysCommand manages keys with the CLI beside a running server on the
// same data directory, and the server honours them.
func TestKeysCommand(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data, freeAddr(t))
	keys := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binPath, append([]string{"keys"}, args...)...)
		cmd.Env = append(os.Environ(), "OVERTURE_DATA="+data)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keys %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	var created struct {
		Key      string `json:"key"`
		WriteKey struct {
			ID string `json:"id"`
		} `json:"writeKey"`
	}
	if err := json.Unmarshal([]byte(keys("create", "--name", "billing", "--json")), &created); err != nil || !strings.HasPrefix(created.Key, "wk_") {
		t.Fatalf("create: %v %+v", err, created)
	}
	if out := keys("list"); !strings.Contains(out, created.WriteKey.ID) || !strings.Contains(out, "billing") || strings.Contains(out, created.Key) {
		t.Fatalf("list shows:\n%s", out)
	}
	post := func() int {
		req, _ := http.NewRequest("POST", s.url+"/v1/track", strings.NewReader(`{"userId":"cli","event":"e"}`))
		req.SetBasicAuth(created.Key, "")
		resp, err := httpDo(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if st := post(); st != 200 {
		t.Fatalf("new key refused: %d", st)
	}
	keys("revoke", created.WriteKey.ID)
	deadline := time.Now().Add(10 * time.Second)
	for post() == 200 {
		if time.Now().After(deadline) {
			t.Fatal("revoked key still accepted after 10 s")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if out := keys("list"); !strings.Contains(out, created.WriteKey.ID) || strings.Contains(out, "  -\n") {
		t.Fatalf("list after revoke:\n%s", out)
	}
}
