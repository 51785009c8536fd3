package catalog_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/catalog"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/machine"
	"github.com/overture-cjo/overture/internal/sqlite"
)

const v1 = `
id: hello
name: Hello
entry: {trigger: {event: Signed Up}}
start: hi
steps:
  hi: {type: send, channel: email, template: hi, next: done}
  done: {type: exit}
`

// TestVersionsSurviveRestart applies two versions and a state, opens the
// catalog again on the same store (as a restarted server does) and checks
// that the engine gets both versions, the newest one entered, and the
// state; then the archive rules.
func TestVersionsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := core.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	log := slog.New(slog.DiscardHandler)
	var got *machine.Catalog
	svc, err := catalog.Open(ctx, st, clock, log, func(c *machine.Catalog) { got = c })
	if err != nil {
		t.Fatal(err)
	}
	if a, err := svc.Apply(ctx, "hello", "hello.yaml", []byte(v1)); err != nil || !a.Created || a.Version != 1 {
		t.Fatalf("apply v1: %+v %v", a, err)
	}
	if a, err := svc.Apply(ctx, "", "hello.yaml", []byte(v1)); err != nil || a.Created || a.Version != 1 {
		t.Fatalf("apply v1 again: %+v %v, want unchanged", a, err)
	}
	v2 := strings.Replace(v1, "template: hi", "template: hi-v2", 1)
	if a, err := svc.Apply(ctx, "hello", "hello.yaml", []byte(v2)); err != nil || !a.Created || a.Version != 2 {
		t.Fatalf("apply v2: %+v %v", a, err)
	}
	if _, err := svc.Apply(ctx, "other", "hello.yaml", []byte(v2)); core.ErrorCode(err) != core.EINVALID || core.ErrorField(err) != "id" {
		t.Errorf("id mismatch: %v, want invalid naming id", err)
	}
	if _, err := svc.Apply(ctx, "", "bad.yaml", []byte("id: x\n")); core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "bad.yaml:") {
		t.Errorf("invalid file: %v, want invalid with its position", err)
	}
	if err := svc.SetState(ctx, "hello", core.JourneyPaused); err != nil {
		t.Fatal(err)
	}

	got = nil
	svc, err = catalog.Open(ctx, st, clock, log, func(c *machine.Catalog) { got = c })
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Version("hello", 1) == nil || got.Newest("hello").Version != 2 || got.State("hello") != core.JourneyPaused {
		t.Fatalf("after restart: catalog %+v", got)
	}
	if tmpl := got.Newest("hello").Def.Steps["hi"].Template; tmpl != "hi-v2" {
		t.Errorf("newest version sends %q, want hi-v2", tmpl)
	}
	sum, err := svc.Get(ctx, "hello")
	if err != nil || sum.Version != 2 || len(sum.Versions) != 2 || sum.State != core.JourneyPaused || sum.Source != v2 {
		t.Errorf("summary: %+v %v", sum, err)
	}
	if err := svc.SetState(ctx, "hello", core.JourneyArchived); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetState(ctx, "hello", core.JourneyActive); core.ErrorCode(err) != core.ECONFLICT {
		t.Errorf("resume archived: %v, want conflict", err)
	}
	if err := svc.SetState(ctx, "nope", core.JourneyPaused); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("unknown journey: %v, want not found", err)
	}
	list, _ := svc.List(ctx, false)
	all, _ := svc.List(ctx, true)
	if len(list) != 0 || len(all) != 1 {
		t.Errorf("list: %d without archived, %d with; want 0 and 1", len(list), len(all))
	}
}
