package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/storetest"
)

// The end-to-end tests run the real binary, built once per test run.

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "overture-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "overture")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building overture: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	e2eKey   = "wk_e2e"
	e2eAdmin = "adm_e2e"
)

// server is a running overture process.
type server struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (b lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// startServer starts the binary on dataDir and waits until it answers.
func startServer(t *testing.T, dataDir, addr string, extraEnv ...string) *server {
	t.Helper()
	s := &server{url: "http://" + addr, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	s.cmd = exec.Command(binPath, "serve")
	s.cmd.Env = append(os.Environ(), "OVERTURE_DATA="+dataDir, "OVERTURE_ADDR="+addr,
		"OVERTURE_WRITE_KEYS="+e2eKey, "OVERTURE_ADMIN_TOKEN="+e2eAdmin)
	s.cmd.Env = append(s.cmd.Env, extraEnv...)
	s.cmd.Stdout = lockedBuffer{s.mu, s.logs}
	s.cmd.Stderr = lockedBuffer{s.mu, s.logs}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			t.Fatalf("server did not start: %v\n%s", err, s.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(s.kill)
	return s
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}

// admin GETs an admin path and decodes the JSON answer into v.
func (s *server) admin(t *testing.T, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// waitIdle waits until the server has applied every acknowledged event.
func (s *server) waitIdle(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var st struct {
			Idle   bool `json:"idle"`
			Engine struct {
				CaughtUp bool
			} `json:"engine"`
		}
		s.admin(t, "/v1/stats", &st)
		if st.Idle && st.Engine.CaughtUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become idle: %+v\n%s", st, s.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// timeline returns every event of the profile userId resolves to.
func (s *server) timeline(t *testing.T, userID string) (profile map[string]any, events []map[string]any) {
	t.Helper()
	if st := s.admin(t, "/v1/profiles?userId="+userID, &profile); st != 200 {
		t.Fatalf("profile of %s: %d %v", userID, st, profile)
	}
	cursor := ""
	for {
		var page struct {
			Events     []map[string]any `json:"events"`
			NextCursor string           `json:"nextCursor"`
		}
		s.admin(t, fmt.Sprintf("/v1/profiles/%s/events?limit=500&cursor=%s", profile["id"], cursor), &page)
		events = append(events, page.Events...)
		if page.NextCursor == "" {
			return profile, events
		}
		cursor = page.NextCursor
	}
}

// postgresSchema returns a store URL on a fresh schema of the test
// PostgreSQL server, dropped when the test ends.
func postgresSchema(t *testing.T) string { return storetest.PostgresURL(t) }

// postJSON posts body with the test write key and returns the status.
func postJSON(ctx context.Context, url, body string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	req.SetBasicAuth(e2eKey, "")
	return httpDo(req)
}

// httpDo sends req and returns the status code.
func httpDo(req *http.Request) (int, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
