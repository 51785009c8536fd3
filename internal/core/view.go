package core

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EventMap is an event as CEL expressions see it (`event`): the Segment message's fields, with
// properties, traits and context decoded.
func EventMap(e *Event) map[string]any {
	if e == nil {
		return map[string]any{}
	}
	return EventMapWith(e, DecodeObject(e.Properties), DecodeObject(e.Traits), DecodeObject(e.Context))
}

// EventMapWith is EventMap(e) with properties, traits and context in place
// of the event's own decoded ones, for callers that decode them only when
// needed. e must not be nil.
func EventMapWith(e *Event, properties, traits, context map[string]any) map[string]any {
	return map[string]any{
		"type":        e.Type,
		"event":       e.Event,
		"name":        e.Name,
		"messageId":   e.MessageID,
		"userId":      e.UserID,
		"anonymousId": e.AnonymousID,
		"timestamp":   e.Timestamp,
		"properties":  properties,
		"traits":      traits,
		"context":     context,
	}
}

// ProfileMap is a profile as CEL expressions see it (`profile`): id,
// traits (decoded), counts, consent, timezone, firstSeen, lastSeen, events
// and audiences (the ids of those it is a member of). The caller adds
// "computed" (the computed traits' values), which core cannot work out.
func ProfileMap(p *Profile) map[string]any {
	if p == nil {
		return map[string]any{}
	}
	traits := make(map[string]any, len(p.Traits))
	for k, t := range p.Traits {
		if v, ok := decodeValue(t.Value); ok {
			traits[k] = v
		}
	}
	counts := make(map[string]any, len(p.Counts))
	for k, n := range p.Counts {
		counts[k] = n
	}
	consent := make(map[string]any, len(p.Consent))
	for ch, c := range p.Consent {
		consent[ch] = map[string]any{"granted": c.Granted, "at": c.At}
	}
	audiences := []any{}
	for id, m := range p.Audiences {
		if m.Member {
			audiences = append(audiences, id)
		}
	}
	slices.SortFunc(audiences, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	return map[string]any{
		"id":        p.ID,
		"audiences": audiences,
		"traits":    traits,
		"counts":    counts,
		"consent":   consent,
		"timezone":  p.TimezoneName(),
		"firstSeen": p.FirstSeen,
		"lastSeen":  p.LastSeen,
		"events":    p.Events,
	}
}

// DecodeObject decodes a JSON object; it is empty if raw is empty or not
// an object.
func DecodeObject(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}

// decodeValue decodes a JSON value as json.Unmarshal into an any would,
// without its cost for the common scalars: a string without escapes, a
// number, true, false, null.
func decodeValue(raw json.RawMessage) (any, bool) {
	switch n := len(raw); {
	case n == 0:
		return nil, false
	case raw[0] == '"' && n >= 2 && raw[n-1] == '"' && !bytes.ContainsAny(raw[1:n-1], "\\\"") && utf8.Valid(raw[1:n-1]) && !hasControl(raw[1:n-1]):
		return string(raw[1 : n-1]), true
	case string(raw) == "true":
		return true, true
	case string(raw) == "false":
		return false, true
	case string(raw) == "null":
		return nil, true
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil && isJSONNumber(raw) {
			return f, true
		}
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	return v, true
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// isJSONNumber reports whether b is a number in JSON's grammar (which is
// stricter than strconv's: no "+", "0x", "inf", "1_000", leading zeros).
func isJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i == len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}
