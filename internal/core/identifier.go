package core

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Identifier kinds, in the priority order used to attribute an event.
const (
	KindUserID      = "user_id"
	KindExternal    = "external"
	KindEmail       = "email"
	KindPhone       = "phone"
	KindAnonymousID = "anonymous_id"
)

// Identifier is one way of recognising a person. Value is normalised
// (emails lower-cased, phones in E.164); external ids carry their type in
// the value as "type:id".
type Identifier struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Key is the identifier's unique key in the identity index.
func (i Identifier) Key() string { return i.Kind + ":" + i.Value }

// ParseKey splits a key written by Identifier.Key.
func ParseKey(key string) Identifier {
	k, v, _ := strings.Cut(key, ":")
	return Identifier{Kind: k, Value: v}
}

// Facts are the parts of an event's traits and context that identity and
// profile stages read. They are derived once, when the event is decoded.
type Facts struct {
	Email       string
	Phone       string
	ExternalIDs []Identifier
	Timezone    string
	Consent     map[string]bool // channel -> granted, from traits.consent or context.consent
}

// Channels on which consent is recorded.
var Channels = []string{"email", "sms", "push", "voice", "whatsapp"}

func isChannel(c string) bool {
	for _, ch := range Channels {
		if ch == c {
			return true
		}
	}
	return false
}

type factsTraits struct {
	Email   any            `json:"email"`
	Phone   any            `json:"phone"`
	Consent map[string]any `json:"consent"`
}

type factsContext struct {
	Traits      *factsTraits `json:"traits"`
	Timezone    string       `json:"timezone"`
	ExternalIDs []struct {
		ID   any    `json:"id"`
		Type string `json:"type"`
	} `json:"externalIds"`
	Consent struct {
		CategoryPreferences map[string]any `json:"categoryPreferences"`
	} `json:"consent"`
}

// DeriveFacts reads the identity and profile facts out of an event. Fields
// of the wrong type are ignored rather than failing the event: they are kept
// in the raw event, but cannot identify anyone.
func DeriveFacts(e *Event) Facts {
	var f Facts
	var tr factsTraits
	var ctx factsContext
	if len(e.Traits) > 0 && e.Type == TypeIdentify && mentions(e.Traits, "email", "phone", "consent") {
		_ = json.Unmarshal(e.Traits, &tr)
	}
	if len(e.Context) > 0 && mentions(e.Context, "traits", "timezone", "externalIds", "consent") {
		_ = json.Unmarshal(e.Context, &ctx)
	}
	email, phone := tr.Email, tr.Phone
	if ctx.Traits != nil {
		if email == nil {
			email = ctx.Traits.Email
		}
		if phone == nil {
			phone = ctx.Traits.Phone
		}
	}
	if s, ok := email.(string); ok {
		f.Email = NormalizeEmail(s)
	}
	if s, ok := phone.(string); ok {
		f.Phone = NormalizePhone(s)
	}
	for _, x := range ctx.ExternalIDs {
		id := scalarString(x.ID)
		t := strings.TrimSpace(x.Type)
		if id == "" || t == "" {
			continue
		}
		f.ExternalIDs = append(f.ExternalIDs, Identifier{Kind: KindExternal, Value: t + ":" + id})
	}
	f.Timezone = ctx.Timezone
	for k, v := range ctx.Consent.CategoryPreferences {
		if b, ok := v.(bool); ok && isChannel(strings.ToLower(k)) {
			if f.Consent == nil {
				f.Consent = map[string]bool{}
			}
			f.Consent[strings.ToLower(k)] = b
		}
	}
	for k, v := range tr.Consent {
		if b, ok := v.(bool); ok && isChannel(strings.ToLower(k)) {
			if f.Consent == nil {
				f.Consent = map[string]bool{}
			}
			f.Consent[strings.ToLower(k)] = b
		}
	}
	return f
}

// mentions reports whether raw JSON contains any of the keys as a quoted
// string: a cheap test that lets DeriveFacts skip decoding objects that
// cannot hold a fact.
func mentions(raw []byte, keys ...string) bool {
	for _, k := range keys {
		if bytes.Contains(raw, []byte(`"`+k+`"`)) {
			return true
		}
	}
	return false
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return ""
}

// NormalizeEmail trims and lower-cases an address; it returns "" for a value
// that is not an address.
func NormalizeEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n") || strings.Count(s, "@") != 1 {
		return ""
	}
	return s
}

// NormalizePhone returns s in E.164 (+ and 7 to 15 digits, no leading zero),
// accepting spaces, dots, dashes, parentheses and a leading 00; it returns ""
// for anything else, including national numbers without a country code.
func NormalizePhone(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return ""
		}
	}
	n := b.String()
	if strings.HasPrefix(n, "00") {
		n = "+" + n[2:]
	}
	if len(n) < 8 || len(n) > 16 || n[0] != '+' || n[1] == '0' {
		return ""
	}
	return n
}

// Identifiers lists the identifiers an event carries, highest priority
// first: userId, external ids, email, phone, anonymousId.
func Identifiers(e *Event, f *Facts) []Identifier {
	ids := make([]Identifier, 0, 4)
	if e.UserID != "" {
		ids = append(ids, Identifier{KindUserID, e.UserID})
	}
	ids = append(ids, f.ExternalIDs...)
	if f.Email != "" {
		ids = append(ids, Identifier{KindEmail, f.Email})
	}
	if f.Phone != "" {
		ids = append(ids, Identifier{KindPhone, f.Phone})
	}
	if e.AnonymousID != "" {
		ids = append(ids, Identifier{KindAnonymousID, e.AnonymousID})
	}
	return ids
}
