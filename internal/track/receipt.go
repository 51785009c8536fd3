package track

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/overture-cjo/overture/internal/core"
)

// twilioMessage maps Twilio's MessageStatus to an event; statuses on the
// way (queued, accepted, scheduled, sending, sent ...) map to "".
var twilioMessage = map[string]string{
	"delivered":   core.EventMessageDelivered,
	"undelivered": EventMessageFailed,
	"failed":      EventMessageFailed,
	"canceled":    EventMessageFailed, // a scheduled message cancelled: never reached the customer
	"read":        core.EventMessageOpened,
}

// twilioCall maps Twilio's CallStatus the same way (queued, initiated,
// ringing, in-progress map to "").
var twilioCall = map[string]string{
	"completed": core.EventMessageDelivered,
	"busy":      EventMessageFailed,
	"no-answer": EventMessageFailed,
	"failed":    EventMessageFailed,
	"canceled":  EventMessageFailed,
}

// TwilioReceipt reads a Twilio status callback (a form post):
// MessageStatus (messages) or CallStatus (calls), ErrorCode, and
// MessageSid or CallSid. A status it does not know records nothing, as
// Twilio may add some; a post with neither status is an EINVALID error.
func TwilioReceipt(form url.Values) (Receipt, error) {
	r := Receipt{ErrorCode: strings.TrimSpace(form.Get("ErrorCode"))}
	if st := form.Get("MessageStatus"); st != "" {
		r.Status = strings.ToLower(strings.TrimSpace(st))
		r.Name = twilioMessage[r.Status]
		r.ProviderID = form.Get("MessageSid")
		if r.ProviderID == "" {
			r.ProviderID = form.Get("SmsSid")
		}
	} else if st := form.Get("CallStatus"); st != "" {
		r.Status = strings.ToLower(strings.TrimSpace(st))
		r.Name = twilioCall[r.Status]
		r.ProviderID = form.Get("CallSid")
	} else {
		return Receipt{}, core.Errorf(core.EINVALID, "MessageStatus", "a Twilio status callback has MessageStatus or CallStatus")
	}
	if r.ErrorCode == "0" {
		r.ErrorCode = ""
	}
	if r.Name != EventMessageFailed {
		r.ErrorCode = "" // kept on failures only: Twilio may send one with a later success
	}
	return r, nil
}

// WebhookReceipt is the JSON body a webhook receiver posts to a receipt
// URL.
type WebhookReceipt struct {
	Status    string `json:"status"`              // delivered, failed, opened, read, clicked
	Reason    string `json:"reason,omitempty"`    // why it failed
	ErrorCode string `json:"errorCode,omitempty"` // the receiver's error code, if any
	URL       string `json:"url,omitempty"`       // the link clicked (clicked only)
	ID        string `json:"id,omitempty"`        // the receiver's message id, if any
}

// webhookStatus maps a webhook receipt's status to an event.
var webhookStatus = map[string]string{
	"delivered": core.EventMessageDelivered,
	"failed":    EventMessageFailed,
	"opened":    core.EventMessageOpened,
	"read":      core.EventMessageOpened,
	"clicked":   core.EventMessageClicked,
}

// ParseWebhookReceipt reads a webhook receipt body. Errors are EINVALID
// (or EINVALIDJSON) and name the field.
func ParseWebhookReceipt(body []byte) (Receipt, error) {
	var w WebhookReceipt
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Receipt{}, core.Errorf(core.EINVALID, te.Field, "%s must be a %s", te.Field, te.Type)
		}
		return Receipt{}, core.Errorf(core.EINVALIDJSON, "body", "the receipt is not a JSON object: %v", err)
	}
	status := strings.ToLower(strings.TrimSpace(w.Status))
	ev, ok := webhookStatus[status]
	if !ok {
		return Receipt{}, core.Errorf(core.EINVALID, "status", "status must be one of delivered, failed, opened, read, clicked")
	}
	r := Receipt{Name: ev, Status: status, ProviderID: w.ID}
	switch ev {
	case EventMessageFailed:
		r.Reason, r.ErrorCode = w.Reason, w.ErrorCode
	case core.EventMessageClicked:
		if !isHTTP(w.URL) {
			return Receipt{}, core.Errorf(core.EINVALID, "url", "a clicked receipt needs url, an absolute http(s) URL")
		}
		r.URL = w.URL
	}
	return r, nil
}

// ValidTwilioSignature reports whether sig is the X-Twilio-Signature of a
// request to rawURL (the full public URL Twilio called, query included)
// with the POST form parameters form: base64 of the HMAC-SHA1, keyed by
// the auth token, of the URL followed by each parameter's name and value,
// sorted by name (Twilio's "Webhooks security" documentation). Values of
// a repeated name are taken in sorted order. When the URL names the
// scheme's default port, or none, the other form is accepted too, as
// Twilio's own validators do. The comparison is in constant time.
func ValidTwilioSignature(authToken, rawURL string, form url.Values, sig string) bool {
	if authToken == "" || sig == "" {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	params := twilioParams(form)
	ok := false
	for _, u := range urlForms(rawURL) {
		m := hmac.New(sha1.New, []byte(authToken))
		m.Write([]byte(u))
		m.Write(params)
		if hmac.Equal(m.Sum(nil), want) {
			ok = true
		}
	}
	return ok
}

// twilioParams concatenates the parameters as Twilio signs them.
func twilioParams(form url.Values) []byte {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		vs := slices.Clone(form[k])
		slices.Sort(vs)
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, v...)
		}
	}
	return b
}

// urlForms returns rawURL and, when it has its scheme's default port or
// no port, the same URL the other way.
func urlForms(rawURL string) []string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return []string{rawURL}
	}
	def := map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
	if def == "" {
		return []string{rawURL}
	}
	i := strings.Index(rawURL, u.Host)
	if i < 0 {
		return []string{rawURL}
	}
	switch u.Port() {
	case "":
		return []string{rawURL, rawURL[:i] + u.Host + ":" + def + rawURL[i+len(u.Host):]}
	case def:
		return []string{rawURL, rawURL[:i] + strings.TrimSuffix(u.Host, ":"+def) + rawURL[i+len(u.Host):]}
	}
	return []string{rawURL}
}
