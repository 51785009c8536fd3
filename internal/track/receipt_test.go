package track

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/overture-cjo/overture/internal/core"
)

func TestTwilioReceipt(t *testing.T) {
	tests := []struct {
		form                url.Values
		event, status, code string
		provider            string
	}{
		{url.Values{"MessageStatus": {"queued"}, "MessageSid": {"SM1"}}, "", "queued", "", "SM1"},
		{url.Values{"MessageStatus": {"sending"}, "MessageSid": {"SM1"}}, "", "sending", "", "SM1"},
		{url.Values{"MessageStatus": {"sent"}, "MessageSid": {"SM1"}}, "", "sent", "", "SM1"},
		{url.Values{"MessageStatus": {"delivered"}, "MessageSid": {"SM1"}}, core.EventMessageDelivered, "delivered", "", "SM1"},
		{url.Values{"MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "MessageSid": {"SM1"}}, EventMessageFailed, "undelivered", "30003", "SM1"},
		{url.Values{"MessageStatus": {"failed"}, "ErrorCode": {"30008"}, "SmsSid": {"SM2"}}, EventMessageFailed, "failed", "30008", "SM2"},
		{url.Values{"MessageStatus": {"read"}, "MessageSid": {"SM1"}}, core.EventMessageOpened, "read", "", "SM1"},
		{url.Values{"MessageStatus": {"Delivered "}, "ErrorCode": {"0"}}, core.EventMessageDelivered, "delivered", "", ""},
		{url.Values{"MessageStatus": {"some_new_status"}}, "", "some_new_status", "", ""},
		{url.Values{"CallStatus": {"completed"}, "CallSid": {"CA1"}}, core.EventMessageDelivered, "completed", "", "CA1"},
		{url.Values{"CallStatus": {"busy"}, "CallSid": {"CA1"}}, EventMessageFailed, "busy", "", "CA1"},
		{url.Values{"CallStatus": {"no-answer"}, "CallSid": {"CA1"}}, EventMessageFailed, "no-answer", "", "CA1"},
		{url.Values{"CallStatus": {"failed"}, "ErrorCode": {"13224"}, "CallSid": {"CA1"}}, EventMessageFailed, "failed", "13224", "CA1"},
		{url.Values{"CallStatus": {"canceled"}, "CallSid": {"CA1"}}, EventMessageFailed, "canceled", "", "CA1"},
		{url.Values{"CallStatus": {"ringing"}, "CallSid": {"CA1"}}, "", "ringing", "", "CA1"},
		{url.Values{"CallStatus": {"in-progress"}, "CallSid": {"CA1"}}, "", "in-progress", "", "CA1"},
	}
	for _, tt := range tests {
		r, err := TwilioReceipt(tt.form)
		if err != nil || r.Name != tt.event || r.Status != tt.status || r.ErrorCode != tt.code || r.ProviderID != tt.provider {
			t.Errorf("%v: got %+v, %v; want event %q status %q code %q id %q", tt.form, r, err, tt.event, tt.status, tt.code, tt.provider)
		}
	}
	_, err := TwilioReceipt(url.Values{"MessageSid": {"SM1"}})
	if core.ErrorCode(err) != core.EINVALID || core.ErrorField(err) != "MessageStatus" {
		t.Errorf("no status: got %v", err)
	}
}

func TestParseWebhookReceipt(t *testing.T) {
	ok := []struct {
		body, event, reason, url string
	}{
		{`{"status":"delivered"}`, core.EventMessageDelivered, "", ""},
		{`{"status":"failed","reason":"mailbox full","errorCode":"552"}`, EventMessageFailed, "mailbox full", ""},
		{`{"status":"opened"}`, core.EventMessageOpened, "", ""},
		{`{"status":"READ","extra":1}`, core.EventMessageOpened, "", ""},
		{`{"status":"clicked","url":"https://x.example.com/a"}`, core.EventMessageClicked, "", "https://x.example.com/a"},
	}
	for _, tt := range ok {
		r, err := ParseWebhookReceipt([]byte(tt.body))
		if err != nil || r.Name != tt.event || r.Reason != tt.reason || r.URL != tt.url {
			t.Errorf("%s: got %+v, %v", tt.body, r, err)
		}
	}
	bad := []struct{ body, code, field string }{
		{`{"status":`, core.EINVALIDJSON, "body"},
		{``, core.EINVALIDJSON, "body"},
		{`{}`, core.EINVALID, "status"},
		{`{"status":"bounced"}`, core.EINVALID, "status"},
		{`{"status":3}`, core.EINVALID, "status"},
		{`{"status":"clicked"}`, core.EINVALID, "url"},
		{`{"status":"clicked","url":"javascript:alert(1)"}`, core.EINVALID, "url"},
	}
	for _, tt := range bad {
		_, err := ParseWebhookReceipt([]byte(tt.body))
		if core.ErrorCode(err) != tt.code || core.ErrorField(err) != tt.field {
			t.Errorf("%s: got %v, want %s on %s", tt.body, err, tt.code, tt.field)
		}
	}
}

func TestValidTwilioSignature(t *testing.T) {
	// The worked example of Twilio's "Webhooks security" documentation.
	docForm := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	docURL := "https://mycompany.com/myapp.php?foo=1&bar=2"
	if !ValidTwilioSignature("12345", docURL, docForm, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=") {
		t.Error("Twilio's documented example does not validate")
	}

	// An example computed here from the algorithm as written: the URL, then
	// each parameter name and value, names sorted, no separators.
	token := "my-auth-token"
	u := "https://overture.example.com/v1/inbound/twilio?x=%20y"
	form := url.Values{"To": {"+15557654321"}, "From": {"+15551234567"}, "Body": {"Stop ✋ & go"}, "MessageSid": {"SM123"}, "A": {"2", "1"}}
	data := u + "A1" + "A2" + "BodyStop ✋ & go" + "From+15551234567" + "MessageSidSM123" + "To+15557654321"
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(data))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
	if !ValidTwilioSignature(token, u, form, sig) {
		t.Fatal("the computed example does not validate")
	}
	// Default port written or not.
	if !ValidTwilioSignature(token, "https://overture.example.com:443/v1/inbound/twilio?x=%20y", form, sig) {
		t.Error(":443 not accepted for a signature over the URL without a port")
	}
	m = hmac.New(sha1.New, []byte(token))
	m.Write([]byte("https://overture.example.com:443/p" + "Bodyhi"))
	if !ValidTwilioSignature(token, "https://overture.example.com/p", url.Values{"Body": {"hi"}}, base64.StdEncoding.EncodeToString(m.Sum(nil))) {
		t.Error("a signature over the URL with :443 not accepted for the URL without")
	}

	tampered := url.Values{}
	for k, v := range form {
		tampered[k] = v
	}
	tampered.Set("Body", "START")
	extra := url.Values{"Extra": {"1"}}
	for k, v := range form {
		extra[k] = v
	}
	for name, ok := range map[string]bool{
		"tampered body": ValidTwilioSignature(token, u, tampered, sig),
		"added param":   ValidTwilioSignature(token, u, extra, sig),
		"other URL":     ValidTwilioSignature(token, "https://overture.example.com/v1/inbound/twilio", form, sig),
		"other port":    ValidTwilioSignature(token, "https://overture.example.com:8443/v1/inbound/twilio?x=%20y", form, sig),
		"other token":   ValidTwilioSignature("other", u, form, sig),
		"empty token":   ValidTwilioSignature("", u, form, sig),
		"empty sig":     ValidTwilioSignature(token, u, form, ""),
		"not base64":    ValidTwilioSignature(token, u, form, "!!"),
		"truncated sig": ValidTwilioSignature(token, u, form, sig[:len(sig)-4]),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
}
