package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/deliver"
	"github.com/overture-cjo/overture/internal/message"
)

// Tracker adds engagement tracking to a message about to go out: rewrites
// an email's links and adds its open pixel, and sets Receipt.
type Tracker interface {
	Track(e *core.OutboxEntry, m *deliver.Message)
}

// Renderer is the Preparer of the server: it renders each message's
// template for its customer as they are now, with the event that started
// the journey, the journey's variables and the offer, and addresses it
// from the customer's traits.
//
// Addresses: email goes to the trait email; sms, mms, voice and whatsapp
// to the trait phone; push to the trait push_token; a webhook to the
// connector's URL.
type Renderer struct {
	Store core.Store
	Clock core.Clock
	// Templates returns the templates in force.
	Templates func() *message.Set
	// Offer returns an offer as the template's `offer` (id, name,
	// description, category, value), or nil if there is none by that id.
	Offer func(id string) map[string]any
	// Profile returns a customer's latest state if it is at hand (the
	// engine's views), else false and the store is read. Optional.
	Profile func(id string) (*core.Profile, bool)
	// Computed returns the values of a customer's computed traits at now,
	// as `profile.computed`. Optional.
	Computed func(p *core.Profile, now time.Time) map[string]any
	// Tracker adds tracking; nil: none.
	Tracker Tracker
}

// Address traits, by channel.
var addressTrait = map[string]string{
	deliver.ChannelEmail: "email", deliver.ChannelSMS: "phone", deliver.ChannelMMS: "phone",
	deliver.ChannelVoice: "phone", deliver.ChannelWhatsApp: "phone", deliver.ChannelPush: "push_token",
}

// Prepare implements Preparer. A message whose customer is gone, whose
// template or address is missing, whose content fails to render, or whose
// channel the customer withdrew consent for after it was queued, cannot be
// sent: its Prepared says why.
func (r *Renderer) Prepare(ctx context.Context, entries []*core.OutboxEntry) ([]Prepared, error) {
	profiles := map[string]*core.Profile{}
	var missing []string
	var seqs []int64
	for _, e := range entries {
		if _, ok := profiles[e.ProfileID]; ok {
			continue
		}
		if r.Profile != nil {
			if p, ok := r.Profile(e.ProfileID); ok {
				profiles[e.ProfileID] = p
				continue
			}
		}
		profiles[e.ProfileID] = nil
		missing = append(missing, e.ProfileID)
	}
	if len(missing) > 0 {
		loaded, err := r.Store.LoadProfiles(ctx, missing)
		if err != nil {
			return nil, err
		}
		for id, p := range loaded {
			profiles[id] = p
		}
	}
	templates := r.Templates()
	usesEvent := map[string]bool{} // by template id: could it read `event`?
	for _, e := range entries {
		uses, ok := usesEvent[e.Template]
		if !ok {
			t := templates.Get(e.Template)
			uses = t != nil && t.Uses("event") // a missing template is reported by prepare
			usesEvent[e.Template] = uses
		}
		if e.EventSeq > 0 && uses {
			seqs = append(seqs, e.EventSeq)
		}
	}
	events := map[int64]*core.Event{}
	if len(seqs) > 0 {
		var err error
		if events, err = r.Store.EventsBySeq(ctx, seqs); err != nil {
			return nil, err
		}
	}
	now := r.Clock.Now()
	out := make([]Prepared, len(entries))
	for i, e := range entries {
		m, err := r.prepare(e, templates, profiles[e.ProfileID], events[e.EventSeq], now)
		out[i] = Prepared{Msg: m, Err: err}
	}
	return out, nil
}

func (r *Renderer) prepare(e *core.OutboxEntry, set *message.Set, p *core.Profile, ev *core.Event, now time.Time) (*deliver.Message, error) {
	if p == nil {
		return nil, errors.New("the customer's profile is gone (erased)")
	}
	if c, ok := p.Consent[e.Channel]; ok && !c.Granted && c.At.After(e.CreatedAt) {
		return nil, fmt.Errorf("the customer withdrew consent for %s at %s, after the message was queued", e.Channel, c.At.UTC().Format(time.RFC3339))
	}
	t := set.Get(e.Template)
	if t == nil {
		return nil, fmt.Errorf("template %q is not defined", e.Template)
	}
	vars := message.Vars{Profile: core.ProfileMap(p), Event: map[string]any{}, Journey: map[string]any{}}
	vars.Profile["computed"] = map[string]any{}
	if r.Computed != nil {
		vars.Profile["computed"] = r.Computed(p, now)
	}
	if ev != nil {
		vars.Event = core.EventMap(ev)
	}
	if e.Vars != "" {
		if err := json.Unmarshal([]byte(e.Vars), &vars.Journey); err != nil {
			return nil, fmt.Errorf("the journey variables are not JSON: %v", err)
		}
	}
	if e.Offer != "" && r.Offer != nil {
		if vars.Offer = r.Offer(e.Offer); vars.Offer == nil {
			return nil, fmt.Errorf("offer %q is not defined", e.Offer)
		}
	}
	out, err := t.Render(e.Channel, vars)
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", e.Template, err)
	}
	m := &deliver.Message{Key: e.Key, Channel: e.Channel,
		Subject: out.Subject, HTML: out.HTML, Text: out.Text, Body: out.Body, MediaURL: out.MediaURL,
		Title: out.Title, DeepLink: out.DeepLink, Script: out.Script, IVRFlow: out.IVRFlow, JSON: out.JSON,
		Meta: map[string]string{"profile": e.ProfileID, "journey": e.JourneyID, "version": strconv.Itoa(e.Version),
			"step": e.Step, "template": e.Template, "message": strconv.FormatInt(e.ID, 10)}}
	if e.Offer != "" {
		m.Meta["offer"] = e.Offer
	}
	if trait, ok := addressTrait[e.Channel]; ok {
		to, _ := vars.Profile["traits"].(map[string]any)[trait].(string)
		if to == "" {
			return nil, fmt.Errorf("the customer has no %s trait to send %s to", trait, e.Channel)
		}
		m.To = to
	}
	if r.Tracker != nil {
		r.Tracker.Track(e, m)
	}
	return m, nil
}
