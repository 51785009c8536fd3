package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// testWriteKeys: keys are created, listed oldest first (revoked ones
// included), found by hash and revoked once.
func testWriteKeys(t *testing.T, s core.Store) {
	ctx := t.Context()
	k1 := &core.WriteKey{ID: "key_1", Name: "Website", Hash: "a3f1c2d4e5b6a7980112233445566778899aabbccddeeff00112233445566778", Prefix: "ow_a3f1", CreatedAt: at(0)}
	k2 := &core.WriteKey{ID: "key_2", Name: "iOS app", Hash: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", Prefix: "ow_0f1e", CreatedAt: at(-time.Hour)}
	for _, k := range []*core.WriteKey{k1, k2} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatalf("create key %s: %v", k.ID, err)
		}
	}
	list := func() []*core.WriteKey {
		t.Helper()
		keys, err := s.ListKeys(ctx)
		if err != nil {
			t.Fatalf("list keys: %v", err)
		}
		return keys
	}
	checkKeys(t, "list", list(), k2, k1)
	byHash := func(k *core.WriteKey) *core.WriteKey {
		t.Helper()
		got, err := s.KeyByHash(ctx, k.Hash)
		if err != nil {
			t.Fatalf("key by hash of %s: %v", k.ID, err)
		}
		return got
	}
	checkKeys(t, "by hash", []*core.WriteKey{byHash(k1)}, k1)
	_, err := s.KeyByHash(ctx, "00ff")
	checkCode(t, "unknown hash", err, core.ENOTFOUND, "writeKey")

	if err := s.RevokeKey(ctx, "key_1", at(time.Hour)); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	revoked := *k1
	revokedAt := at(time.Hour)
	revoked.RevokedAt = &revokedAt
	checkKeys(t, "revoked by hash", []*core.WriteKey{byHash(k1)}, &revoked)
	if err := s.RevokeKey(ctx, "key_1", at(2*time.Hour)); err != nil {
		t.Fatalf("revoke again: %v", err)
	}
	checkKeys(t, "revoked twice", []*core.WriteKey{byHash(k1)}, &revoked)
	checkKeys(t, "list after revoke", list(), k2, &revoked)
	checkCode(t, "revoke unknown", s.RevokeKey(ctx, "key_nobody", at(0)), core.ENOTFOUND, "id")

	dupID := *k2
	dupID.Hash = "11" + k2.Hash[2:]
	if err := s.CreateKey(ctx, &dupID); err == nil {
		t.Errorf("created a second key with id %s", dupID.ID)
	}
	dupHash := *k2
	dupHash.ID = "key_3"
	if err := s.CreateKey(ctx, &dupHash); err == nil {
		t.Errorf("created a second key with the hash of %s", k2.ID)
	}
	checkKeys(t, "list after failed creates", list(), k2, &revoked)
}

func checkKeys(t *testing.T, what string, got []*core.WriteKey, want ...*core.WriteKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := *got[i], *want[i]
		if !g.CreatedAt.Equal(w.CreatedAt) {
			t.Errorf("%s: key %s created at %v, want %v", what, w.ID, g.CreatedAt, w.CreatedAt)
		}
		switch {
		case (g.RevokedAt == nil) != (w.RevokedAt == nil):
			t.Errorf("%s: key %s revoked at %v, want %v", what, w.ID, g.RevokedAt, w.RevokedAt)
		case g.RevokedAt != nil && !g.RevokedAt.Equal(*w.RevokedAt):
			t.Errorf("%s: key %s revoked at %v, want %v", what, w.ID, *g.RevokedAt, *w.RevokedAt)
		}
		g.CreatedAt, g.RevokedAt, w.RevokedAt = w.CreatedAt, nil, nil
		if g != w {
			t.Errorf("%s: key %d:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

// testZeroTime: a zero time round-trips as the zero time.
func testZeroTime(t *testing.T, s core.Store) {
	items := []*core.QuarantineItem{{SourceID: "src", Index: 0, Code: "invalid", Field: "f", Message: "m", Payload: "{}"}}
	if err := s.Quarantine(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListQuarantine(context.Background(), 0, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %v %v", got, err)
	}
	if !got[0].ReceivedAt.IsZero() {
		t.Errorf("zero receivedAt read back as %v", got[0].ReceivedAt)
	}
}
