package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// Strings a client chooses may hold a NUL byte or be invalid UTF-8 (a
// JSON "\u0000" decodes to a NUL). A store must keep them exactly, never
// fail on them (a failing ApplyBatch would stall its partition), and
// answer "not found" when asked for an id like that.
const (
	nulString     = "a\x00b"
	invalidString = "x\xff\xfey"
)

// testOddStrings: NUL bytes and invalid UTF-8 round-trip through dedupe,
// identifiers, the quarantine and key names, and lookups by such ids say
// ENOTFOUND.
func testOddStrings(t *testing.T, s core.Store) {
	ctx := t.Context()
	since := at(-time.Hour)
	e := track(1, "src_a", "msg-"+nulString, "pa", at(0))
	e.Event = "Clicked " + nulString
	fresh, _ := apply(t, s, since, []*core.Event{e}, nil)
	checkSeqs(t, "first apply", fresh, 1)
	fresh, dups := apply(t, s, since, []*core.Event{track(2, "src_a", "msg-"+nulString, "pa", at(time.Second))}, nil)
	if dups != 1 || len(fresh) != 0 {
		t.Errorf("resent message id with NUL: %d duplicates, want 1", dups)
	}
	fresh, _ = apply(t, s, since, []*core.Event{track(3, "src_a", "msg-a", "pa", at(time.Second))}, nil)
	checkSeqs(t, "message id that is a prefix", fresh, 3)
	checkEvents(t, "timeline", listEvents(t, s, "pa", 2, 10), clone([]*core.Event{e}))

	logged := appendEvents(t, s, track(0, "src_a", "log-"+nulString, "", at(0)))
	want := clone(logged)
	checkEvents(t, "log", readLog(t, s, 0, 10), want)

	commitIdentities(t, s,
		bind(core.KindUserID, nulString, "pa"),
		bind(core.KindAnonymousID, invalidString, "pa"),
		bind(core.KindUserID, "a", "pb"),
	)
	got := lookup(t, s, "user_id:"+nulString, "anonymous_id:"+invalidString, "user_id:a")
	if got["user_id:"+nulString] != "pa" || got["anonymous_id:"+invalidString] != "pa" || got["user_id:a"] != "pb" {
		t.Errorf("lookup = %q", got)
	}
	of, err := s.IdentitiesOf(ctx, []string{"pa", nulString})
	if err != nil {
		t.Fatalf("identities of: %v", err)
	}
	wantOf := []core.Identifier{{Kind: core.KindAnonymousID, Value: invalidString}, {Kind: core.KindUserID, Value: nulString}}
	if !slices.Equal(of["pa"], wantOf) || len(of) != 1 {
		t.Errorf("identities of = %q, want pa: %q", of, wantOf)
	}

	item := &core.QuarantineItem{SourceID: "src_a", ReceivedAt: at(0), Code: core.EINVALID,
		Field: "batch[0]." + nulString, Message: "bad " + invalidString, Payload: `{"type":"` + invalidString + "\x00" + `"}`}
	if err := s.Quarantine(ctx, []*core.QuarantineItem{item}); err != nil {
		t.Fatalf("quarantine: %v", err)
	}
	items, err := s.ListQuarantine(ctx, 0, 10)
	if err != nil {
		t.Fatalf("list quarantine: %v", err)
	}
	if len(items) != 1 || items[0].Field != item.Field || items[0].Message != item.Message || items[0].Payload != item.Payload {
		t.Errorf("quarantined = %+v, want %+v", items, item)
	}

	k := &core.WriteKey{ID: "key_1", Name: "Team " + nulString + invalidString, Hash: "abcd", Prefix: "ow_ab", CreatedAt: at(0)}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatalf("create key: %v", err)
	}
	kk, err := s.KeyByHash(ctx, "abcd")
	if err != nil || kk.Name != k.Name {
		t.Errorf("key by hash = %+v, %v; want name %q", kk, err, k.Name)
	}

	for _, id := range []string{nulString, invalidString} {
		_, err := s.GetProfile(ctx, id)
		checkCode(t, "get profile "+id, err, core.ENOTFOUND, "id")
		_, err = s.EraseProfile(ctx, id)
		checkCode(t, "erase profile "+id, err, core.ENOTFOUND, "id")
		checkCode(t, "revoke key "+id, s.RevokeKey(ctx, id, at(0)), core.ENOTFOUND, "id")
		_, err = s.KeyByHash(ctx, id)
		checkCode(t, "key by hash "+id, err, core.ENOTFOUND, "writeKey")
		if got := listEvents(t, s, id, 0, 10); len(got) != 0 {
			t.Errorf("list events of %q: %d events", id, len(got))
		}
		if got := loadProfiles(t, s, id, "pa"); len(got) != 0 {
			t.Errorf("load profiles %q: %d found", id, len(got))
		}
	}
}
