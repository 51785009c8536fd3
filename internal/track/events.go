package track

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// Events this package emits besides core's message_delivered,
// message_opened and message_clicked.
const (
	EventMessageFailed  = "message_failed"
	EventMessageReplied = "message_replied"
)

// Receipt is what a delivery status callback says about a message.
type Receipt struct {
	// Name is the event the receipt becomes (message_delivered,
	// message_failed, message_opened or message_clicked); "" for a status
	// on the way (queued, sending, sent), which records nothing.
	Name       string
	Status     string // the provider's status word, lower case
	ErrorCode  string // the provider's error code, if any
	Reason     string // why a message failed, if said
	URL        string // the link clicked
	ProviderID string // the provider's message id (Twilio MessageSid or CallSid)
}

// messageProps are the properties of every message event: what learning
// (properties.channel, properties.offer) and journeys read.
type messageProps struct {
	Channel           string `json:"channel"`
	Journey           string `json:"journey"`
	Version           int    `json:"version"`
	Step              string `json:"step"`
	Key               string `json:"key"`
	Offer             string `json:"offer,omitempty"`
	Status            string `json:"status,omitempty"`
	ErrorCode         string `json:"errorCode,omitempty"`
	Reason            string `json:"reason,omitempty"`
	URL               string `json:"url,omitempty"`
	ProviderMessageID string `json:"providerMessageId,omitempty"`
}

// Event returns the receipt's event for the message ref names, or nil if
// the receipt records nothing. Its MessageID is deterministic, so a
// repeated callback is dropped by ingestion's dedupe: delivered and
// failed once per message and status, opened once per message, clicked
// once per message and URL.
func (r Receipt) Event(ref Ref, now time.Time) *core.Event {
	p := messageProps{Status: r.Status, ErrorCode: r.ErrorCode, Reason: r.Reason, URL: r.URL, ProviderMessageID: r.ProviderID}
	var id string
	switch r.Name {
	case core.EventMessageDelivered, EventMessageFailed:
		id = r.Name + ":" + ref.Key + ":" + r.Status
	case core.EventMessageOpened:
		id = r.Name + ":" + ref.Key
	case core.EventMessageClicked:
		id = r.Name + ":" + ref.Key + ":" + urlHash(r.URL)
	default:
		return nil
	}
	return messageEvent(ref, r.Name, id, p, now)
}

// Delivered returns the message_delivered event of a message.
func Delivered(ref Ref, providerID string, now time.Time) *core.Event {
	return Receipt{Name: core.EventMessageDelivered, Status: "delivered", ProviderID: providerID}.Event(ref, now)
}

// Failed returns the message_failed event of a message that could not be
// delivered; status is the provider's (failed, undelivered, busy ...).
func Failed(ref Ref, status, errorCode, reason, providerID string, now time.Time) *core.Event {
	return Receipt{Name: EventMessageFailed, Status: status, ErrorCode: errorCode, Reason: reason, ProviderID: providerID}.Event(ref, now)
}

// Opened returns the message_opened event of a message.
func Opened(ref Ref, now time.Time) *core.Event {
	return Receipt{Name: core.EventMessageOpened}.Event(ref, now)
}

// Clicked returns the message_clicked event of a click on url.
func Clicked(ref Ref, url string, now time.Time) *core.Event {
	return Receipt{Name: core.EventMessageClicked, URL: url}.Event(ref, now)
}

func messageEvent(ref Ref, name, id string, p messageProps, now time.Time) *core.Event {
	p.Channel, p.Journey, p.Version, p.Step, p.Key, p.Offer = ref.Channel, ref.JourneyID, ref.Version, ref.Step, ref.Key, ref.Offer
	raw, _ := json.Marshal(p) // strings and an int: cannot fail
	return &core.Event{SourceID: core.InternalSource, MessageID: id, Type: core.TypeTrack, Event: name,
		Timestamp: now, ReceivedAt: now, Properties: raw, ProfileID: ref.ProfileID}
}

// urlHash shortens a URL for a message id.
func urlHash(u string) string {
	h := sha256.Sum256([]byte(u))
	return hex.EncodeToString(h[:8])
}

// ReplyKind is what an SMS reply asks for.
type ReplyKind int

// Reply kinds.
const (
	PlainReply ReplyKind = iota // any other text
	OptOut                      // STOP and its synonyms: revoke SMS consent
	OptIn                       // START, UNSTOP, YES: grant it again
)

var keywords = map[string]ReplyKind{
	"STOP": OptOut, "STOPALL": OptOut, "UNSUBSCRIBE": OptOut, "CANCEL": OptOut, "END": OptOut,
	"QUIT": OptOut, "REVOKE": OptOut, "OPTOUT": OptOut,
	"START": OptIn, "UNSTOP": OptIn, "YES": OptIn,
}

// ParseReply classifies an SMS body: the whole body, trimmed of spaces
// and punctuation around it and in any case, must be a keyword ("Stop!"
// is STOP; "stop sending" is a plain reply). keyword is the keyword in
// upper case, or "".
func ParseReply(body string) (keyword string, kind ReplyKind) {
	w := strings.ToUpper(strings.TrimFunc(body, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '.' || r == '!' || r == '"' || r == '\''
	}))
	if k, ok := keywords[w]; ok {
		return w, k
	}
	return "", PlainReply
}

type replyProps struct {
	Channel           string `json:"channel"`
	Body              string `json:"body"`
	Keyword           string `json:"keyword"`
	To                string `json:"to,omitempty"`
	ProviderMessageID string `json:"providerMessageId"`
}

// Replied returns the message_replied event of an SMS from the phone
// number from (E.164) to the number to. Its MessageID derives from the
// provider's message id, so a redelivered webhook is dropped by dedupe.
// STOP and its synonyms set context.consent.categoryPreferences.sms to
// false, START and its synonyms to true: the profile's consent changes
// when the event is applied.
//
// The event names the customer by context.traits.phone and has no
// ProfileID: events naming their profile skip identity resolution, where
// the consent facts of an event are derived, so this one goes through it
// (the caller checks that the number belongs to a known profile first).
func Replied(from, to, body, providerID string, now time.Time) *core.Event {
	keyword, kind := ParseReply(body)
	props, _ := json.Marshal(replyProps{Channel: "sms", Body: body, Keyword: keyword, To: to, ProviderMessageID: providerID})
	ctx := map[string]any{"traits": map[string]any{"phone": from}, "channel": "sms"}
	if kind != PlainReply {
		ctx["consent"] = map[string]any{"categoryPreferences": map[string]bool{"sms": kind == OptIn}}
	}
	rawCtx, _ := json.Marshal(ctx)
	return &core.Event{SourceID: core.InternalSource, MessageID: EventMessageReplied + ":" + providerID, Type: core.TypeTrack,
		Event: EventMessageReplied, Timestamp: now, ReceivedAt: now, Properties: props, Context: rawCtx}
}
