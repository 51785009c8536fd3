package analytics

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Ellipsis is the label that stands for the steps cut out of a sequence
// longer than PathOptions.MaxLen.
const Ellipsis = "…"

// Defaults of PathOptions.
const (
	DefaultTopK   = 10
	DefaultMaxLen = 10
)

// PathOptions tune Paths. The zero value uses the defaults.
type PathOptions struct {
	// TopK is how many of the most frequent paths to return; 0 means
	// DefaultTopK.
	TopK int
	// MaxLen is the most labels a path keeps. A longer sequence keeps its
	// first MaxLen−2 labels, then Ellipsis, then its last label, so that
	// the end marker (goal reached, leak, window end) survives. 0 means
	// DefaultMaxLen; values below 3 mean 3.
	MaxLen int
	// CollapseRepeats replaces runs of one label ("page_viewed" three
	// times in a row) by one, before truncation.
	CollapseRepeats bool
}

// PathCount is one distinct path and how many sequences took it.
type PathCount struct {
	Steps []string `json:"steps"`
	Count int      `json:"count"`
	Share float64  `json:"share"` // Count / PathReport.Sequences
}

// SankeyNode is one label at one step of the paths.
type SankeyNode struct {
	// ID is "step:label", unique among the nodes, for charts that key
	// nodes by name.
	ID    string `json:"id"`
	Step  int    `json:"step"` // 1 for the first label after entry
	Label string `json:"label"`
	Value int    `json:"value"` // sequences through the node
}

// SankeyLink is the flow between two nodes, given as indexes into
// Sankey.Nodes.
type SankeyLink struct {
	Source int `json:"source"`
	Target int `json:"target"`
	Value  int `json:"value"` // sequences going from Source to Target
}

// Sankey is the flow of all the sequences step by step. Nodes are sorted
// by step, then value (descending), then label; links by source, then
// target. Every link goes from step i to step i+1.
type Sankey struct {
	Nodes []SankeyNode `json:"nodes"`
	Links []SankeyLink `json:"links"`
}

// PathReport is the result of path analysis.
type PathReport struct {
	// Sequences is the number of non-empty sequences analysed.
	Sequences int `json:"sequences"`
	// Distinct is the number of distinct paths (after CollapseRepeats
	// and truncation).
	Distinct int `json:"distinct"`
	// Top are the TopK most frequent paths, most frequent first, ties in
	// byte order of their labels.
	Top    []PathCount `json:"top"`
	Sankey Sankey      `json:"sankey"`
}

// Paths analyses journey paths. Each sequence is one instance's event
// labels from entry to its end marker, which the caller appends: the
// goal, a leak event such as "contact_center_call", or a label for the
// end of the window. Empty sequences are ignored. The Sankey form covers
// every sequence, not only the top ones.
func Paths(seqs [][]string, opts PathOptions) PathReport {
	topK := cmp0(opts.TopK, DefaultTopK)
	maxLen := max(cmp0(opts.MaxLen, DefaultMaxLen), 3)

	type path struct {
		steps []string
		count int
	}
	byKey := map[string]*path{}
	var r PathReport
	var buf []string
	var key strings.Builder
	for _, seq := range seqs {
		if len(seq) == 0 {
			continue
		}
		r.Sequences++
		buf = normalize(buf[:0], seq, maxLen, opts.CollapseRepeats)
		key.Reset()
		for _, l := range buf {
			key.WriteString(l)
			key.WriteByte(0)
		}
		p := byKey[key.String()]
		if p == nil {
			p = &path{steps: slices.Clone(buf)}
			byKey[key.String()] = p
		}
		p.count++
	}
	paths := make([]*path, 0, len(byKey))
	for _, p := range byKey {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b *path) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return slices.Compare(a.steps, b.steps)
	})
	r.Distinct = len(paths)
	r.Top = []PathCount{}
	for _, p := range paths[:min(topK, len(paths))] {
		r.Top = append(r.Top, PathCount{Steps: p.steps, Count: p.count, Share: rate(p.count, r.Sequences)})
	}

	// The Sankey form, from the distinct paths weighted by their counts.
	type nodeKey struct {
		step  int
		label string
	}
	nodeOf := map[nodeKey]int{} // index into nodes, before sorting
	var nodes []SankeyNode
	links := map[[2]int]int{}
	for _, p := range paths {
		prev := -1
		for i, l := range p.steps {
			k := nodeKey{i + 1, l}
			n, ok := nodeOf[k]
			if !ok {
				n = len(nodes)
				nodeOf[k] = n
				nodes = append(nodes, SankeyNode{ID: strconv.Itoa(i+1) + ":" + l, Step: i + 1, Label: l})
			}
			nodes[n].Value += p.count
			if prev >= 0 {
				links[[2]int{prev, n}] += p.count
			}
			prev = n
		}
	}
	order := make([]int, len(nodes)) // order[new] = old
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := &nodes[a], &nodes[b]
		if c := cmp.Compare(x.Step, y.Step); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Value, x.Value); c != 0 {
			return c
		}
		return strings.Compare(x.Label, y.Label)
	})
	renum := make([]int, len(nodes)) // renum[old] = new
	r.Sankey.Nodes = make([]SankeyNode, len(nodes))
	for newIdx, old := range order {
		renum[old] = newIdx
		r.Sankey.Nodes[newIdx] = nodes[old]
	}
	r.Sankey.Links = make([]SankeyLink, 0, len(links))
	for k, v := range links {
		r.Sankey.Links = append(r.Sankey.Links, SankeyLink{Source: renum[k[0]], Target: renum[k[1]], Value: v})
	}
	slices.SortFunc(r.Sankey.Links, func(a, b SankeyLink) int {
		if c := cmp.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		return cmp.Compare(a.Target, b.Target)
	})
	return r
}

// normalize appends seq to dst with repeats collapsed (if collapse) and
// truncated to maxLen labels (see PathOptions.MaxLen).
func normalize(dst, seq []string, maxLen int, collapse bool) []string {
	for i, l := range seq {
		if collapse && i > 0 && l == seq[i-1] {
			continue
		}
		dst = append(dst, l)
	}
	if len(dst) > maxLen {
		last := dst[len(dst)-1]
		dst = append(dst[:maxLen-2], Ellipsis, last)
	}
	return dst
}
