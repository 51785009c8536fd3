package message

import (
	"maps"
	"time"
)

// Vars are what a template sees. A nil map is seen as an empty one,
// except Offer: nil is no offer (`{% if offer %}` is false).
type Vars struct {
	// Profile is the customer as `profile`: core.ProfileMap (id, traits,
	// counts, consent, timezone, firstSeen, lastSeen, events, audiences)
	// plus "computed", the computed traits.
	Profile map[string]any
	// Event is the event that triggered the journey as `event`:
	// core.EventMap (type, event, name, messageId, userId, anonymousId,
	// timestamp, properties, traits, context).
	Event map[string]any
	// Journey is the journey instance's variables as `journey`.
	Journey map[string]any
	// Offer is the offer the message carries as `offer` (id, name,
	// description, category, value), or nil.
	Offer map[string]any
}

// sample is what a template file declares under sample:, to be merged
// over the default sample data.
type sample struct {
	profile, event, journey, offer map[string]any
	offerSet                       bool // offer given, possibly null
}

// SampleVars returns the sample data templates are checked with: a
// customer with traits name, first_name, last_name, email, phone and plan,
// consent to email and sms, a "Cart Updated" event with properties,
// journey variables and an offer. Each call returns new maps, which the
// caller may change. The values are fixed (times included), so that a
// check renders the same way every time.
func SampleVars() Vars {
	seen := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	first := time.Date(2023, 6, 12, 14, 5, 0, 0, time.UTC)
	return Vars{
		Profile: map[string]any{
			"id":        "sample-customer",
			"audiences": []any{"high-value"},
			"traits": map[string]any{
				"name":       "Ada Lovelace",
				"first_name": "Ada",
				"last_name":  "Lovelace",
				"email":      "ada@example.com",
				"phone":      "+447700900123",
				"plan":       "postpaid",
			},
			"counts": map[string]any{"Order Completed": int64(3), "Cart Updated": int64(5)},
			"consent": map[string]any{
				"email": map[string]any{"granted": true, "at": first},
				"sms":   map[string]any{"granted": true, "at": first},
			},
			"timezone":  "Europe/London",
			"firstSeen": first,
			"lastSeen":  seen,
			"events":    int64(42),
			"computed":  map[string]any{},
		},
		Event: map[string]any{
			"type":        "track",
			"event":       "Cart Updated",
			"name":        "",
			"messageId":   "sample-message-1",
			"userId":      "sample-customer",
			"anonymousId": "",
			"timestamp":   seen,
			"properties": map[string]any{
				"cart_id":  "cart-1042",
				"total":    89.9,
				"currency": "GBP",
				"url":      "https://shop.example.com/cart/cart-1042",
				"items": []any{
					map[string]any{"sku": "SKU-1", "name": "Trail running shoes", "price": 74.9, "quantity": 1},
					map[string]any{"sku": "SKU-2", "name": "Running socks", "price": 7.5, "quantity": 2},
				},
			},
			"traits":  map[string]any{},
			"context": map[string]any{},
		},
		Journey: map[string]any{
			"cart_id": "cart-1042",
		},
		Offer: map[string]any{
			"id":          "renewal-discount",
			"name":        "20% off a 24-month renewal",
			"description": "Renew for 24 months and pay 20% less.",
			"category":    "retention",
			"value":       120.0,
		},
	}
}

// Sample returns SampleVars with the values the template declares
// (sample:) merged over them: what Check renders with.
func (t *Template) Sample() Vars { return t.withSample(SampleVars()) }

// withSample returns v with the template's sample values merged over it;
// v's maps are not changed.
func (t *Template) withSample(v Vars) Vars {
	s := t.sample
	v.Profile = merge(v.Profile, s.profile)
	v.Event = merge(v.Event, s.event)
	v.Journey = merge(v.Journey, s.journey)
	if s.offerSet {
		v.Offer = nil
		if s.offer != nil {
			v.Offer = merge(nil, s.offer)
		}
	}
	return v
}

// merge returns a copy of dst with src merged over it: a map in src is
// merged into the map under the same key in dst, any other value
// replaces dst's. Neither is changed.
func merge(dst, src map[string]any) map[string]any {
	if src == nil {
		return dst
	}
	out := maps.Clone(dst)
	if out == nil {
		out = make(map[string]any, len(src))
	}
	for k, v := range src {
		sm, ok1 := v.(map[string]any)
		dm, ok2 := out[k].(map[string]any)
		if ok1 && ok2 {
			out[k] = merge(dm, sm)
		} else {
			out[k] = v
		}
	}
	return out
}

// bindings returns v as Liquid bindings; strictly, with strict maps.
func (v Vars) bindings(strictly bool) map[string]any {
	b := make(map[string]any, 4)
	for _, r := range []struct {
		name string
		m    map[string]any
	}{{"profile", v.Profile}, {"event", v.Event}, {"journey", v.Journey}, {"offer", v.Offer}} {
		switch {
		case r.m == nil && r.name == "offer":
			b[r.name] = nil // not a nil map, which Liquid holds true
		case r.m == nil:
			b[r.name] = map[string]any{}
		default:
			b[r.name] = r.m
		}
		if strictly && b[r.name] != nil {
			b[r.name] = strict(b[r.name], r.name)
		}
	}
	return b
}
