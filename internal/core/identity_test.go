package core

import (
	"fmt"
	"testing"
)

// resolver runs Graph.Resolve over a sequence of events, like the router.
type resolver struct {
	g *Graph
	n int
}

func (r *resolver) newID() string { r.n++; return fmt.Sprintf("p%d", r.n) }

func (r *resolver) resolve(e *Event) Resolution {
	f := DeriveFacts(e)
	return r.g.Resolve(Identifiers(e, &f), AliasKeys(e), e.UserID, r.newID)
}

func identify(user, anon, email string) *Event {
	e := &Event{Type: TypeIdentify, UserID: user, AnonymousID: anon}
	if email != "" {
		e.Traits = []byte(`{"email":"` + email + `"}`)
	}
	return e
}

func TestResolveRules(t *testing.T) {
	type step struct {
		ev      *Event
		profile string
		merged  []string
		created bool
		nConfl  int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"anonymous then identify merges nothing, binds userId to the anonymous profile", []step{
			{ev: identify("", "a1", ""), profile: "p1", created: true},
			{ev: identify("u1", "a1", ""), profile: "p1"},
		}},
		{"known user then new anonymous device merges the anonymous profile into the known one", []step{
			{ev: identify("u1", "", ""), profile: "p1", created: true},
			{ev: identify("", "a2", ""), profile: "p2", created: true},
			{ev: identify("u1", "a2", ""), profile: "p1", merged: []string{"p2"}},
		}},
		{"email shared by an anonymous and a known profile: the known one survives", []step{
			{ev: identify("", "a1", "Ann@Example.com"), profile: "p1", created: true},
			{ev: identify("u9", "a9", ""), profile: "p2", created: true},
			{ev: identify("u9", "", "ann@example.com "), profile: "p2", merged: []string{"p1"}},
		}},
		{"two different userIds are never merged by a shared email", []step{
			{ev: identify("u1", "", "x@example.com"), profile: "p1", created: true},
			{ev: identify("u2", "", "x@example.com"), profile: "p2", created: true, nConfl: 1},
		}},
		{"an anonymous id already on another known user is not stolen", []step{
			{ev: identify("u1", "a1", ""), profile: "p1", created: true},
			{ev: identify("u2", "a1", ""), profile: "p2", created: true, nConfl: 1},
		}},
		{"alias merges two known users explicitly", []step{
			{ev: identify("old", "", ""), profile: "p1", created: true},
			{ev: identify("new", "", ""), profile: "p2", created: true},
			{ev: &Event{Type: TypeAlias, UserID: "new", PreviousID: "old"}, profile: "p2", merged: []string{"p1"}},
		}},
		{"alias to an unknown new userId keeps the old profile", []step{
			{ev: identify("", "anon-1", ""), profile: "p1", created: true},
			{ev: &Event{Type: TypeAlias, UserID: "u5", PreviousID: "anon-1"}, profile: "p1"},
		}},
		{"a replayed alias does not merge what previousId's other key gained since", []step{
			{ev: identify("u3", "", ""), profile: "p1", created: true},
			{ev: &Event{Type: TypeAlias, UserID: "u3", PreviousID: "u2"}, profile: "p1"},
			{ev: identify("u2", "", ""), profile: "p2", created: true},
			{ev: &Event{Type: TypeAlias, UserID: "u3", PreviousID: "u2"}, profile: "p1"},
		}},
		{"alias from an unknown previousId binds it to the user's profile", []step{
			{ev: identify("u5", "", ""), profile: "p1", created: true},
			{ev: &Event{Type: TypeAlias, UserID: "u5", PreviousID: "never-seen"}, profile: "p1"},
			{ev: identify("", "never-seen", ""), profile: "p1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &resolver{g: NewGraph()}
			for i, s := range tt.steps {
				res := r.resolve(s.ev)
				if res.ProfileID != s.profile || res.Created != s.created || fmt.Sprint(res.Merged) != fmt.Sprint(s.merged) && len(s.merged)+len(res.Merged) > 0 || len(res.Conflicts) != s.nConfl {
					t.Fatalf("step %d: got %+v, want profile %s created %v merged %v conflicts %d", i, res, s.profile, s.created, s.merged, s.nConfl)
				}
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"+44 20 7946 0958": "+442079460958", "0044 (20) 7946-0958": "+442079460958", "+1.415.555.2671": "+14155552671",
		"2079460958": "", "+0 123 4567": "", "+44 20 ABC": "", "+1234567890123456": "",
	} {
		if got := NormalizePhone(in); got != want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{" Ann@Example.COM ": "ann@example.com", "no-at": "", "a@": "", "@b": "", "a b@c": ""} {
		if got := NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
