package analytics

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// FeatureOptions tune Featurize. The zero value uses the defaults below.
type FeatureOptions struct {
	// MaxDistinct is the most distinct string and bool values a path may
	// have across the population; a path with more (ids, timestamps,
	// free text) is skipped. 0 means DefaultMaxDistinct.
	MaxDistinct int
	// MaxLevels is the most distinct values a numeric path whose numbers
	// are all integers may have to be used as is ("traits.children=2");
	// other numeric paths are bucketed. 0 means DefaultMaxLevels.
	MaxLevels int
	// Buckets is the number of quantile buckets of a bucketed numeric
	// path. 0 means DefaultBuckets.
	Buckets int
	// Skip lists paths to leave out, each with everything under it
	// ("traits.address" skips "traits.address.city").
	Skip []string
}

// Defaults of FeatureOptions.
const (
	DefaultMaxDistinct = 50
	DefaultMaxLevels   = 10
	DefaultBuckets     = 4
)

// Featurize turns documents (nested maps as encoding/json decodes them,
// e.g. {"context": {"os": {"name": "iOS"}}, "traits": {...}}) into the
// feature sets of driver analysis, out[i] for docs[i], each sorted and
// without duplicates.
//
// Paths join map keys with dots. A leaf becomes a feature "path=value":
//
//   - a string or a bool as is: "context.os.name=iOS",
//     "event.document_upload=true"; but when a path has more than
//     MaxDistinct distinct such values in the population (an id, a
//     timestamp, free text), none of them is used;
//   - a number, when every number at its path in the population is an
//     integer and there are at most MaxLevels distinct ones, as is:
//     "traits.children=2";
//   - any other number as its bucket among Buckets quantile buckets of
//     the path's values in the population, written "[lo,hi)" (the last
//     "[lo,max]"): "traits.age=[31,45)". Edges are values of the data
//     and equal edges merge, so a path may get fewer buckets. Numeric ids
//     and timestamps get bucketed too; list them in Skip.
//
// The elements of an array all count under the array's own path, so
// {"tags": ["a", "b"]} gives "tags=a" and "tags=b". Null, and values of
// other types, give nothing. Numbers may be float64, json.Number or any
// Go integer or float type.
func Featurize(docs []map[string]any, opts FeatureOptions) [][]string {
	f := featurizer{
		maxDistinct: cmp0(opts.MaxDistinct, DefaultMaxDistinct),
		maxLevels:   cmp0(opts.MaxLevels, DefaultMaxLevels),
		buckets:     cmp0(opts.Buckets, DefaultBuckets),
		skip:        opts.Skip,
		paths:       map[string]*pathStats{},
	}
	for _, d := range docs {
		f.walkMap("", d, f.observe)
	}
	for _, s := range f.paths {
		s.plan(f.maxLevels, f.buckets)
	}
	out := make([][]string, len(docs))
	for i, d := range docs {
		var fs []string
		f.walkMap("", d, func(path string, v any) {
			if feat, ok := f.feature(path, v); ok {
				fs = append(fs, feat)
			}
		})
		slices.Sort(fs)
		out[i] = slices.Compact(fs)
	}
	return out
}

// cmp0 returns v, or def when v is not positive.
func cmp0(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

type featurizer struct {
	maxDistinct, maxLevels, buckets int
	skip                            []string
	paths                           map[string]*pathStats
}

// pathStats is what the first pass learns about one path.
type pathStats struct {
	strs     map[string]bool // distinct string and bool values, up to the cap
	tooMany  bool            // more than maxDistinct of them
	nums     []float64
	nonInt   bool
	levels   map[float64]bool // distinct numbers, up to maxLevels+1
	bucketed bool             // set by plan
	edges    []float64        // bucket lower edges after the first, by plan
	labels   []string         // bucket labels, by plan
}

func (f *featurizer) skipped(path string) bool {
	for _, s := range f.skip {
		if path == s || strings.HasPrefix(path, s) && strings.HasPrefix(path[len(s):], ".") {
			return true
		}
	}
	return false
}

func (f *featurizer) walkMap(prefix string, m map[string]any, leaf func(path string, v any)) {
	for k, v := range m {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if f.skipped(path) {
			continue
		}
		f.walk(path, v, leaf)
	}
}

func (f *featurizer) walk(path string, v any, leaf func(path string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		f.walkMap(path, v, leaf)
	case []any:
		for _, e := range v {
			f.walk(path, e, leaf)
		}
	case nil:
	default:
		leaf(path, v)
	}
}

func (f *featurizer) observe(path string, v any) {
	s := f.paths[path]
	if s == nil {
		s = &pathStats{}
		f.paths[path] = s
	}
	if str, ok := scalarString(v); ok {
		if s.tooMany {
			return
		}
		if s.strs == nil {
			s.strs = map[string]bool{}
		}
		s.strs[str] = true
		if len(s.strs) > f.maxDistinct {
			s.tooMany, s.strs = true, nil
		}
		return
	}
	if x, ok := number(v); ok {
		s.nums = append(s.nums, x)
		if x != math.Trunc(x) {
			s.nonInt = true
		}
		if len(s.levels) <= f.maxLevels {
			if s.levels == nil {
				s.levels = map[float64]bool{}
			}
			s.levels[x] = true
		}
	}
}

// plan decides how the path's numbers become features.
func (s *pathStats) plan(maxLevels, buckets int) {
	if len(s.nums) == 0 || !s.nonInt && len(s.levels) <= maxLevels {
		return
	}
	s.bucketed = true
	v := slices.Clone(s.nums)
	slices.Sort(v)
	s.nums, s.levels = nil, nil
	lo, hi := v[0], v[len(v)-1]
	for i := 1; i < buckets; i++ {
		e := v[i*len(v)/buckets]
		if e > lo && (len(s.edges) == 0 || e > s.edges[len(s.edges)-1]) {
			s.edges = append(s.edges, e)
		}
	}
	bounds := append(append([]float64{lo}, s.edges...), hi)
	for i := 0; i+1 < len(bounds); i++ {
		a, b := formatNumber(bounds[i]), formatNumber(bounds[i+1])
		if i+2 == len(bounds) {
			s.labels = append(s.labels, "["+a+","+b+"]")
		} else {
			s.labels = append(s.labels, "["+a+","+b+")")
		}
	}
}

func (f *featurizer) feature(path string, v any) (string, bool) {
	s := f.paths[path]
	if str, ok := scalarString(v); ok {
		if s.tooMany {
			return "", false
		}
		return path + "=" + str, true
	}
	x, ok := number(v)
	if !ok {
		return "", false
	}
	if !s.bucketed {
		return path + "=" + formatNumber(x), true
	}
	i := sort.Search(len(s.edges), func(i int) bool { return s.edges[i] > x })
	return path + "=" + s.labels[i], true
}

// scalarString returns a string or bool leaf as its feature value.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// number returns a numeric leaf as a finite float64.
func number(v any) (float64, bool) {
	var x float64
	switch v := v.(type) {
	case float64:
		x = v
	case float32:
		x = float64(v)
	case json.Number:
		var err error
		if x, err = v.Float64(); err != nil {
			return 0, false
		}
	case int:
		x = float64(v)
	case int8:
		x = float64(v)
	case int16:
		x = float64(v)
	case int32:
		x = float64(v)
	case int64:
		x = float64(v)
	case uint:
		x = float64(v)
	case uint8:
		x = float64(v)
	case uint16:
		x = float64(v)
	case uint32:
		x = float64(v)
	case uint64:
		x = float64(v)
	default:
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

func formatNumber(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
