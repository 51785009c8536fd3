package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

// sampleHash orders a journey's instances for SampleInstances: Fibonacci
// hashing of the row number, (rowid · ⌊2³²/φ⌋) mod 2³², which the index
// journey_instances_entry holds, so no table row is read to rank them.
// Consecutive row numbers land far apart in [0, 2³²), and the instances
// whose hash falls below any threshold are spread evenly over every
// arithmetic progression of row numbers (Weyl's equidistribution): the
// sample keeps the shares of insertion order, time and any periodic
// pattern in them. The factor keeps the product below 2⁶³.
const sampleHash = `((rowid % 4294967296) * 2654435761) % 4294967296`

// instanceFilter returns the WHERE clause and arguments of q.
func instanceFilter(q core.InstanceSample) (string, []any) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		from = nanos(q.From)
	}
	if !q.To.IsZero() {
		to = nanos(q.To)
	}
	where := `journey_id = ? AND entered_at >= ? AND entered_at < ?`
	args := []any{q.Journey, from, to}
	if q.Version > 0 {
		where = `journey_id = ? AND version = ? AND entered_at >= ? AND entered_at < ?`
		args = []any{q.Journey, q.Version, from, to}
	}
	return where, args
}

// SampleInstances implements core.Store: a count over the index, then
// the instances whose hash falls below a threshold that lets a little
// more than q.Limit through (Fibonacci hashing spreads the hashes so
// evenly that about N·t/2³² of N fall below t: no sort of the N), and of
// those the q.Limit first by hash. If too few fall below it (a subset of
// row numbers that happens to hash high), the index is sorted by hash.
func (s *Store) SampleInstances(ctx context.Context, q core.InstanceSample) ([]core.SampledInstance, int64, error) {
	where, args := instanceFilter(q)
	var total int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM journey_instances WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sample instances: %w", err)
	}
	if total == 0 {
		return nil, 0, nil
	}
	const cols = `SELECT id, profile_id, version, state, rowid, ` + sampleHash + ` FROM journey_instances`
	if q.Limit <= 0 || int64(q.Limit) >= total {
		out, err := s.sampled(ctx, cols+` WHERE `+where, args, 0)
		return out, total, err
	}
	threshold := int64(math.Ceil((float64(q.Limit)*1.02 + 100) * (1 << 32) / float64(total)))
	out, err := s.sampled(ctx, cols+` WHERE rowid IN (SELECT rowid FROM journey_instances WHERE `+where+` AND `+sampleHash+` < ?)`,
		append(slices.Clone(args), threshold), q.Limit)
	if err == nil && len(out) < q.Limit {
		out, err = s.sampled(ctx, cols+` WHERE rowid IN (SELECT rowid FROM journey_instances WHERE `+where+` ORDER BY `+sampleHash+`, rowid LIMIT ?)`,
			append(args, q.Limit), q.Limit)
	}
	return out, total, err
}

// sampled runs a query of instances with their row numbers and hashes,
// keeps the first limit by hash (0: all), and returns them sorted by ID.
func (s *Store) sampled(ctx context.Context, query string, args []any, limit int) ([]core.SampledInstance, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sample instances: %w", err)
	}
	defer rows.Close()
	type ranked struct {
		in         core.SampledInstance
		hash, rank int64
	}
	var all []ranked
	var state []byte
	for rows.Next() {
		var r ranked
		var id, pid string
		var version int
		if err := rows.Scan(&id, &pid, &version, &state, &r.rank, &r.hash); err != nil {
			return nil, fmt.Errorf("sample instances: %w", err)
		}
		if r.in, err = wire.DecodeSampledInstance(state, id, pid, version); err != nil {
			return nil, fmt.Errorf("decode instance %q: %w", id, err)
		}
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sample instances: %w", err)
	}
	if limit > 0 && len(all) > limit {
		slices.SortFunc(all, func(a, b ranked) int { return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.rank, b.rank)) })
		all = all[:limit]
	}
	out := make([]core.SampledInstance, len(all))
	for i, r := range all {
		out[i] = r.in
	}
	slices.SortFunc(out, func(a, b core.SampledInstance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// windowChunk is how many windows one WindowEvents query covers.
const windowChunk = 500

// windowEventSQL is one event of a window as WindowEvents reads it,
// "seq,timestamp,len,label", the label prefixed by its byte length so
// that any label survives. A window's events are concatenated in one
// value, so a window costs one row, not one per event.
const windowEventSQL = `e.seq || ',' || e.timestamp || ',' || length(CAST(e.label AS BLOB)) || ',' || e.label`

// WindowEvents implements core.Store: per chunk of windows, one query
// whose subquery walks each profile's timeline index from the window's
// first seq; the index (events_profile_timeline) holds everything read.
func (s *Store) WindowEvents(ctx context.Context, windows []core.EventWindow) (map[string][]core.TimelineEvent, error) {
	out := make(map[string][]core.TimelineEvent, len(windows))
	// LIMIT cannot name a column of w: windows go in groups of one limit.
	byLimit := map[int][]core.EventWindow{}
	for _, w := range windows {
		byLimit[max(w.Limit, 0)] = append(byLimit[max(w.Limit, 0)], w)
	}
	for limit, windows := range byLimit {
		if err := s.windowEvents(ctx, windows, limit, out); err != nil {
			return nil, err
		}
	}
	for _, events := range out {
		if !slices.IsSortedFunc(events, compareSeq) {
			slices.SortFunc(events, compareSeq)
		}
	}
	return out, nil
}

// windowEvents reads windows of one limit into out.
func (s *Store) windowEvents(ctx context.Context, windows []core.EventWindow, limit int, out map[string][]core.TimelineEvent) error {
	if limit == 0 {
		limit = -1 // none
	}
	for len(windows) > 0 {
		part := windows[:min(len(windows), windowChunk)]
		windows = windows[len(part):]
		args := make([]any, 0, 3*len(part)+1)
		for _, w := range part {
			args = append(args, w.ProfileID, w.FromSeq, nanos(w.Until))
		}
		args = append(args, limit)
		rows, err := s.r.QueryContext(ctx, `WITH w(p, a, u) AS (VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?, ?),", len(part)), ",")+`)
			SELECT w.p, (SELECT group_concat(x, '') FROM (SELECT `+windowEventSQL+` AS x FROM events e
				WHERE e.profile_id = w.p AND e.seq >= w.a AND e.timestamp <= w.u ORDER BY e.seq LIMIT ?)) FROM w`, args...)
		if err != nil {
			return fmt.Errorf("window events: %w", err)
		}
		var packed []byte
		for rows.Next() {
			var pid string
			if err := rows.Scan(&pid, &packed); err != nil {
				rows.Close()
				return fmt.Errorf("window events: %w", err)
			}
			if len(packed) == 0 {
				continue
			}
			events, err := unpackWindow(packed)
			if err != nil {
				rows.Close()
				return fmt.Errorf("window events of %q: %w", pid, err)
			}
			out[pid] = events
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("window events: %w", err)
		}
	}
	return nil
}

// unpackWindow parses the events of one window as windowEventSQL packs
// them.
func unpackWindow(b []byte) ([]core.TimelineEvent, error) {
	var out []core.TimelineEvent
	var err error
	next := func() int64 {
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			err = fmt.Errorf("malformed window at %q", b)
			return 0
		}
		n, e := strconv.ParseInt(string(b[:i]), 10, 64)
		if e != nil {
			err = fmt.Errorf("malformed window: %w", e)
		}
		b = b[i+1:]
		return n
	}
	for len(b) > 0 && err == nil {
		var e core.TimelineEvent
		e.Seq = next()
		e.Timestamp = fromNanos(next())
		n := next()
		if err == nil && (n < 0 || n > int64(len(b))) {
			err = fmt.Errorf("malformed window: label of %d bytes in %d", n, len(b))
		}
		if err != nil {
			break
		}
		e.Label, b = string(b[:n]), b[n:]
		out = append(out, e)
	}
	return out, err
}

func compareSeq(a, b core.TimelineEvent) int { return cmp.Compare(a.Seq, b.Seq) }
