package ingest

import (
	"bytes"
	"fmt"
	json "github.com/goccy/go-json"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// Segment's limits.
const (
	MaxEventBytes = 32 << 10  // one event
	MaxBatchBytes = 500 << 10 // one batch request
	MaxBatchItems = 2500      // events in one batch
	maxIDBytes    = 1024      // userId, anonymousId, messageId, ...
)

// Message is one decoded inbound message before identity resolution.
type Message struct {
	WriteKey string // writeKey from the body, if any
	Event    core.Event
}

// wireMessage is a Segment message as sent by clients.
type wireMessage struct {
	Type              string          `json:"type"`
	MessageID         json.RawMessage `json:"messageId"`
	Event             json.RawMessage `json:"event"`
	Name              json.RawMessage `json:"name"`
	UserID            json.RawMessage `json:"userId"`
	AnonymousID       json.RawMessage `json:"anonymousId"`
	PreviousID        json.RawMessage `json:"previousId"`
	GroupID           json.RawMessage `json:"groupId"`
	Timestamp         json.RawMessage `json:"timestamp"`
	OriginalTimestamp json.RawMessage `json:"originalTimestamp"`
	SentAt            json.RawMessage `json:"sentAt"`
	Properties        json.RawMessage `json:"properties"`
	Traits            json.RawMessage `json:"traits"`
	Context           json.RawMessage `json:"context"`
	Integrations      json.RawMessage `json:"integrations"`
	WriteKey          string          `json:"writeKey"`
}

// wireBatch is the body of /v1/batch.
type wireBatch struct {
	Batch    []json.RawMessage `json:"batch"`
	Context  json.RawMessage   `json:"context"`
	SentAt   json.RawMessage   `json:"sentAt"`
	WriteKey string            `json:"writeKey"`
}

// Decoder turns request bodies into events. Now and NewID are injected so
// decoding is deterministic in tests and the simulator.
type Decoder struct {
	Now   func() time.Time
	NewID func() string // a messageId for messages that carry none
}

// ItemError is a rejected item of a batch.
type ItemError struct {
	Index int
	Err   *core.Error
	Raw   json.RawMessage
}

// DecodeSingle decodes the body of /v1/{type}. typ is the endpoint's type;
// a body "type" that disagrees with it is an error.
func (d *Decoder) DecodeSingle(body []byte, typ string) (*Message, error) {
	if len(body) > MaxEventBytes {
		return nil, core.Errorf(core.ETOOLARGE, "body", "event is %d bytes, over the %d-byte limit", len(body), MaxEventBytes)
	}
	m, err := d.decodeMessage(body, typ, "", nil, nil, d.Now())
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeBatch decodes the body of /v1/batch. A body that is not a batch is
// an error; invalid items are returned as ItemErrors beside the valid ones.
func (d *Decoder) DecodeBatch(body []byte) (msgs []*Message, bad []ItemError, writeKey string, err error) {
	if len(body) > MaxBatchBytes {
		return nil, nil, "", core.Errorf(core.ETOOLARGE, "body", "batch is %d bytes, over the %d-byte limit", len(body), MaxBatchBytes)
	}
	var wb wireBatch
	if err := json.Unmarshal(body, &wb); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case asTypeError(err, &te) && strings.HasPrefix(te.Field, "batch"):
			return nil, nil, "", core.Errorf(core.EINVALID, "batch", "batch must be an array")
		case asTypeError(err, &te) && te.Field != "":
			return nil, nil, "", core.Errorf(core.EINVALID, te.Field, "%s has the wrong type", te.Field)
		case json.Valid(body):
			return nil, nil, "", core.Errorf(core.EINVALID, "body", "body must be a JSON object with a \"batch\" array")
		}
		return nil, nil, "", core.Errorf(core.EINVALIDJSON, "body", "body is not valid JSON")
	}
	items := wb.Batch
	if items == nil {
		return nil, nil, wb.WriteKey, core.Errorf(core.EINVALID, "batch", "batch is required")
	}
	if len(items) == 0 {
		return nil, nil, wb.WriteKey, core.Errorf(core.EINVALID, "batch", "batch is empty")
	}
	if len(items) > MaxBatchItems {
		return nil, nil, wb.WriteKey, core.Errorf(core.ETOOLARGE, "batch", "batch has %d events, over the limit of %d", len(items), MaxBatchItems)
	}
	var batchCtx map[string]any
	if len(wb.Context) > 0 && !bytes.Equal(wb.Context, []byte("null")) {
		if wb.Context[0] != '{' {
			return nil, nil, wb.WriteKey, core.Errorf(core.EINVALID, "context", "context must be an object")
		}
		if err := json.Unmarshal(wb.Context, &batchCtx); err != nil {
			return nil, nil, wb.WriteKey, core.Errorf(core.EINVALID, "context", "context must be an object")
		}
	}
	var batchSentAt *time.Time
	if len(wb.SentAt) > 0 && !bytes.Equal(wb.SentAt, []byte("null")) {
		t, err := parseTime(wb.SentAt)
		if err != nil {
			return nil, nil, wb.WriteKey, core.Errorf(core.EINVALID, "sentAt", "%v", err)
		}
		batchSentAt = &t
	}
	now := d.Now()
	msgs = make([]*Message, 0, len(items))
	for i, raw := range items {
		prefix := "batch[" + strconv.Itoa(i) + "]"
		if len(raw) > MaxEventBytes {
			bad = append(bad, ItemError{i, core.Errorf(core.ETOOLARGE, prefix, "event is %d bytes, over the %d-byte limit", len(raw), MaxEventBytes), raw})
			continue
		}
		m, err := d.decodeMessage(raw, "", prefix+".", batchCtx, batchSentAt, now)
		if err != nil {
			ce := err.(*core.Error)
			bad = append(bad, ItemError{i, ce, raw})
			continue
		}
		msgs = append(msgs, m)
	}
	return msgs, bad, wb.WriteKey, nil
}

var validTypes = map[string]bool{
	core.TypeTrack: true, core.TypeIdentify: true, core.TypePage: true,
	core.TypeScreen: true, core.TypeGroup: true, core.TypeAlias: true,
}

// decodeMessage decodes and validates one message. field prefixes the
// names of fields in errors ("batch[3].").
func (d *Decoder) decodeMessage(raw []byte, typ, field string, batchCtx map[string]any, batchSentAt *time.Time, now time.Time) (*Message, error) {
	var w wireMessage
	if err := json.Unmarshal(raw, &w); err != nil {
		if _, ok := err.(*json.SyntaxError); ok || err.Error() == "unexpected end of JSON input" {
			return nil, core.Errorf(core.EINVALIDJSON, "body", "body is not valid JSON")
		}
		var te *json.UnmarshalTypeError
		if asTypeError(err, &te) && te.Field != "" {
			return nil, core.Errorf(core.EINVALID, field+te.Field, "%s must be a %s", te.Field, te.Type.String())
		}
		if field != "" {
			return nil, core.Errorf(core.EINVALID, strings.TrimSuffix(field, "."), "item must be a JSON object")
		}
		return nil, core.Errorf(core.EINVALID, "body", "body must be a JSON object")
	}
	e := core.Event{ReceivedAt: now}
	switch {
	case typ != "" && w.Type != "" && w.Type != typ:
		return nil, core.Errorf(core.EINVALID, field+"type", "type %q does not match the endpoint's %q", w.Type, typ)
	case typ != "":
		e.Type = typ
	case w.Type == "":
		return nil, core.Errorf(core.EINVALID, field+"type", "type is required")
	case !validTypes[w.Type]:
		return nil, core.Errorf(core.EINVALID, field+"type", "type %q is not one of track, identify, page, screen, group, alias", w.Type)
	default:
		e.Type = w.Type
	}
	var err error
	if e.MessageID, err = idField(w.MessageID, field+"messageId"); err != nil {
		return nil, err
	}
	if e.UserID, err = idField(w.UserID, field+"userId"); err != nil {
		return nil, err
	}
	if e.AnonymousID, err = idField(w.AnonymousID, field+"anonymousId"); err != nil {
		return nil, err
	}
	if e.PreviousID, err = idField(w.PreviousID, field+"previousId"); err != nil {
		return nil, err
	}
	if e.GroupID, err = idField(w.GroupID, field+"groupId"); err != nil {
		return nil, err
	}
	if e.Event, err = stringField(w.Event, field+"event"); err != nil {
		return nil, err
	}
	if e.Name, err = stringField(w.Name, field+"name"); err != nil {
		return nil, err
	}
	if e.UserID == "" && e.AnonymousID == "" {
		return nil, core.Errorf(core.EINVALID, field+"userId", "userId or anonymousId is required")
	}
	switch e.Type {
	case core.TypeTrack:
		if e.Event == "" {
			return nil, core.Errorf(core.EINVALID, field+"event", "event is required for track")
		}
	case core.TypeAlias:
		if e.PreviousID == "" {
			return nil, core.Errorf(core.EINVALID, field+"previousId", "previousId is required for alias")
		}
		if e.UserID == "" {
			return nil, core.Errorf(core.EINVALID, field+"userId", "userId is required for alias")
		}
	case core.TypeGroup:
		if e.GroupID == "" {
			return nil, core.Errorf(core.EINVALID, field+"groupId", "groupId is required for group")
		}
	}
	for _, p := range []struct {
		name string
		raw  json.RawMessage
		dst  *json.RawMessage
	}{{"properties", w.Properties, &e.Properties}, {"traits", w.Traits, &e.Traits}, {"context", w.Context, &e.Context}, {"integrations", w.Integrations, &e.Integrations}} {
		if len(p.raw) == 0 || bytes.Equal(p.raw, []byte("null")) {
			continue
		}
		if p.raw[0] != '{' {
			return nil, core.Errorf(core.EINVALID, field+p.name, "%s must be an object", p.name)
		}
		*p.dst = p.raw
	}
	if batchCtx != nil {
		merged, err := mergeContext(batchCtx, e.Context)
		if err != nil {
			return nil, core.Errorf(core.EINVALID, field+"context", "context must be an object")
		}
		e.Context = merged
	}

	var ts, sentAt time.Time
	if ts, err = optTime(w.Timestamp, field+"timestamp"); err != nil {
		return nil, err
	}
	if e.OriginalTimestamp, err = optTime(w.OriginalTimestamp, field+"originalTimestamp"); err != nil {
		return nil, err
	}
	if sentAt, err = optTime(w.SentAt, field+"sentAt"); err != nil {
		return nil, err
	}
	if sentAt.IsZero() && batchSentAt != nil {
		sentAt = *batchSentAt
	}
	if ts.IsZero() {
		ts = e.OriginalTimestamp
	}
	e.SentAt = sentAt
	e.Timestamp = CorrectTimestamp(ts, sentAt, now)
	if !ts.IsZero() && e.OriginalTimestamp.IsZero() {
		e.OriginalTimestamp = ts
	}
	if e.MessageID == "" {
		e.MessageID = d.NewID()
	}
	return &Message{WriteKey: w.WriteKey, Event: e}, nil
}

// CorrectTimestamp applies Segment's clock-skew correction: the client's
// clock is assumed off by (sentAt - receivedAt), so the event happened at
// receivedAt - (sentAt - timestamp). Without sentAt the timestamp is taken as
// sent; without a timestamp the event happened when it was received.
func CorrectTimestamp(ts, sentAt, receivedAt time.Time) time.Time {
	switch {
	case ts.IsZero():
		return receivedAt
	case sentAt.IsZero():
		return ts
	default:
		return receivedAt.Add(-sentAt.Sub(ts))
	}
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

// idField reads an identifier: a string, or a number (written as sent).
func idField(raw json.RawMessage, field string) (string, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	switch raw[0] {
	case '"':
		var err error
		if s, err = unquote(raw); err != nil {
			return "", core.Errorf(core.EINVALID, field, "%s must be a string", lastName(field))
		}
		s = strings.TrimSpace(s)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s = string(raw)
	default:
		return "", core.Errorf(core.EINVALID, field, "%s must be a string", lastName(field))
	}
	if len(s) > maxIDBytes {
		return "", core.Errorf(core.EINVALID, field, "%s is longer than %d bytes", lastName(field), maxIDBytes)
	}
	return s, nil
}

func stringField(raw json.RawMessage, field string) (string, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	if raw[0] != '"' {
		return "", core.Errorf(core.EINVALID, field, "%s must be a string", lastName(field))
	}
	s, err := unquote(raw)
	if err != nil {
		return "", core.Errorf(core.EINVALID, field, "%s must be a string", lastName(field))
	}
	if len(s) > maxIDBytes {
		return "", core.Errorf(core.EINVALID, field, "%s is longer than %d bytes", lastName(field), maxIDBytes)
	}
	return s, nil
}

// unquote decodes a JSON string; strings without escapes (nearly all ids
// and names) are sliced out without a decoder.
func unquote(raw json.RawMessage) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		plain := true
		for _, c := range inner {
			if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
				plain = false
				break
			}
		}
		if plain {
			return string(inner), nil
		}
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func lastName(field string) string {
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		return field[i+1:]
	}
	return field
}

func optTime(raw json.RawMessage, field string) (time.Time, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, nil
	}
	t, err := parseTime(raw)
	if err != nil {
		return time.Time{}, core.Errorf(core.EINVALID, field, "%s: %v", lastName(field), err)
	}
	return t, nil
}

// parseTime reads an ISO-8601 timestamp (RFC 3339, with or without
// fractional seconds; a missing zone means UTC).
func parseTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("must be an ISO-8601 string")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 timestamp", s)
}

// mergeContext merges an item's context over the batch's: keys of the item
// win; objects present in both are merged recursively.
func mergeContext(batch map[string]any, item json.RawMessage) (json.RawMessage, error) {
	out := deepCopy(batch).(map[string]any)
	if len(item) > 0 {
		var m map[string]any
		if err := json.Unmarshal(item, &m); err != nil {
			return nil, err
		}
		mergeInto(out, m)
	}
	return json.Marshal(out)
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				mergeInto(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = deepCopy(v)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, v := range x {
			s[i] = deepCopy(v)
		}
		return s
	}
	return v
}
