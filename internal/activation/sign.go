package activation

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed webhook call (Standard Webhooks).
const (
	HeaderID        = "webhook-id"        // unique per message, the same on every retry
	HeaderTimestamp = "webhook-timestamp" // when this attempt was signed, Unix seconds
	HeaderSignature = "webhook-signature" // space-separated "v1,<base64 HMAC-SHA256>"
)

// DefaultTolerance is how far a call's timestamp may be from the
// receiver's clock when Verify is given no tolerance: the specification's
// five minutes.
const DefaultTolerance = 5 * time.Minute

// secretPrefix marks a secret in the specification's form: base64 of the
// key bytes after it.
const secretPrefix = "whsec_"

// Errors Verify returns (wrapped), for errors.Is.
var (
	ErrMissingHeader = errors.New("missing webhook header")
	ErrTimestamp     = errors.New("webhook timestamp outside the tolerance")
	ErrSignature     = errors.New("no valid webhook signature")
)

// Key returns the HMAC key a secret stands for: if the secret starts with
// "whsec_", the bytes the rest encodes in base64 (the specification's form);
// otherwise the secret's own bytes.
func Key(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		if secret == "" {
			return nil, errors.New("empty secret")
		}
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("the part after %s is not base64: %w", secretPrefix, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("empty key after %s", secretPrefix)
	}
	return key, nil
}

// Sign returns the webhook-signature header value for a message: "v1,"
// then the base64 HMAC-SHA256, keyed with key (see Key), of
// id.timestamp.body with the timestamp in Unix seconds.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body))
}

func mac(key []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received call as a Standard Webhooks receiver does: the
// three headers are present, the timestamp is within tolerance of now
// (either way; DefaultTolerance if tolerance is not positive), and one of
// the v1 signatures is that of id.timestamp.body under key (compared in
// constant time). body must be the raw bytes received.
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, p := range [][2]string{{HeaderID, id}, {HeaderTimestamp, tsText}, {HeaderSignature, sigs}} {
		if p[1] == "" {
			return fmt.Errorf("%s: %w", p[0], ErrMissingHeader)
		}
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q is not Unix seconds: %w", HeaderTimestamp, tsText, ErrTimestamp)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s is %s from now, more than %s: %w", HeaderTimestamp, d.Round(time.Second), tolerance, ErrTimestamp)
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
