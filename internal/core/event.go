package core

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event types accepted by ingestion (the Segment spec's calls).
const (
	TypeTrack    = "track"
	TypeIdentify = "identify"
	TypePage     = "page"
	TypeScreen   = "screen"
	TypeGroup    = "group"
	TypeAlias    = "alias"
)

// Event is one inbound event after validation and normalisation. Free-form
// parts (properties, traits, context) stay as raw JSON: they are decoded only
// where a stage needs a field of them.
type Event struct {
	Seq       int64  // position in the durable event log, assigned on append
	SourceID  string // the write key (source) that sent it
	MessageID string
	Type      string
	Event     string // track: the event name
	Name      string // page/screen: the page name

	UserID      string
	AnonymousID string
	PreviousID  string // alias only
	GroupID     string // group only

	Timestamp         time.Time // when it happened, corrected for client clock skew
	OriginalTimestamp time.Time // the timestamp the client sent, if any
	SentAt            time.Time // when the client sent it, if it said
	ReceivedAt        time.Time // when Overture received it

	Properties   json.RawMessage
	Traits       json.RawMessage
	Context      json.RawMessage
	Integrations json.RawMessage

	ProfileID string // the canonical profile, once identity resolution ran
}

// Label is the name counted for the event in a profile: the event name for
// track, the type otherwise.
func (e *Event) Label() string {
	if e.Type == TypeTrack {
		return e.Event
	}
	return e.Type
}

// EventWire is Event's JSON form: the Segment message shape. Adapters that
// decode stored events with a faster JSON library decode into it and call
// ToEvent.
type EventWire struct {
	Seq               int64           `json:"seq,omitempty"`
	SourceID          string          `json:"sourceId,omitempty"`
	MessageID         string          `json:"messageId"`
	Type              string          `json:"type"`
	Event             string          `json:"event,omitempty"`
	Name              string          `json:"name,omitempty"`
	UserID            string          `json:"userId,omitempty"`
	AnonymousID       string          `json:"anonymousId,omitempty"`
	PreviousID        string          `json:"previousId,omitempty"`
	GroupID           string          `json:"groupId,omitempty"`
	Timestamp         time.Time       `json:"timestamp"`
	OriginalTimestamp *time.Time      `json:"originalTimestamp,omitempty"`
	SentAt            *time.Time      `json:"sentAt,omitempty"`
	ReceivedAt        time.Time       `json:"receivedAt"`
	Properties        json.RawMessage `json:"properties,omitempty"`
	Traits            json.RawMessage `json:"traits,omitempty"`
	Context           json.RawMessage `json:"context,omitempty"`
	Integrations      json.RawMessage `json:"integrations,omitempty"`
	ProfileID         string          `json:"profileId,omitempty"`
}

// UnmarshalJSON decodes the form written by AppendJSON.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w EventWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = w.ToEvent()
	return nil
}

// ToEvent converts the wire form to an Event.
func (w *EventWire) ToEvent() Event {
	e := Event{
		Seq: w.Seq, SourceID: w.SourceID, MessageID: w.MessageID, Type: w.Type, Event: w.Event, Name: w.Name,
		UserID: w.UserID, AnonymousID: w.AnonymousID, PreviousID: w.PreviousID, GroupID: w.GroupID,
		Timestamp: w.Timestamp, ReceivedAt: w.ReceivedAt,
		Properties: w.Properties, Traits: w.Traits, Context: w.Context, Integrations: w.Integrations,
		ProfileID: w.ProfileID,
	}
	if w.OriginalTimestamp != nil {
		e.OriginalTimestamp = *w.OriginalTimestamp
	}
	if w.SentAt != nil {
		e.SentAt = *w.SentAt
	}
	return e
}

// MarshalJSON encodes the event as a Segment-shaped message.
func (e *Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 256+len(e.Properties)+len(e.Traits)+len(e.Context))), nil
}

// AppendJSON appends the event's JSON form to b. It is the hot-path encoder
// of the ingest log: raw parts are copied as they are (ingest has already
// checked that they are valid JSON), strings are quoted by AppendString.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if e.Seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendInt(b, e.Seq, 10)
		b = append(b, ',')
	}
	b = appendField(b, "sourceId", e.SourceID)
	b = append(b, `"messageId":`...)
	b = AppendString(b, e.MessageID)
	b = append(b, `,"type":`...)
	b = AppendString(b, e.Type)
	b = append(b, ',')
	b = appendField(b, "event", e.Event)
	b = appendField(b, "name", e.Name)
	b = appendField(b, "userId", e.UserID)
	b = appendField(b, "anonymousId", e.AnonymousID)
	b = appendField(b, "previousId", e.PreviousID)
	b = appendField(b, "groupId", e.GroupID)
	b = appendTime(b, "timestamp", e.Timestamp)
	if !e.OriginalTimestamp.IsZero() {
		b = appendTime(b, "originalTimestamp", e.OriginalTimestamp)
	}
	if !e.SentAt.IsZero() {
		b = appendTime(b, "sentAt", e.SentAt)
	}
	b = appendTime(b, "receivedAt", e.ReceivedAt)
	b = appendRaw(b, "properties", e.Properties)
	b = appendRaw(b, "traits", e.Traits)
	b = appendRaw(b, "context", e.Context)
	b = appendRaw(b, "integrations", e.Integrations)
	b = appendField(b, "profileId", e.ProfileID)
	b[len(b)-1] = '}'
	return b
}

func appendField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	b = AppendString(b, v)
	return append(b, ',')
}

func appendTime(b []byte, name string, t time.Time) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `",`...)
}

func appendRaw(b []byte, name string, v json.RawMessage) []byte {
	if len(v) == 0 || string(v) == "null" {
		return b
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	b = append(b, v...)
	return append(b, ',')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s to b as a JSON string, escaping as encoding/json
// does (HTML-safe, invalid UTF-8 replaced).
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
