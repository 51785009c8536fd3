package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/overture-cjo/overture/internal/journey"
)

// TestApplyCommand applies the shipped examples to a running server twice
// (created, then unchanged), changes one file (a new version), and checks
// the server lists them; then the token from a data directory, a refused
// token and an invalid directory (both exit 1, nothing applied).
func TestApplyCommand(t *testing.T) {
	s := startServer(t, t.TempDir(), freeAddr(t))
	apply := func(wantCode int, env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(binPath, append([]string{"apply"}, args...)...)
		cmd.Env = append(envWithout("OVERTURE_ADMIN_TOKEN", "OVERTURE_SERVER", "OVERTURE_DATA"), env...)
		out, err := cmd.CombinedOutput()
		code := 0
		var xe *exec.ExitError
		if errors.As(err, &xe) {
			code = xe.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("apply %v: exit %d, want %d\n%s", args, code, wantCode, out)
		}
		return string(out)
	}
	withToken := []string{"OVERTURE_SERVER=" + s.url, "OVERTURE_ADMIN_TOKEN=" + e2eAdmin}

	// Offers and interaction policies, traits, then audiences, then
	// journeys: follow-up comes before cart-abandonment, which enters it.
	lines := func(word string) string {
		var b strings.Builder
		for _, o := range []string{"card-upgrade", "data-addon", "free-shipping", "renewal-discount", "roaming-pass", "savings-boost"} {
			fmt.Fprintf(&b, "%s offer %s version 1\n", word, o)
		}
		for _, tp := range []string{"cart-follow-up", "cart-reminder", "cart-sms", "complaint-received", "dispute-credited", "dispute-received",
			"dispute-rejected", "dispute-still-open", "order-delivered", "transfer-cancelled", "transfer-delayed"} {
			fmt.Fprintf(&b, "%s template %s version 1\n", word, tp)
		}
		fmt.Fprintf(&b, "%s interaction policy contact-centre version 1\n", word)
		for _, tr := range []string{"orders_30d", "spend_7d", "data_overage_count_90d", "last_balance", "credit_limit", "balance_to_limit_ratio", "skus_viewed_30d", "last_seen_app"} {
			fmt.Fprintf(&b, "%s trait %s version 1\n", word, tr)
		}
		fmt.Fprintf(&b, "%[1]s audience cart-reminded version 1\n%[1]s audience contract-ending version 1\n", word)
		fmt.Fprintf(&b, "%[1]s bill-dispute version 1\n%[1]s follow-up version 1\n%[1]s cart-abandonment version 1\n", word)
		fmt.Fprintf(&b, "%[1]s complaint-handling version 1\n%[1]s money-transfer version 1\n", word)
		return b.String()
	}
	out := apply(0, withToken, "../../examples/journeys")
	if want := lines("created"); out != want {
		t.Fatalf("first apply printed:\n%s\nwant:\n%s", out, want)
	}
	out = apply(0, withToken, "../../examples/journeys")
	if want := lines("unchanged"); out != want {
		t.Fatalf("second apply printed:\n%s\nwant:\n%s", out, want)
	}
	var traits struct {
		Traits []struct{ Name string }
	}
	if st := s.admin(t, "/v1/traits", &traits); st != 200 || len(traits.Traits) != 8 {
		t.Fatalf("GET /v1/traits: %d %+v", st, traits)
	}

	var list struct {
		Journeys []struct {
			ID      string `json:"id"`
			State   string `json:"state"`
			Version int    `json:"version"`
			Trigger string `json:"trigger"`
		} `json:"journeys"`
	}
	if st := s.admin(t, "/v1/journeys", &list); st != 200 || len(list.Journeys) != 5 {
		t.Fatalf("GET /v1/journeys: %d %+v", st, list)
	}
	for i, id := range []string{"bill-dispute", "cart-abandonment", "complaint-handling", "follow-up", "money-transfer"} {
		if j := list.Journeys[i]; j.ID != id || j.State != "active" || j.Version != 1 || j.Trigger == "" {
			t.Errorf("journeys[%d] = %+v, want %s active version 1", i, j, id)
		}
	}

	// One changed file makes one new version; flags may follow DIR; the
	// token comes from the data directory.
	dir := t.TempDir()
	for _, f := range []string{"bill-dispute.json", "cart-abandonment.yaml", "follow-up.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../examples/journeys", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "follow-up.yaml" {
			b = append(b, "# edited\n"...)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "admin-token"), []byte(e2eAdmin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = apply(0, nil, dir, "--server", s.url, "--data", data)
	if !strings.Contains(out, "created follow-up version 2\n") || !strings.Contains(out, "unchanged cart-abandonment version 1\n") {
		t.Fatalf("apply of an edited file printed:\n%s", out)
	}

	// A refused token: the server's message, exit 1.
	out = apply(1, nil, "--server", s.url, "--token", "adm_wrong", dir)
	if !strings.Contains(out, "401") || !strings.Contains(out, "Authorization: Bearer") {
		t.Fatalf("wrong token printed:\n%s", out)
	}
	// An invalid directory: every problem as validate prints it, exit 1,
	// nothing sent.
	out = apply(1, withToken, "../../internal/journey/testdata/bad")
	if !strings.Contains(out, `bad-duration.yaml:7:33: steps.hello.duration: "3 days" is not a duration`) || strings.Contains(out, "created") {
		t.Fatalf("invalid directory printed:\n%s", out)
	}
	if st := s.admin(t, "/v1/journeys?archived=true", &list); st != 200 || len(list.Journeys) != 5 {
		t.Fatalf("after the failed applies: %d %+v", st, list)
	}
	// No token anywhere.
	if out = apply(2, []string{"OVERTURE_SERVER=" + s.url, "OVERTURE_DATA=" + t.TempDir()}, dir); !strings.Contains(out, "no admin token") {
		t.Fatalf("without a token printed:\n%s", out)
	}
}

// envWithout returns the environment without the named variables.
func envWithout(names ...string) []string {
	var env []string
outer:
	for _, kv := range os.Environ() {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return env
}

// TestApplyOrder checks that entered journeys are applied first.
func TestApplyOrder(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.yaml": "id: a\nname: A\ncategory: x\nentry: {trigger: {event: E}}\nstart: go\nsteps:\n  go: {type: enter_journey, journey: b, next: end}\n  end: {type: exit}\n",
		"b.yaml": "id: b\nname: B\ncategory: x\nentry: {trigger: {event: F}}\nstart: go\nsteps:\n  go: {type: enter_journey, journey: c, next: end}\n  end: {type: exit}\n",
		"c.yaml": "id: c\nname: C\ncategory: x\nentry: {trigger: {event: G}}\nstart: go\nsteps:\n  go: {type: enter_journey, journey: a, next: end}\n  end: {type: exit}\n",
		"d.yaml": "id: d\nname: D\ncategory: x\nentry: {trigger: {event: H}}\nstart: go\nsteps:\n  go: {type: enter_journey, journey: b, next: end}\n  end: {type: exit}\n",
	}
	for f, src := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	defs, err := journey.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range applyOrder(defs) {
		ids = append(ids, d.ID)
	}
	// a enters b enters c enters a (a cycle, cut at a); d enters b.
	if got := strings.Join(ids, " "); got != "c b a d" {
		t.Fatalf("order %s, want c b a d", got)
	}
}
