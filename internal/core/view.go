package core

import (
	"encoding/json"
	"slices"
	"strings"
)

// EventMap is an event as CEL expressions see it (`event`): the Segment message's fields, with
// properties, traits and context decoded.
func EventMap(e *Event) map[string]any {
	if e == nil {
		return map[string]any{}
	}
	m := map[string]any{
		"type":        e.Type,
		"event":       e.Event,
		"name":        e.Name,
		"messageId":   e.MessageID,
		"userId":      e.UserID,
		"anonymousId": e.AnonymousID,
		"timestamp":   e.Timestamp,
		"properties":  decodeObject(e.Properties),
		"traits":      decodeObject(e.Traits),
		"context":     decodeObject(e.Context),
	}
	return m
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
		var v any
		if json.Unmarshal(t.Value, &v) == nil {
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

func decodeObject(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}
