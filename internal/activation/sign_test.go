package activation

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The Standard Webhooks reference test vector: receivers' libraries
// accept what Sign makes only if this matches exactly.
func TestSignMatchesSpecVector(t *testing.T) {
	key, err := Key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestKey(t *testing.T) {
	if k, err := Key("whsec_aGVsbG8="); err != nil || string(k) != "hello" {
		t.Errorf("whsec_ form: %q %v, want the decoded bytes", k, err)
	}
	if k, err := Key("plain-secret"); err != nil || string(k) != "plain-secret" {
		t.Errorf("raw form: %q %v, want the bytes as they are", k, err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_not base64!"} {
		if _, err := Key(bad); err == nil {
			t.Errorf("Key(%q) accepted", bad)
		}
	}
}

// signed returns the headers of a call signed at ts.
func signed(key []byte, id string, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign(key, id, ts, body))
	return h
}

func TestVerify(t *testing.T) {
	key := []byte("s3cret")
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	body := []byte(`{"audience":"vip","page":1}`)
	ok := signed(key, "act_1_1", now.Add(-time.Minute), body)

	if err := Verify(key, ok, body, now, 0); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	// Several signatures (a key rotation): one valid is enough.
	multi := ok.Clone()
	multi.Set(HeaderSignature, "v1,bm9wZQ== v2,whatever "+ok.Get(HeaderSignature))
	if err := Verify(key, multi, body, now, 0); err != nil {
		t.Errorf("several signatures: %v", err)
	}

	tests := []struct {
		name   string
		key    []byte
		header func(http.Header)
		body   string
		now    time.Time
		tol    time.Duration
		want   error
	}{
		{name: "tampered body", body: `{"audience":"vip","page":2}`, want: ErrSignature},
		{name: "wrong key", key: []byte("other"), want: ErrSignature},
		{name: "other id", header: func(h http.Header) { h.Set(HeaderID, "act_1_2") }, want: ErrSignature},
		{name: "timestamp moved", header: func(h http.Header) { h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10)) }, want: ErrSignature},
		{name: "stale", now: now.Add(5 * time.Minute), want: ErrTimestamp},
		{name: "stale under a tighter tolerance", tol: 30 * time.Second, want: ErrTimestamp},
		{name: "from the future", now: now.Add(-7 * time.Minute), want: ErrTimestamp},
		{name: "timestamp not a number", header: func(h http.Header) { h.Set(HeaderTimestamp, "soon") }, want: ErrTimestamp},
		{name: "no signature", header: func(h http.Header) { h.Del(HeaderSignature) }, want: ErrMissingHeader},
		{name: "no id", header: func(h http.Header) { h.Del(HeaderID) }, want: ErrMissingHeader},
		{name: "only other versions", header: func(h http.Header) { h.Set(HeaderSignature, "v1a,"+ok.Get(HeaderSignature)[3:]) }, want: ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ok.Clone()
			if tt.header != nil {
				tt.header(h)
			}
			k, b, n := key, body, now
			if tt.key != nil {
				k = tt.key
			}
			if tt.body != "" {
				b = []byte(tt.body)
			}
			if !tt.now.IsZero() {
				n = tt.now
			}
			if err := Verify(k, h, b, n, tt.tol); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}
