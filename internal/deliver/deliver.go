package deliver

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// The channels a message can go out on.
const (
	ChannelEmail    = "email"
	ChannelSMS      = "sms"
	ChannelMMS      = "mms"
	ChannelVoice    = "voice"
	ChannelPush     = "push"
	ChannelWebhook  = "webhook"
	ChannelWhatsApp = "whatsapp"
)

// Channels lists every channel, in a fixed order.
var Channels = []string{ChannelEmail, ChannelSMS, ChannelMMS, ChannelVoice, ChannelPush, ChannelWebhook, ChannelWhatsApp}

// KnownChannel reports whether ch is one of Channels.
func KnownChannel(ch string) bool { return slices.Contains(Channels, ch) }

// Message is one rendered message ready to leave. Which fields matter
// depends on Channel; the others are ignored.
type Message struct {
	// Key is the idempotency key, unique per (instance, step, version) and
	// the same on every attempt; connectors pass it to providers that
	// honour one and put it in webhook headers.
	Key     string
	Channel string // one of the Channel constants
	// To is the address: an email address, an E.164 phone number, a push
	// device token, or for a webhook the URL (unless the connector has one).
	To   string
	From string // overrides the connector's sender if set

	Subject string // email
	HTML    string // email
	Text    string // email

	Body     string // sms, mms, whatsapp, push
	MediaURL string // mms, whatsapp

	Title    string // push
	DeepLink string // push

	Script  string // voice: the text to speak
	IVRFlow string // voice: an IVR flow to run instead (a URL, or an id under the connector's base)

	JSON []byte // webhook: the body

	// Meta describes the message (profile, journey, step...): webhook
	// headers and provider metadata. Never secrets.
	Meta map[string]string

	// Receipt is where the provider or receiver reports what became of
	// the message (delivered, failed, read...), if anywhere: Twilio's
	// per-message StatusCallback, a webhook's X-Overture-Receipt-URL.
	Receipt string
}

// Result is what the provider said when it accepted a message.
type Result struct {
	ProviderID string // the provider's id for the message (Twilio SID, FCM name, Message-ID), if any
	Status     string // the provider's word for its state ("queued", "accepted", "200"...)
}

// Connector carries messages to one provider. Implementations are safe for
// concurrent use. Send makes one attempt and returns nil only once the
// provider has accepted the message; otherwise a *Error (see the package
// documentation for the contract).
type Connector interface {
	// Name is the connector's name in the configuration.
	Name() string
	// Channels lists the channels it carries.
	Channels() []string
	// Send makes one attempt at delivering m.
	Send(ctx context.Context, m *Message) (Result, error)
}

// CheckChannel returns a non-retryable *Error unless m's channel is one of
// channels. Connectors call it first in Send.
func CheckChannel(connector string, channels []string, m *Message) error {
	if m == nil {
		return Permanent(connector, "no message")
	}
	if !slices.Contains(channels, m.Channel) {
		return Permanent(connector, fmt.Sprintf("channel %q is not one of %v", m.Channel, channels))
	}
	return nil
}

// CheckKey returns a non-retryable *Error unless m has an idempotency key
// that can travel in a header: non-empty, with no control characters.
// Connectors that send the key to the provider call it.
func CheckKey(connector string, m *Message) error {
	if m.Key == "" {
		return Permanent(connector, "the message has no idempotency key")
	}
	if strings.ContainsFunc(m.Key, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return Permanent(connector, "the idempotency key has control characters")
	}
	return nil
}
