package decide

import (
	"slices"
	"testing"
)

func channels(c ChannelChoice) []string {
	var out []string
	for _, r := range c.Ranked {
		out = append(out, r.Channel)
	}
	return out
}

var population = map[string]Engagement{
	"email": {Delivered: 1000, Engaged: 300},
	"sms":   {Delivered: 1000, Engaged: 200},
	"push":  {Delivered: 1000, Engaged: 100},
}

func only(chs ...string) func(string) bool {
	return func(ch string) bool { return slices.Contains(chs, ch) }
}

func TestChooseChannelPreference(t *testing.T) {
	c := ChooseChannel(ChannelInput{
		Candidates: []string{"email", "sms", "push"},
		Preferred:  "push",
		Population: population,
	})
	if c.Channel != "push" || c.Reason != "stated preference" || !c.Ranked[0].Preferred {
		t.Errorf("preference: %+v", c)
	}
	if got := channels(c); !slices.Equal(got, []string{"push", "email", "sms"}) {
		t.Errorf("ranked %v", got)
	}
	if want := "stated preference; rate 0.1 = (20 × population 0.1 + 0 engaged) / (20 + 0 delivered)"; c.Ranked[0].Reason != want {
		t.Errorf("reason %q, want %q", c.Ranked[0].Reason, want)
	}

	// A preference without consent does not count.
	c = ChooseChannel(ChannelInput{
		Candidates: []string{"email", "sms", "push"},
		Consented:  only("sms", "push"),
		Preferred:  "email",
		Population: population,
	})
	want := "highest engagement: sms 0.2 (0 of 0 own, population 0.2) over push 0.1 (0 of 0 own, population 0.1); not consented: email; stated preference email is not consented"
	if c.Channel != "sms" || c.Reason != want {
		t.Errorf("got %s: %q\nwant sms: %q", c.Channel, c.Reason, want)
	}
	if got := channels(c); !slices.Equal(got, []string{"sms", "push", "email"}) || c.Ranked[2].Consented || c.Ranked[2].Reason != "not consented" {
		t.Errorf("ranked %+v", c.Ranked)
	}

	// Nor does one that is not a candidate.
	c = ChooseChannel(ChannelInput{Candidates: []string{"email", "sms"}, Preferred: "whatsapp", Population: population})
	if c.Channel != "email" || c.Reason != "highest engagement: email 0.3 (0 of 0 own, population 0.3) over sms 0.2 (0 of 0 own, population 0.2); stated preference whatsapp is not a candidate" {
		t.Errorf("not a candidate: %s %q", c.Channel, c.Reason)
	}
}

func TestChooseChannelConsent(t *testing.T) {
	c := ChooseChannel(ChannelInput{
		Candidates: []string{"email", "sms"},
		Consented:  only("push"),
		Preferred:  "email",
		Population: population,
	})
	if c.Channel != "" || c.Reason != "no consented channel among email, sms" || len(c.Ranked) != 2 {
		t.Errorf("no consent: %+v", c)
	}
	c = ChooseChannel(ChannelInput{})
	if c.Channel != "" || c.Reason != "no candidate channels" {
		t.Errorf("no candidates: %+v", c)
	}
}

func TestChooseChannelShrinkage(t *testing.T) {
	// One open out of one push is no proof: email's population rate of
	// 0.3 beats push's (20 × 0.1 + 1) / 21 = 0.143.
	in := ChannelInput{
		Candidates: []string{"push", "email"},
		Own:        map[string]Engagement{"push": {Delivered: 1, Engaged: 1}},
		Population: population,
	}
	c := ChooseChannel(in)
	if c.Channel != "email" {
		t.Errorf("one open: %s (%s)", c.Channel, c.Reason)
	}
	if r := c.Ranked[1]; r.Channel != "push" || r.Rate != 3.0/21 || r.PopulationRate != 0.1 || r.Own != (Engagement{1, 1}) {
		t.Errorf("push: %+v", r)
	}
	if want := "highest engagement: email 0.3 (0 of 0 own, population 0.3) over push 0.14 (1 of 1 own, population 0.1)"; c.Reason != want {
		t.Errorf("reason %q\nwant %q", c.Reason, want)
	}

	// Forty opens of fifty pushes, and five of fifty emails, are: the
	// customer's own record dominates.
	in.Own = map[string]Engagement{"push": {Delivered: 50, Engaged: 40}, "email": {Delivered: 50, Engaged: 5}}
	c = ChooseChannel(in)
	if c.Channel != "push" || c.Ranked[0].Rate != 42.0/70 || c.Ranked[1].Rate != 11.0/70 {
		t.Errorf("own data: %+v", c)
	}

	// A weaker prior lets less data count: with Strength 1, one open of
	// one gives (0.1 + 1) / 2 = 0.55.
	in.Own = map[string]Engagement{"push": {Delivered: 1, Engaged: 1}}
	in.Strength = 1
	if c = ChooseChannel(in); c.Channel != "push" {
		t.Errorf("strength 1: %s (%s)", c.Channel, c.Reason)
	}

	// Nonsense counts are cleaned: engaged at most delivered, none negative.
	in.Strength = 0
	in.Own = map[string]Engagement{"push": {Delivered: 2, Engaged: 9}, "email": {Delivered: -3, Engaged: -1}}
	c = ChooseChannel(in)
	if r := c.Ranked[0]; r.Channel != "email" || r.Own != (Engagement{}) || r.Rate != 0.3 {
		t.Errorf("cleaned email: %+v", r)
	}
	if r := c.Ranked[1]; r.Own != (Engagement{2, 2}) || r.Rate != 4.0/22 {
		t.Errorf("cleaned push: %+v", r)
	}
}

func TestChooseChannelTies(t *testing.T) {
	// No data anywhere: every channel at DefaultChannelRate, so the
	// candidate order decides; repeated candidates count once.
	c := ChooseChannel(ChannelInput{Candidates: []string{"sms", "email", "sms", "push"}})
	if c.Channel != "sms" || !slices.Equal(channels(c), []string{"sms", "email", "push"}) {
		t.Errorf("ties: %+v", c)
	}
	want := "highest engagement: sms 0.1 (0 of 0 own, population 0.1 (no data)) over email 0.1 (0 of 0 own, population 0.1 (no data)), push 0.1 (0 of 0 own, population 0.1 (no data)); tied with email, first in candidate order"
	if c.Reason != want {
		t.Errorf("reason %q\nwant %q", c.Reason, want)
	}
	// Deterministic.
	for range 10 {
		if again := ChooseChannel(ChannelInput{Candidates: []string{"sms", "email", "sms", "push"}}); again.Reason != c.Reason {
			t.Fatal("not deterministic")
		}
	}
}
