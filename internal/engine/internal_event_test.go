package engine_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
)

// TestInternalEventFacts: an event the engine (or the API, for an SMS STOP)
// records for a known profile skips identity resolution, but the profile
// facts it carries still apply: here a consent change.
func TestInternalEventFacts(t *testing.T) {
	h := newHarness(t, t.TempDir(), engine.Options{Partitions: 2})
	h.start()
	at := recvBase
	h.append([]core.Event{{SourceID: "src", MessageID: "id-1", Type: core.TypeIdentify, UserID: "ann",
		Timestamp: at, ReceivedAt: at, Traits: json.RawMessage(`{"phone":"+15550100001","consent":{"sms":true}}`)}}, true)
	h.waitIdle()
	p, err := h.st.GetProfile(h.ctx, mustResolve(t, h, "ann"))
	if err != nil || !p.Consent["sms"].Granted {
		t.Fatalf("before: %+v %v", p, err)
	}
	later := at.Add(time.Minute)
	h.append([]core.Event{{SourceID: core.InternalSource, MessageID: "stop-1", Type: core.TypeTrack, Event: "message_replied",
		Timestamp: later, ReceivedAt: later, ProfileID: p.ID,
		Context: json.RawMessage(`{"consent":{"categoryPreferences":{"sms":false}}}`)}}, true)
	h.waitIdle()
	p, err = h.st.GetProfile(h.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Consent["sms"]; c.Granted || !c.At.Equal(later) {
		t.Errorf("sms consent after the internal STOP event: %+v, want revoked at %s", c, later)
	}
}

// mustResolve returns the profile a userId is bound to.
func mustResolve(t *testing.T, h *harness, userID string) string {
	t.Helper()
	key := core.Identifier{Kind: core.KindUserID, Value: userID}.Key()
	ids, err := h.st.LookupIdentities(h.ctx, []string{key})
	if err != nil || ids[key] == "" {
		t.Fatalf("lookup %s: %v %v", userID, ids, err)
	}
	return ids[key]
}
