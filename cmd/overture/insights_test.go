package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/api"
)

// refinanceJourney is the mortgage-refinance journey of the planted-driver
// test: entered when a refinance starts, with a goal a month out.
const refinanceJourney = `
id: mortgage-refinance
name: Mortgage refinance
category: service
entry: {trigger: {event: refinance_started}}
goal: {event: refinance_completed, within: 30d}
start: wait
steps:
  wait: {type: wait, duration: 7d, next: done}
  done: {type: exit, reason: finished}
`

// The planted driver: customers on iOS who upload a document call the
// contact centre with probability plantedCall, everyone else with
// baseCall, so the true relative risk of the conjunction (iOS and an
// upload, against everyone else) is plantedCall/baseCall.
const (
	plantedCall = 0.35
	baseCall    = 0.06
	// plantedTolerance bounds |ln(estimated RR / true RR)|: ±25%, about
	// three standard errors of the estimate at this population's size.
	plantedTolerance = 0.25
	refinanceUsers   = 4000
)

// refinanceCustomer is what the generator drew for one customer.
type refinanceCustomer struct {
	os, app        string // app "" on the web
	upload, called bool
	completed      bool
}

// refinancePopulation draws the customers (a fixed seed): iOS 40%,
// Android 35%, web 25%; app 3.1 or 3.2 on the phones; half upload a
// document; calls as planted; a fifth complete.
func refinancePopulation() []refinanceCustomer {
	r := rand.New(rand.NewPCG(8, 2026))
	out := make([]refinanceCustomer, refinanceUsers)
	for i := range out {
		c := &out[i]
		switch x := r.Float64(); {
		case x < 0.40:
			c.os = "iOS"
		case x < 0.75:
			c.os = "Android"
		default:
			c.os = "web"
		}
		if c.os != "web" {
			c.app = []string{"3.1", "3.2"}[r.IntN(2)]
		}
		c.upload = r.Float64() < 0.5
		p := baseCall
		if c.os == "iOS" && c.upload {
			p = plantedCall
		}
		c.called = r.Float64() < p
		c.completed = r.Float64() < 0.2
	}
	return out
}

// TestPlantedDriver is the mortgage-refinance case through the binary:
// customers on iOS who upload documents call the contact centre far more
// often (35% against 6%). The drivers of contact_center_call must put
// that conjunction (context.os.name=iOS & event.document_upload=true)
// first, with its relative risk within ±25% of the true 5.83 and its 95%
// interval covering it; the paths to the call must count the
// upload → call path exactly; overture report prints both tables.
func TestPlantedDriver(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { plantedDriver(t, true) })
	t.Run("postgres", func(t *testing.T) { plantedDriver(t, false, "OVERTURE_STORE="+postgresSchema(t)) })
}

func plantedDriver(t *testing.T, withReport bool, env ...string) {
	began := time.Now()
	s := startServer(t, t.TempDir(), freeAddr(t), env...)
	putJourney(t, s, "mortgage-refinance", refinanceJourney)
	customers := refinancePopulation()

	ctxOf := func(c refinanceCustomer) string {
		if c.app == "" {
			return fmt.Sprintf(`{"os":{"name":%q},"library":{"name":"analytics.js"},"ip":"192.0.2.1"}`, c.os)
		}
		return fmt.Sprintf(`{"os":{"name":%q},"app":{"version":%q},"device":{"id":"d-%s"}}`, c.os, c.app, c.app)
	}
	// Each phase is applied before the next is sent, so every customer's
	// events are in this order on the timeline.
	phases := make([][]string, 6)
	for u, c := range customers {
		id := fmt.Sprintf("mr%d", u)
		plan := []string{"fixed", "variable"}[u%2]
		phases[0] = append(phases[0], fmt.Sprintf(`{"type":"identify","userId":%q,"messageId":"id-%d","traits":{"rate_type":%q,"email":"%s@example.com"}}`, id, u, plan, id))
		phases[1] = append(phases[1], fmt.Sprintf(`{"type":"track","userId":%q,"messageId":"start-%d","event":"refinance_started","properties":{"amount":%d},"context":%s}`,
			id, u, 100000+1000*(u%200), ctxOf(c)))
		phases[2] = append(phases[2], fmt.Sprintf(`{"type":"track","userId":%q,"messageId":"pv-%d","event":"page_viewed","properties":{"path":"/refinance/documents"},"context":%s}`, id, u, ctxOf(c)))
		if c.upload {
			phases[3] = append(phases[3], fmt.Sprintf(`{"type":"track","userId":%q,"messageId":"up-%d","event":"document_upload","properties":{"document_type":"payslip"},"context":%s}`, id, u, ctxOf(c)))
		}
		if c.called {
			phases[4] = append(phases[4], fmt.Sprintf(`{"type":"track","userId":%q,"messageId":"call-%d","event":"contact_center_call","properties":{"queue":"mortgages"}}`, id, u))
		}
		if c.completed {
			phases[5] = append(phases[5], fmt.Sprintf(`{"type":"track","userId":%q,"messageId":"done-%d","event":"refinance_completed"}`, id, u))
		}
	}
	for _, events := range phases {
		for i := 0; i < len(events); i += 500 {
			body := `{"batch":[` + strings.Join(events[i:min(i+500, len(events))], ",") + `]}`
			if st, err := postJSON(context.Background(), s.url+"/v1/batch", body); err != nil || st != 200 {
				t.Fatalf("batch: %d %v", st, err)
			}
		}
		s.waitIdle(t, 30*time.Second)
	}

	// The truth, from the generator.
	var exposed, exposedCalls, others, otherCalls int
	paths := map[string]int{}
	for _, c := range customers {
		if c.os == "iOS" && c.upload {
			exposed++
			if c.called {
				exposedCalls++
			}
		} else {
			others++
			if c.called {
				otherCalls++
			}
		}
		steps := []string{"page_viewed"}
		if c.upload {
			steps = append(steps, "document_upload")
		}
		switch {
		case c.called: // the path ends there; completions come later
			steps = append(steps, "contact_center_call")
		case c.completed:
			steps = append(steps, "refinance_completed", "(no contact_center_call)")
		default:
			steps = append(steps, "(no contact_center_call)")
		}
		paths[strings.Join(steps, " > ")]++
	}
	trueRR := plantedCall / baseCall

	var d api.JourneyDrivers
	if st := s.admin(t, "/v1/journeys/mortgage-refinance/drivers?outcome=event:contact_center_call", &d); st != 200 {
		t.Fatalf("drivers: %d", st)
	}
	t.Logf("evaluated %d", d.Evaluated)
	for i, dr := range d.Drivers[:min(5, len(d.Drivers))] {
		t.Logf("driver %d: %-50s support %4d rate %.3f others %.3f RR %.2f [%.2f, %.2f]", i+1, dr.Label(), dr.Support, dr.Rate, dr.OthersRate,
			dr.RelativeRisk, dr.CI.Lo, dr.CI.Hi)
	}
	if d.Observations != refinanceUsers || d.Sampled || d.Outcomes != exposedCalls+otherCalls {
		t.Errorf("drivers read %d instances (sampled %v) with %d calls; want %d with %d", d.Observations, d.Sampled, d.Outcomes,
			refinanceUsers, exposedCalls+otherCalls)
	}
	if len(d.Drivers) == 0 {
		t.Fatal("no drivers")
	}
	first := d.Drivers[0]
	if !slices.Equal(first.Features, []string{"context.os.name=iOS", "event.document_upload=true"}) {
		t.Fatalf("first driver is %v, want the planted conjunction context.os.name=iOS & event.document_upload=true", first.Features)
	}
	if first.Support != exposed || first.Outcomes != exposedCalls {
		t.Errorf("planted driver: support %d with %d calls, want %d with %d (the generator's)", first.Support, first.Outcomes, exposed, exposedCalls)
	}
	if math.Abs(math.Log(first.RelativeRisk/trueRR)) > plantedTolerance {
		t.Errorf("planted driver's relative risk %.2f is more than 25%% away from the true %.2f", first.RelativeRisk, trueRR)
	}
	if first.CI.Lo > trueRR || first.CI.Hi < trueRR {
		t.Errorf("planted driver's 95%% interval [%.2f, %.2f] does not cover the true relative risk %.2f", first.CI.Lo, first.CI.Hi, trueRR)
	}
	for _, dr := range d.Drivers {
		if strings.Contains(dr.Label(), "email") || strings.Contains(dr.Label(), "device.id") || strings.Contains(dr.Label(), "context.ip") {
			t.Errorf("an identifier became a driver: %s", dr.Label())
		}
	}

	var p api.JourneyPaths
	if st := s.admin(t, "/v1/journeys/mortgage-refinance/paths?end=event:contact_center_call&top=20", &p); st != 200 {
		t.Fatalf("paths: %d", st)
	}
	got := map[string]int{}
	for _, pc := range p.Top {
		got[strings.Join(pc.Steps, " > ")] = pc.Count
	}
	if fmt.Sprint(got) != fmt.Sprint(paths) {
		t.Errorf("paths to the call:\n got %v\nwant %v", got, paths)
	}
	upCall := "page_viewed > document_upload > contact_center_call"
	t.Logf("paths: %d sequences (%d distinct), %d reach the call; %s ×%d", p.Sequences, p.Distinct, p.Reached, upCall, got[upCall])
	if p.Reached != exposedCalls+otherCalls || got[upCall] == 0 {
		t.Errorf("paths reach the call %d times (want %d); upload → call %d", p.Reached, exposedCalls+otherCalls, got[upCall])
	}

	if withReport {
		cmd := exec.Command(binPath, "report", "mortgage-refinance", "--outcome", "event:contact_center_call", "--paths", "--top", "5")
		cmd.Env = append(envWithout("OVERTURE_ADMIN_TOKEN", "OVERTURE_SERVER", "OVERTURE_DATA"), "OVERTURE_SERVER="+s.url, "OVERTURE_ADMIN_TOKEN="+e2eAdmin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("report: %v\n%s", err, out)
		}
		for _, want := range []string{"Top drivers of contact_center_call within 30d", "context.os.name=iOS & event.document_upload=true",
			"RELATIVE RISK", "Top paths to contact_center_call", upCall} {
			if !strings.Contains(string(out), want) {
				t.Errorf("report has no %q:\n%s", want, out)
			}
		}
		t.Logf("overture report:\n%s", out)
		cmd = exec.Command(binPath, "report", "mortgage-refinance", "--outcome", "event:contact_center_call", "--drivers", "--format", "csv", "--top", "1")
		cmd.Env = append(envWithout("OVERTURE_ADMIN_TOKEN", "OVERTURE_SERVER", "OVERTURE_DATA"), "OVERTURE_SERVER="+s.url, "OVERTURE_ADMIN_TOKEN="+e2eAdmin)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "1,context.os.name=iOS & event.document_upload=true,") {
			t.Errorf("report --drivers --format csv: %v\n%s", err, out)
		}
		cmd = exec.Command(binPath, "report", "mortgage-refinance", "--format", "json", "--paths")
		cmd.Env = append(envWithout("OVERTURE_ADMIN_TOKEN", "OVERTURE_SERVER", "OVERTURE_DATA"), "OVERTURE_SERVER="+s.url, "OVERTURE_ADMIN_TOKEN="+e2eAdmin)
		var j struct {
			Journey string          `json:"journey"`
			Drivers json.RawMessage `json:"drivers"`
			Paths   json.RawMessage `json:"paths"`
		}
		if out, err := cmd.CombinedOutput(); err != nil || json.Unmarshal(out, &j) != nil || j.Journey != "mortgage-refinance" || j.Drivers == nil || j.Paths == nil {
			t.Errorf("report --format json --paths: %v\n%.300s", err, out)
		}
	}
	t.Logf("took %s", time.Since(began).Round(time.Millisecond))
}
