package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/overture-cjo/overture/internal/audience"
	"github.com/overture-cjo/overture/internal/computed"
	"github.com/overture-cjo/overture/internal/decide"
	"github.com/overture-cjo/overture/internal/journey"
	"github.com/overture-cjo/overture/internal/message"
	"github.com/overture-cjo/overture/internal/policy"
	"github.com/overture-cjo/overture/internal/touchpoint"
)

// extras are the definitions of a directory besides its journeys.
type extras struct {
	traits       *computed.Set
	audiences    []*audience.Audience
	policy       *policy.Policy // nil: none
	policyFile   string         // where it came from
	offers       []*decide.Offer
	interactions []*touchpoint.Policy
	templates    []*message.Template
}

// loadDerived loads the computed traits (DIR/traits), audiences
// (DIR/audiences), contact policy (the one file in DIR/policy), offers
// (DIR/offers) and interaction policies (DIR/interactions) of a
// definitions directory whose journeys are defs and, if journeysOK (defs
// are all of them), checks what spans them: each in_journey of an
// audience or interaction rule names a journey (in_step, a step of it), a
// journey's audience trigger an audience, and a send step's named offer
// an offer (when there are offers).
// Problems come back as one journey.ErrorList.
func loadDerived(dir string, defs []*journey.Definition, journeysOK bool) (*extras, error) {
	var errs journey.ErrorList
	collect := func(err error) error {
		if l := (journey.ErrorList)(nil); errors.As(err, &l) {
			errs = append(errs, l...)
			return nil
		}
		return err
	}
	traits, err := computed.Load(filepath.Join(dir, "traits"))
	if err := collect(err); err != nil {
		return nil, err
	}
	auds, err := audience.Load(filepath.Join(dir, "audiences"))
	if err := collect(err); err != nil {
		return nil, err
	}
	pol, polFile, err := loadPolicy(filepath.Join(dir, "policy"))
	if err := collect(err); err != nil {
		return nil, err
	}
	offers, err := decide.Load(filepath.Join(dir, "offers"))
	if err := collect(err); err != nil {
		return nil, err
	}
	inters, err := touchpoint.Load(filepath.Join(dir, "interactions"))
	if err := collect(err); err != nil {
		return nil, err
	}
	templates, err := message.Load(filepath.Join(dir, "templates"))
	if err := collect(err); err != nil {
		return nil, err
	}
	// Every template is rendered with sample data (its own sample: over
	// the defaults), strictly: a typo'd variable fails here, not at send.
	for _, t := range templates {
		if err := collect(t.Check(message.SampleVars())); err != nil {
			return nil, err
		}
	}
	if journeysOK {
		journeys, known := map[string]bool{}, map[string]bool{}
		for _, d := range defs {
			journeys[d.ID] = true
		}
		for _, a := range auds {
			known[a.ID] = true
			errs = append(errs, a.CheckJourneys(func(id string) bool { return journeys[id] })...)
		}
		steps := map[string]map[string]bool{}
		for _, d := range defs {
			steps[d.ID] = map[string]bool{}
			for _, st := range d.StepOrder {
				steps[d.ID][st] = true
			}
		}
		for _, p := range inters {
			errs = append(errs, p.CheckJourneys(func(j, step string) bool {
				return steps[j] != nil && (step == "" || steps[j][step])
			})...)
		}
		offerIDs := map[string]bool{}
		for _, o := range offers {
			offerIDs[o.ID] = true
		}
		byTemplate := map[string]*message.Template{}
		for _, t := range templates {
			byTemplate[t.ID] = t
		}
		for _, d := range defs {
			for _, name := range d.StepOrder {
				st := d.Steps[name]
				if st.Type != journey.StepSend || len(templates) == 0 {
					continue
				}
				path := journey.JoinPath(journey.JoinPath("steps", name), "template")
				switch t := byTemplate[st.Template]; {
				case t == nil:
					errs = append(errs, &journey.Error{Pos: journey.Pos{File: d.File, Line: 1, Column: 1}, Path: path,
						Message: fmt.Sprintf("no template %q in %s", st.Template, filepath.Join(dir, "templates"))})
				case st.Channel != journey.ChannelBest && !t.Has(st.Channel):
					errs = append(errs, &journey.Error{Pos: journey.Pos{File: d.File, Line: 1, Column: 1}, Path: path,
						Message: fmt.Sprintf("template %q has no %s content", st.Template, st.Channel)})
				}
			}
		}
		for _, d := range defs {
			for _, name := range d.StepOrder {
				if st := d.Steps[name]; st.Type == journey.StepSend && st.Offer != "" && st.Offer != journey.OfferBest && len(offers) > 0 && !offerIDs[st.Offer] {
					errs = append(errs, &journey.Error{Pos: journey.Pos{File: d.File, Line: 1, Column: 1}, Path: journey.JoinPath(journey.JoinPath("steps", name), "offer"),
						Message: fmt.Sprintf("no offer %q in %s", st.Offer, filepath.Join(dir, "offers"))})
				}
			}
		}
		for _, d := range defs {
			if id := d.Entry.Trigger.Audience; id != "" && !known[id] {
				errs = append(errs, &journey.Error{Pos: d.Entry.Trigger.Pos, Path: "entry.trigger.audience",
					Message: fmt.Sprintf("no audience %q in %s", id, filepath.Join(dir, "audiences"))})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &extras{traits: traits, audiences: auds, policy: pol, policyFile: polFile, offers: offers, interactions: inters, templates: templates}, nil
}

// loadPolicy parses the contact policy in dir: its one definition file
// (nil if dir does not exist or holds none).
func loadPolicy(dir string) (*policy.Policy, string, error) {
	files, err := journey.DefinitionFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil || len(files) == 0 {
		return nil, "", err
	}
	if len(files) > 1 {
		return nil, "", journey.ErrorList{&journey.Error{Pos: journey.Pos{File: files[1], Line: 1, Column: 1},
			Message: fmt.Sprintf("a second contact policy (the first is %s): the policy directory holds one file", files[0])}}
	}
	src, err := os.ReadFile(files[0])
	if err != nil {
		return nil, "", err
	}
	p, err := policy.Parse(files[0], src)
	return p, files[0], err
}

// printProblems prints the problems in err, if it is a journey.ErrorList,
// to stderr one per line (as "overture validate" prints them) and returns
// how many there were: 0 if err is not an ErrorList.
func printProblems(stderr io.Writer, err error) int {
	var list journey.ErrorList
	if !errors.As(err, &list) {
		return 0
	}
	for _, e := range list {
		fmt.Fprintln(stderr, e)
	}
	return len(list)
}
