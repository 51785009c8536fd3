package deliver

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is why a Send failed, classified for the dispatcher: whether
// another attempt may succeed and how long the provider asked to wait.
type Error struct {
	Connector  string        // the connector's name
	Retryable  bool          // another attempt may succeed (a 4xx SMTP reply, HTTP 429 or 5xx, a broken connection)
	RetryAfter time.Duration // how long the provider asked to wait (Retry-After); 0 if it did not say
	Status     int           // the provider's status: HTTP status or SMTP reply code; 0 if there was no answer
	Code       string        // the provider's own error code (Twilio "21211", FCM "UNREGISTERED", SMTP "5.7.8"), if any
	Reason     string        // what went wrong, in words
	Err        error         // the underlying error, if any
}

// Error describes the failure: "connector: status code: reason: err".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Connector)
	b.WriteString(":")
	if e.Status != 0 {
		fmt.Fprintf(&b, " %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Status != 0 || e.Code != "" {
		b.WriteString(":")
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " %s", e.Reason)
	}
	if e.Err != nil {
		if e.Reason != "" {
			b.WriteString(":")
		}
		fmt.Fprintf(&b, " %v", e.Err)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Permanent returns a non-retryable *Error: the message, the address or the
// configuration is wrong, and sending again will not help.
func Permanent(connector, reason string) *Error {
	return &Error{Connector: connector, Reason: reason}
}

// Transient returns a retryable *Error wrapping err (a broken connection,
// a timeout, a cancelled context): the provider may or may not have
// received the message, and another attempt with the same key is safe.
func Transient(connector string, err error) *Error {
	return &Error{Connector: connector, Retryable: true, Err: err}
}

// Classify says whether a Send error is worth another attempt and after
// how long the provider asked to wait. A *Error (anywhere in err's chain)
// says so itself; any other non-nil error is taken as retryable, since a
// connector returns an unclassified error only for the unexpected, and the
// dispatcher's attempt limit bounds the cost of being wrong.
func Classify(err error) (retry bool, after time.Duration) {
	if err == nil {
		return false, 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable, e.RetryAfter
	}
	return true, 0
}

// RetryableStatus reports whether an HTTP status means another attempt may
// succeed: 408, 425, 429 and every 5xx but 501 and 505.
func RetryableStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500 && status < 600
}

// ParseRetryAfter reads a Retry-After header, in seconds or as an HTTP
// date; 0 if it is absent, unreadable or past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// HTTPError returns the *Error for a non-2xx HTTP answer: retryable as
// RetryableStatus says, with the answer's Retry-After (read against now),
// the provider's code and reason.
func HTTPError(connector string, resp *http.Response, now time.Time, code, reason string) *Error {
	e := &Error{
		Connector: connector,
		Retryable: RetryableStatus(resp.StatusCode),
		Status:    resp.StatusCode,
		Code:      code,
		Reason:    reason,
	}
	if e.Retryable {
		e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	if e.Reason == "" {
		e.Reason = http.StatusText(resp.StatusCode)
	}
	return e
}
