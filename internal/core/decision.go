package core

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
)

// Decision is one arbitration outcome: what the contact policy (and, for
// `best`, the decisioning) made of an outbound action, the rule that
// decided and why. Every send step visit records one per attempt, so
// "why did she not get the renewal offer?" is answered from the store.
type Decision struct {
	ID         int64     `json:"id"`
	ProfileID  string    `json:"profileId"`
	At         time.Time `json:"at"`
	Key        string    `json:"key"` // <instance>:<step number>:<attempt>; unique
	InstanceID string    `json:"instanceId,omitempty"`
	JourneyID  string    `json:"journeyId,omitempty"`
	Version    int       `json:"version,omitempty"`
	Step       string    `json:"step,omitempty"`
	Channel    string    `json:"channel,omitempty"`
	Category   string    `json:"category,omitempty"`
	Offer      string    `json:"offer,omitempty"`
	Outcome    string    `json:"outcome"`           // Outcome* constants
	Until      time.Time `json:"until,omitzero"`    // for a delay: when it is decided again
	Rule       string    `json:"rule,omitempty"`    // the rule that decided; "" when nothing objected
	Reason     string    `json:"reason"`            // one sentence for the decision log
	Explain    []string  `json:"explain,omitempty"` // how `best` chose the channel or offer
}

// Events the engine learns from: message engagement (properties.channel
// names the channel) feeds channel choice; a touchpoint decision
// (properties.offers lists the offers shown, each {id, bucket}) counts
// offer impressions. Issue 7's delivery receipts are these events.
const (
	EventMessageDelivered   = "message_delivered"
	EventMessageOpened      = "message_opened"
	EventMessageClicked     = "message_clicked"
	EventTouchpointDecision = "touchpoint_decision"
)

// EventChannel is the channel an event came through, for counting a
// customer's interactions: properties.channel, else context.channel,
// else "other".
func EventChannel(e *Event) string {
	for _, raw := range [][]byte{e.Properties, e.Context} {
		if len(raw) == 0 || !bytes.Contains(raw, []byte(`"channel"`)) {
			continue
		}
		var x struct {
			Channel string `json:"channel"`
		}
		if json.Unmarshal(raw, &x) == nil && x.Channel != "" {
			return x.Channel
		}
	}
	return "other"
}

// Decision outcomes.
const (
	OutcomeSend     = "send"
	OutcomeDelay    = "delay"
	OutcomeSuppress = "suppress"
)

// Contact is one message a customer was sent (a send the contact policy
// let through), kept in the profile for frequency caps and priority.
type Contact struct {
	At       time.Time `json:"at"`
	Channel  string    `json:"channel"`
	Category string    `json:"category,omitempty"`
	Journey  string    `json:"journey,omitempty"`
	Priority int       `json:"priority,omitempty"`
	Offer    string    `json:"offer,omitempty"`
}

// MaxContacts bounds how many contacts a profile keeps.
const MaxContacts = 256

// AddContact records a contact and drops those before keepAfter (and the
// oldest beyond MaxContacts).
func (p *Profile) AddContact(c Contact, keepAfter time.Time) {
	p.Contacts = append(p.Contacts, c)
	p.pruneContacts(keepAfter)
}

func (p *Profile) pruneContacts(keepAfter time.Time) {
	slices.SortStableFunc(p.Contacts, func(a, b Contact) int { return a.At.Compare(b.At) })
	i := 0
	for i < len(p.Contacts) && p.Contacts[i].At.Before(keepAfter) {
		i++
	}
	if n := len(p.Contacts) - i; n > MaxContacts {
		i += n - MaxContacts
	}
	if i > 0 {
		p.Contacts = append([]Contact(nil), p.Contacts[i:]...)
	}
	if len(p.Contacts) == 0 {
		p.Contacts = nil
	}
}
