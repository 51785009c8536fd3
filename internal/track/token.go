package track

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MinSecret is the shortest secret NewSigner accepts, in bytes.
const MinSecret = 32

// ErrInvalidToken is returned (wrapped) for a token that is malformed,
// tampered with, signed with another secret or made for another purpose.
var ErrInvalidToken = errors.New("invalid token")

const (
	tokenVersion = 1
	macLen       = 16   // HMAC-SHA256 truncated to 128 bits
	maxToken     = 8192 // characters; longer tokens are rejected unread
)

// Token purposes: an open token cannot be used as a click token.
const (
	purposeOpen    byte = 'o'
	purposeClick   byte = 'c'
	purposeReceipt byte = 'r'
)

// Ref identifies a sent message: what its events are attributed to.
type Ref struct {
	Key       string // the message's idempotency key, e.g. welcome:p1:1:3
	ProfileID string
	JourneyID string
	Version   int
	Step      string
	Channel   string
	Offer     string // the offer the message carried, if any
}

// Signer makes and verifies the signed tokens of tracking and receipt
// URLs. It is safe for concurrent use.
type Signer struct {
	key  []byte
	base string
}

// NewSigner returns a Signer keyed by secret (at least MinSecret bytes)
// whose URLs start with baseURL, the server's public http(s) base URL
// (e.g. https://overture.example.com; a trailing slash is dropped).
func NewSigner(secret []byte, baseURL string) (*Signer, error) {
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("tracking secret is %d bytes, it must be at least %d", len(secret), MinSecret)
	}
	base := strings.TrimRight(baseURL, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("tracking base URL %q must be an absolute http(s) URL without query or fragment", baseURL)
	}
	// A key of its own, so the secret can be shared with other uses.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("overture track token v1"))
	return &Signer{key: m.Sum(nil), base: base}, nil
}

// BaseURL returns the public base URL, without a trailing slash.
func (s *Signer) BaseURL() string { return s.base }

// OpenURL returns the URL of the message's open pixel.
func (s *Signer) OpenURL(ref Ref) string {
	return s.base + "/t/o/" + s.token(purposeOpen, ref, "") + ".gif"
}

// ClickURL returns the URL that records a click on target and redirects
// to it. target is signed with ref: the redirect goes nowhere else.
func (s *Signer) ClickURL(ref Ref, target string) string {
	return s.base + "/t/c/" + s.token(purposeClick, ref, target)
}

// ReceiptURL returns the URL a provider posts the message's delivery
// status to (Twilio's StatusCallback, a webhook receiver's receipt URL).
func (s *Signer) ReceiptURL(ref Ref) string {
	return s.base + "/v1/receipts/" + s.token(purposeReceipt, ref, "")
}

// VerifyOpen returns the Ref of an open token.
func (s *Signer) VerifyOpen(token string) (Ref, error) {
	ref, _, err := s.verify(purposeOpen, token)
	return ref, err
}

// VerifyClick returns the Ref and the target URL of a click token.
func (s *Signer) VerifyClick(token string) (Ref, string, error) {
	ref, target, err := s.verify(purposeClick, token)
	if err == nil && !isHTTP(target) {
		return Ref{}, "", fmt.Errorf("%w: the target is not an http(s) URL", ErrInvalidToken)
	}
	return ref, target, err
}

// VerifyReceipt returns the Ref of a receipt token.
func (s *Signer) VerifyReceipt(token string) (Ref, error) {
	ref, _, err := s.verify(purposeReceipt, token)
	return ref, err
}

// token encodes version, purpose, ref and target (click tokens only) and
// appends their truncated HMAC; the whole is base64url without padding.
func (s *Signer) token(purpose byte, ref Ref, target string) string {
	b := make([]byte, 0, 64+len(ref.Key)+len(ref.ProfileID)+len(ref.JourneyID)+len(target))
	b = append(b, tokenVersion, purpose)
	b = binary.AppendVarint(b, int64(ref.Version))
	for _, f := range []string{ref.Key, ref.ProfileID, ref.JourneyID, ref.Step, ref.Channel, ref.Offer} {
		b = appendString(b, f)
	}
	if purpose == purposeClick {
		b = appendString(b, target)
	}
	b = append(b, s.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}

// verify checks the MAC (in constant time) before reading anything else.
func (s *Signer) verify(purpose byte, token string) (Ref, string, error) {
	if token == "" || len(token) > maxToken {
		return Ref{}, "", fmt.Errorf("%w: empty or too long", ErrInvalidToken)
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 2+macLen {
		return Ref{}, "", fmt.Errorf("%w: not a token", ErrInvalidToken)
	}
	payload, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sum, s.mac(payload)) {
		return Ref{}, "", fmt.Errorf("%w: bad signature", ErrInvalidToken)
	}
	if payload[0] != tokenVersion {
		return Ref{}, "", fmt.Errorf("%w: unknown version %d", ErrInvalidToken, payload[0])
	}
	if payload[1] != purpose {
		return Ref{}, "", fmt.Errorf("%w: made for another purpose", ErrInvalidToken)
	}
	r := reader{b: payload[2:]}
	var ref Ref
	ref.Version = int(r.varint())
	for _, f := range []*string{&ref.Key, &ref.ProfileID, &ref.JourneyID, &ref.Step, &ref.Channel, &ref.Offer} {
		*f = r.string()
	}
	var target string
	if purpose == purposeClick {
		target = r.string()
	}
	if r.bad || len(r.b) != 0 {
		return Ref{}, "", fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	return ref, target, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes a token's payload; bad records any overrun.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.bad = true
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

// isHTTP reports whether s is an absolute http or https URL with a host.
func isHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https")) && u.Host != ""
}
