package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// CloudEvents media types (CloudEvents 1.0 HTTP protocol binding).
const (
	ceStructured = "application/cloudevents+json"
	ceBatch      = "application/cloudevents-batch+json"
)

// ceAttributes are the context attributes of the spec; everything else at
// the top level of a structured event is an extension.
var ceAttributes = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true,
	"time": true, "datacontenttype": true, "dataschema": true, "data": true, "data_base64": true,
}

// DecodeCloudEvents decodes a CloudEvents HTTP request in structured,
// batched or binary mode into track events. Mapping: type -> event,
// source + "#" + id -> messageId (ids are unique per source), extension
// "userid" (or subject) -> userId, extension "anonymousid" -> anonymousId,
// time -> timestamp, data (an object) -> properties (other data is wrapped
// as {"data": ...}), and the CloudEvents attributes -> context.cloudevents.
func (d *Decoder) DecodeCloudEvents(h http.Header, body []byte) ([]*Message, []ItemError, error) {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	now := d.Now()
	switch {
	case mt == ceStructured:
		if len(body) > MaxEventBytes {
			return nil, nil, core.Errorf(core.ETOOLARGE, "body", "event is %d bytes, over the %d-byte limit", len(body), MaxEventBytes)
		}
		m, err := d.decodeStructured(body, "", now)
		if err != nil {
			return nil, nil, err
		}
		return []*Message{m}, nil, nil
	case mt == ceBatch:
		if len(body) > MaxBatchBytes {
			return nil, nil, core.Errorf(core.ETOOLARGE, "body", "batch is %d bytes, over the %d-byte limit", len(body), MaxBatchBytes)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			if json.Valid(body) {
				return nil, nil, core.Errorf(core.EINVALID, "body", "a CloudEvents batch must be a JSON array")
			}
			return nil, nil, core.Errorf(core.EINVALIDJSON, "body", "body is not valid JSON")
		}
		if len(items) == 0 {
			return nil, nil, core.Errorf(core.EINVALID, "body", "batch is empty")
		}
		if len(items) > MaxBatchItems {
			return nil, nil, core.Errorf(core.ETOOLARGE, "body", "batch has %d events, over the limit of %d", len(items), MaxBatchItems)
		}
		var msgs []*Message
		var bad []ItemError
		for i, raw := range items {
			prefix := "[" + itoa(i) + "]."
			if len(raw) > MaxEventBytes {
				bad = append(bad, ItemError{i, core.Errorf(core.ETOOLARGE, strings.TrimSuffix(prefix, "."), "event is over the %d-byte limit", MaxEventBytes), raw})
				continue
			}
			m, err := d.decodeStructured(raw, prefix, now)
			if err != nil {
				bad = append(bad, ItemError{i, err.(*core.Error), raw})
				continue
			}
			msgs = append(msgs, m)
		}
		return msgs, bad, nil
	default:
		if len(body) > MaxEventBytes {
			return nil, nil, core.Errorf(core.ETOOLARGE, "body", "event is %d bytes, over the %d-byte limit", len(body), MaxEventBytes)
		}
		m, err := d.decodeBinary(h, body, now)
		if err != nil {
			return nil, nil, err
		}
		return []*Message{m}, nil, nil
	}
}

func (d *Decoder) decodeStructured(raw []byte, prefix string, now time.Time) (*Message, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		if json.Valid(raw) {
			return nil, core.Errorf(core.EINVALID, strings.TrimSuffix(prefix, ".")+"body", "a CloudEvent must be a JSON object")
		}
		return nil, core.Errorf(core.EINVALIDJSON, "body", "body is not valid JSON")
	}
	attrs := map[string]string{}
	ext := map[string]any{}
	for k, v := range obj {
		if k == "data" || k == "data_base64" {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			attrs[k] = s
		} else if !ceAttributes[k] {
			var x any
			_ = json.Unmarshal(v, &x)
			ext[k] = x
			continue
		} else {
			return nil, core.Errorf(core.EINVALID, prefix+k, "%s must be a string", k)
		}
	}
	data := obj["data"]
	if b64, ok := obj["data_base64"]; ok && len(data) == 0 {
		var s string
		if json.Unmarshal(b64, &s) != nil {
			return nil, core.Errorf(core.EINVALID, prefix+"data_base64", "data_base64 must be a base64 string")
		}
		dec, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, core.Errorf(core.EINVALID, prefix+"data_base64", "data_base64 is not valid base64")
		}
		data = wrapData(dec, attrs["datacontenttype"])
	}
	return d.fromCloudEvent(attrs, ext, data, prefix, now)
}

func (d *Decoder) decodeBinary(h http.Header, body []byte, now time.Time) (*Message, error) {
	attrs := map[string]string{}
	ext := map[string]any{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "ce-") || len(vs) == 0 {
			continue
		}
		name := strings.TrimPrefix(lk, "ce-")
		if ceAttributes[name] {
			attrs[name] = vs[0]
		} else {
			attrs[name] = vs[0]
			ext[name] = vs[0]
		}
	}
	if ct := h.Get("Content-Type"); ct != "" {
		attrs["datacontenttype"] = ct
	}
	if attrs["specversion"] == "" {
		return nil, core.Errorf(core.EINVALID, "ce-specversion", "ce-specversion header is required (or send Content-Type: %s)", ceStructured)
	}
	return d.fromCloudEvent(attrs, ext, wrapData(body, attrs["datacontenttype"]), "", now)
}

// wrapData keeps JSON data as is and wraps anything else as a JSON string.
func wrapData(b []byte, contentType string) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if (mt == "" || mt == "application/json" || strings.HasSuffix(mt, "+json")) && json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

func (d *Decoder) fromCloudEvent(attrs map[string]string, ext map[string]any, data json.RawMessage, prefix string, now time.Time) (*Message, error) {
	for _, req := range []string{"specversion", "id", "source", "type"} {
		if attrs[req] == "" {
			return nil, core.Errorf(core.EINVALID, prefix+req, "%s is required", req)
		}
	}
	if attrs["specversion"] != "1.0" {
		return nil, core.Errorf(core.EINVALID, prefix+"specversion", "specversion %q is not supported (want 1.0)", attrs["specversion"])
	}
	e := core.Event{Type: core.TypeTrack, Event: attrs["type"], ReceivedAt: now}
	e.MessageID = attrs["source"] + "#" + attrs["id"]
	e.UserID = attrs["userid"]
	if e.UserID == "" {
		e.UserID = attrs["subject"]
	}
	e.AnonymousID = attrs["anonymousid"]
	if e.UserID == "" && e.AnonymousID == "" {
		return nil, core.Errorf(core.EINVALID, prefix+"userid", "a userid or anonymousid extension (or subject) is required")
	}
	if len(e.MessageID) > 2*maxIDBytes || len(e.UserID) > maxIDBytes || len(e.AnonymousID) > maxIDBytes || len(e.Event) > maxIDBytes {
		return nil, core.Errorf(core.EINVALID, prefix+"id", "an attribute is longer than %d bytes", maxIDBytes)
	}
	var ts time.Time
	if s := attrs["time"]; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, core.Errorf(core.EINVALID, prefix+"time", "time %q is not an RFC 3339 timestamp", s)
		}
		ts = t.UTC()
	}
	e.Timestamp = CorrectTimestamp(ts, time.Time{}, now)
	e.OriginalTimestamp = ts
	if len(data) > 0 && !bytes.Equal(data, []byte("null")) {
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			e.Properties = data
		} else {
			e.Properties, _ = json.Marshal(map[string]json.RawMessage{"data": data})
		}
	}
	ce := map[string]any{}
	for k, v := range attrs {
		if k != "userid" && k != "anonymousid" {
			ce[k] = v
		}
	}
	for k, v := range ext {
		if k != "userid" && k != "anonymousid" {
			ce[k] = v
		}
	}
	e.Context, _ = json.Marshal(map[string]any{"cloudevents": ce})
	return &Message{Event: e}, nil
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
