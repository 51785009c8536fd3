package analytics

import (
	"reflect"
	"strings"
	"testing"
)

// journeys is a small hand-written set of paths from entry to the end
// marker.
var journeys = [][]string{
	{"page_viewed", "page_viewed", "form_started", "goal"},
	{"page_viewed", "form_started", "goal"},
	{"page_viewed", "form_started", "goal"},
	{"email_opened", "contact_center_call"},
	{"page_viewed", "contact_center_call"},
	{}, // ignored
}

// path builds a PathCount from "a b c" and its count out of 5.
func path(steps string, count int) PathCount {
	return PathCount{Steps: strings.Fields(steps), Count: count, Share: float64(count) / 5}
}

func TestPathsTop(t *testing.T) {
	for _, c := range []struct {
		name     string
		opts     PathOptions
		distinct int
		want     []PathCount
	}{
		{"all", PathOptions{}, 4, []PathCount{
			path("page_viewed form_started goal", 2),
			// Ties in byte order of the labels.
			path("email_opened contact_center_call", 1),
			path("page_viewed contact_center_call", 1),
			path("page_viewed page_viewed form_started goal", 1),
		}},
		{"top 2", PathOptions{TopK: 2}, 4, []PathCount{
			path("page_viewed form_started goal", 2),
			path("email_opened contact_center_call", 1),
		}},
		{"collapse repeats", PathOptions{CollapseRepeats: true}, 3, []PathCount{
			path("page_viewed form_started goal", 3),
			path("email_opened contact_center_call", 1),
			path("page_viewed contact_center_call", 1),
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Paths(journeys, c.opts)
			if r.Sequences != 5 || r.Distinct != c.distinct {
				t.Errorf("sequences %d distinct %d, want 5 %d", r.Sequences, r.Distinct, c.distinct)
			}
			if !reflect.DeepEqual(r.Top, c.want) {
				t.Errorf("top\n%v\nwant\n%v", r.Top, c.want)
			}
		})
	}
}

func TestPathsSankey(t *testing.T) {
	r := Paths(journeys, PathOptions{})
	node := func(step int, label string, value int) SankeyNode {
		return SankeyNode{ID: strings.Join([]string{string(rune('0' + step)), label}, ":"), Step: step, Label: label, Value: value}
	}
	wantNodes := []SankeyNode{
		node(1, "page_viewed", 4), // 0
		node(1, "email_opened", 1),
		node(2, "contact_center_call", 2), // 2: ties by label
		node(2, "form_started", 2),
		node(2, "page_viewed", 1), // 4: distinct from step 1's
		node(3, "goal", 2),
		node(3, "form_started", 1),
		node(4, "goal", 1), // 7
	}
	wantLinks := []SankeyLink{
		{0, 2, 1}, {0, 3, 2}, {0, 4, 1},
		{1, 2, 1},
		{3, 5, 2},
		{4, 6, 1},
		{6, 7, 1},
	}
	if !reflect.DeepEqual(r.Sankey.Nodes, wantNodes) {
		t.Errorf("nodes\n%v\nwant\n%v", r.Sankey.Nodes, wantNodes)
	}
	if !reflect.DeepEqual(r.Sankey.Links, wantLinks) {
		t.Errorf("links\n%v\nwant\n%v", r.Sankey.Links, wantLinks)
	}
	// Flow is conserved: what enters a node after step 1 is its value.
	in := make([]int, len(r.Sankey.Nodes))
	for _, l := range r.Sankey.Links {
		if r.Sankey.Nodes[l.Target].Step != r.Sankey.Nodes[l.Source].Step+1 {
			t.Errorf("link %v skips a step", l)
		}
		in[l.Target] += l.Value
	}
	for i, n := range r.Sankey.Nodes {
		if n.Step > 1 && in[i] != n.Value {
			t.Errorf("node %s: %d in, value %d", n.ID, in[i], n.Value)
		}
	}
}

func TestPathsTruncation(t *testing.T) {
	seqs := [][]string{
		strings.Fields("a b c d e f goal"),
		strings.Fields("a b x y goal"), // same after truncation to 4
		strings.Fields("a b c call"),   // exactly 4: kept
		strings.Fields("a b b b b call"),
	}
	for _, c := range []struct {
		name string
		opts PathOptions
		want []PathCount
	}{
		{"max 4", PathOptions{MaxLen: 4}, []PathCount{
			{Steps: []string{"a", "b", Ellipsis, "goal"}, Count: 2, Share: 0.5},
			// Byte order: "c" < "…".
			{Steps: []string{"a", "b", "c", "call"}, Count: 1, Share: 0.25},
			{Steps: []string{"a", "b", Ellipsis, "call"}, Count: 1, Share: 0.25},
		}},
		{"max 4 after collapsing", PathOptions{MaxLen: 4, CollapseRepeats: true}, []PathCount{
			{Steps: []string{"a", "b", Ellipsis, "goal"}, Count: 2, Share: 0.5},
			{Steps: []string{"a", "b", "c", "call"}, Count: 1, Share: 0.25},
			{Steps: []string{"a", "b", "call"}, Count: 1, Share: 0.25},
		}},
		{"below 3 means 3", PathOptions{MaxLen: 1}, []PathCount{
			{Steps: []string{"a", Ellipsis, "call"}, Count: 2, Share: 0.5},
			{Steps: []string{"a", Ellipsis, "goal"}, Count: 2, Share: 0.5},
		}},
		{"default 10", PathOptions{}, []PathCount{
			{Steps: strings.Fields("a b b b b call"), Count: 1, Share: 0.25},
			{Steps: strings.Fields("a b c call"), Count: 1, Share: 0.25},
			{Steps: strings.Fields("a b c d e f goal"), Count: 1, Share: 0.25},
			{Steps: strings.Fields("a b x y goal"), Count: 1, Share: 0.25},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Paths(seqs, c.opts)
			if !reflect.DeepEqual(r.Top, c.want) {
				t.Errorf("top\n%v\nwant\n%v", r.Top, c.want)
			}
		})
	}
	// The input is not modified.
	if strings.Join(seqs[0], " ") != "a b c d e f goal" {
		t.Errorf("input changed: %v", seqs[0])
	}
}
