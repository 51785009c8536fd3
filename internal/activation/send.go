package activation

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Page is the body of one webhook call: a page of an audience's members.
// Pages are numbered from 1; the last one has Last set (an empty audience
// is one empty last page, so the receiver learns it is empty).
type Page struct {
	Audience     string `json:"audience"`
	ActivationID string `json:"activationId"`
	Page         int    `json:"page"`
	Last         bool   `json:"last"`
	Members      []Row  `json:"members"`
}

// MessageID is the webhook-id of a page: the same on every attempt, so a
// receiver can drop the pages it already has.
func (p *Page) MessageID() string { return p.ActivationID + "_" + strconv.Itoa(p.Page) }

// NewActivationID returns a random id for one activation ("act_" and 24
// hex digits).
func NewActivationID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "act_" + hex.EncodeToString(b[:])
}

// Sender posts pages to one webhook URL, signed with Key, retrying on
// transport errors, 429 and 5xx. Each attempt has a fresh timestamp and
// signature and the same webhook-id. Zero fields take their defaults.
type Sender struct {
	URL    string
	Key    []byte       // the signing key (see Key); nil: calls are not signed
	Client *http.Client // nil: a client that gives up on an attempt after 30 s

	Attempts   int           // tries per page; default 4
	Backoff    time.Duration // wait after the first failure, doubling after each; default 1 s
	MaxBackoff time.Duration // the longest wait; a Retry-After beyond it ends the tries; default 30 s
	Now        func() time.Time

	sleep func(ctx context.Context, d time.Duration) error // tests replace it
}

// defaultClient bounds each attempt.
var defaultClient = &http.Client{Timeout: 30 * time.Second}

// maxErrorBody is how much of a failed answer a DeliveryError keeps.
const maxErrorBody = 512

// DeliveryError says a page could not be delivered.
type DeliveryError struct {
	URL        string
	Page       int
	Attempts   int
	Status     int           // the last answer's status; 0 if there was none
	Body       string        // the start of the last answer's body
	RetryAfter time.Duration // what the last answer asked, if it ended the tries
	Err        error         // the last transport error, if the last attempt had no answer
}

// Error describes the last failure.
func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "webhook %s: page %d not delivered after %d attempt", e.URL, e.Page, e.Attempts)
	if e.Attempts != 1 {
		b.WriteString("s")
	}
	switch {
	case e.Err != nil:
		fmt.Fprintf(&b, ": %v", e.Err)
	case e.Status != 0:
		fmt.Fprintf(&b, ": answered %d %s", e.Status, http.StatusText(e.Status))
		if e.RetryAfter > 0 {
			fmt.Fprintf(&b, " asking to retry after %s", e.RetryAfter)
		}
		if e.Body != "" {
			fmt.Fprintf(&b, ": %s", e.Body)
		}
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Send posts one page, retrying as the Sender says. It returns nil once
// the webhook answers 2xx, a *DeliveryError if it never does (at once for
// an answer that a retry cannot change, such as 400), or ctx's error.
func (s *Sender) Send(ctx context.Context, p *Page) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding page %d: %w", p.Page, err)
	}
	attempts, backoff, most := s.Attempts, s.Backoff, s.MaxBackoff
	if attempts < 1 {
		attempts = 4
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	if most <= 0 {
		most = 30 * time.Second
	}
	for n := 1; ; n++ {
		status, retryAfter, answer, err := s.post(ctx, p.MessageID(), body)
		if err == nil && status/100 == 2 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		de := &DeliveryError{URL: s.URL, Page: p.Page, Attempts: n, Status: status, Body: answer, Err: err}
		if err == nil && status != http.StatusTooManyRequests && status < 500 || n == attempts {
			return de
		}
		wait := min(backoff<<(n-1), most)
		if retryAfter > most {
			de.RetryAfter = retryAfter
			return de
		} else if retryAfter > 0 {
			wait = retryAfter
		}
		sleep := s.sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// post makes one attempt: the answer's status, its Retry-After, and the
// start of its body if it is not 2xx.
func (s *Sender) post(ctx context.Context, id string, body []byte) (status int, retryAfter time.Duration, answer string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts := now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "overture-activation")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	if s.Key != nil {
		req.Header.Set(HeaderSignature, Sign(s.Key, id, ts, body))
	}
	client := s.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // lets the connection be reused
		return resp.StatusCode, 0, "", nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), ts), strings.TrimSpace(string(b)), nil
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date; 0
// if absent, unreadable or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
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

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
