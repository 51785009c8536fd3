package track

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

const testBase = "https://overture.example.com"

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func newTestSigner(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(testSecret, testBase+"/")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testRef = Ref{Key: "welcome:p1:1:3", ProfileID: "p1", JourneyID: "welcome", Version: 1, Step: "email_1", Channel: "email", Offer: "spring-sale"}

// tokenOf cuts the token out of a tracking URL.
func tokenOf(t testing.TB, u, prefix, suffix string) string {
	t.Helper()
	if !strings.HasPrefix(u, prefix) || !strings.HasSuffix(u, suffix) {
		t.Fatalf("URL %q does not have the form %s{token}%s", u, prefix, suffix)
	}
	return strings.TrimSuffix(strings.TrimPrefix(u, prefix), suffix)
}

func TestNewSignerChecks(t *testing.T) {
	if _, err := NewSigner(testSecret[:31], testBase); err == nil {
		t.Error("a 31-byte secret was accepted")
	}
	for _, base := range []string{"", "overture.example.com", "ftp://x.example.com", "https://", "https://x.example.com/?a=1", "https://x.example.com/#f", "https://u:p@x.example.com"} {
		if _, err := NewSigner(testSecret, base); err == nil {
			t.Errorf("base URL %q was accepted", base)
		}
	}
	s := newTestSigner(t)
	if s.BaseURL() != testBase {
		t.Errorf("BaseURL() = %q, want the trailing slash dropped", s.BaseURL())
	}
	if s2, err := NewSigner(testSecret, "http://127.0.0.1:8420/overture"); err != nil || s2.BaseURL() != "http://127.0.0.1:8420/overture" {
		t.Errorf("a base URL with a path: %v", err)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	s := newTestSigner(t)
	refs := []Ref{testRef, {}, {Key: "k", ProfileID: "p", Version: -3, Step: "ünïcødé ✓", Channel: "sms"}}
	for _, ref := range refs {
		got, err := s.VerifyOpen(tokenOf(t, s.OpenURL(ref), testBase+"/t/o/", ".gif"))
		if err != nil || got != ref {
			t.Errorf("open: got %+v, %v; want %+v", got, err, ref)
		}
		got, err = s.VerifyReceipt(tokenOf(t, s.ReceiptURL(ref), testBase+"/v1/receipts/", ""))
		if err != nil || got != ref {
			t.Errorf("receipt: got %+v, %v; want %+v", got, err, ref)
		}
		target := "https://shop.example.com/p?id=7&utm_source=email#top"
		got, gotTarget, err := s.VerifyClick(tokenOf(t, s.ClickURL(ref, target), testBase+"/t/c/", ""))
		if err != nil || got != ref || gotTarget != target {
			t.Errorf("click: got %+v %q, %v; want %+v %q", got, gotTarget, err, ref, target)
		}
	}
	// URL-safe: nothing to escape in a path segment.
	tok := tokenOf(t, s.ClickURL(testRef, "https://a.example.com/?q=a+b&c=%20"), testBase+"/t/c/", "")
	if strings.ContainsAny(tok, "+/=?&%#") {
		t.Errorf("token %q is not URL-safe", tok)
	}
	// Deterministic: the same message gets the same links.
	if s.OpenURL(testRef) != s.OpenURL(testRef) {
		t.Error("OpenURL is not deterministic")
	}
}

func TestTokenRejections(t *testing.T) {
	s := newTestSigner(t)
	open := tokenOf(t, s.OpenURL(testRef), testBase+"/t/o/", ".gif")
	click := tokenOf(t, s.ClickURL(testRef, "https://shop.example.com/"), testBase+"/t/c/", "")
	receipt := tokenOf(t, s.ReceiptURL(testRef), testBase+"/v1/receipts/", "")

	bad := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %v, want ErrInvalidToken", what, err)
		}
	}
	// Every single-bit change anywhere in the token is caught.
	raw, _ := base64.RawURLEncoding.DecodeString(open)
	for i := range raw {
		for bit := range 8 {
			b := bytes.Clone(raw)
			b[i] ^= 1 << bit
			if _, err := s.VerifyOpen(base64.RawURLEncoding.EncodeToString(b)); err == nil {
				t.Fatalf("byte %d bit %d flipped: accepted", i, bit)
			}
		}
	}
	// Wrong purpose.
	_, _, err := s.VerifyClick(open)
	bad("open token as click", err)
	_, err = s.VerifyReceipt(open)
	bad("open token as receipt", err)
	_, err = s.VerifyOpen(click)
	bad("click token as open", err)
	_, err = s.VerifyOpen(receipt)
	bad("receipt token as open", err)
	// Wrong secret.
	other, _ := NewSigner(bytes.Repeat([]byte{'x'}, 32), testBase)
	_, err = other.VerifyOpen(open)
	bad("another secret", err)
	// Malformed.
	for _, tok := range []string{"", "abc", "!!!!", open[:len(open)-1], open + "A", strings.Repeat("A", maxToken+1)} {
		_, err = s.VerifyOpen(tok)
		bad("malformed "+tok[:min(len(tok), 12)], err)
	}
	// The target URL of a click token swapped, the MAC kept.
	craw, _ := base64.RawURLEncoding.DecodeString(click)
	payload, sum := craw[:len(craw)-macLen], craw[len(craw)-macLen:]
	orig := appendString(nil, "https://shop.example.com/")
	if !bytes.HasSuffix(payload, orig) {
		t.Fatal("the click payload does not end with its target")
	}
	swapped := append(bytes.Clone(payload[:len(payload)-len(orig)]), appendString(nil, "https://evil.example.net/")...)
	_, _, err = s.VerifyClick(base64.RawURLEncoding.EncodeToString(append(swapped, sum...)))
	bad("click target swapped", err)
	// A correctly signed payload with trailing bytes is still refused.
	rraw, _ := base64.RawURLEncoding.DecodeString(receipt)
	long := append(bytes.Clone(rraw[:len(rraw)-macLen]), 0)
	_, err = s.VerifyReceipt(base64.RawURLEncoding.EncodeToString(append(long, s.mac(long)...)))
	bad("trailing bytes", err)
	// A signed click token whose target is not http(s) (ClickURL does not
	// check; Rewrite never makes one) does not redirect.
	js := tokenOf(t, s.ClickURL(testRef, "javascript:alert(1)"), testBase+"/t/c/", "")
	_, _, err = s.VerifyClick(js)
	bad("javascript: target", err)
}

func FuzzVerify(f *testing.F) {
	s := newTestSigner(f)
	f.Add(tokenOf(f, s.OpenURL(testRef), testBase+"/t/o/", ".gif"))
	f.Add(tokenOf(f, s.ClickURL(testRef, "https://x.example.com/"), testBase+"/t/c/", ""))
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, tok string) {
		_, _ = s.VerifyOpen(tok)
		_, _, _ = s.VerifyClick(tok)
		_, _ = s.VerifyReceipt(tok)
	})
}
