package postgres

import (
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

// instanceFilter returns the WHERE clause and arguments of q.
func instanceFilter(q core.InstanceSample) (string, []any) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		from = nanos(q.From)
	}
	if !q.To.IsZero() {
		to = nanos(q.To)
	}
	where := `journey_id = $1 AND entered_at >= $2 AND entered_at < $3`
	args := []any{q.Journey, from, to}
	if q.Version > 0 {
		where += ` AND version = $4`
		args = append(args, q.Version)
	}
	return where, args
}

// SampleInstances implements core.Store: a count over the index
// journey_instances_entry and, at the same time, the instances first in
// the order of hashtext(id) (which the index holds too), then their rows.
func (s *Store) SampleInstances(ctx context.Context, q core.InstanceSample) ([]core.SampledInstance, int64, error) {
	if !isStorable(q.Journey) {
		return nil, 0, nil
	}
	where, args := instanceFilter(q)
	var total int64
	counted := make(chan error, 1)
	go func() {
		counted <- s.pool.QueryRow(ctx, `SELECT count(*) FROM journey_instances WHERE `+where, args...).Scan(&total)
	}()
	query, sargs := `SELECT id, profile_id, version, state FROM journey_instances WHERE `+where, args
	if q.Limit > 0 {
		query = `SELECT id, profile_id, version, state FROM journey_instances WHERE id IN (
			SELECT id FROM journey_instances WHERE ` + where + ` ORDER BY hashtext(id), id LIMIT $` + strconv.Itoa(len(args)+1) + `)`
		sargs = append(slices.Clone(args), q.Limit)
	}
	out, err := s.sampled(ctx, query, sargs)
	if cerr := <-counted; err == nil && cerr != nil {
		err = fmt.Errorf("sample instances: %w", cerr)
	}
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// sampled reads instances, sorted by ID.
func (s *Store) sampled(ctx context.Context, query string, args []any) ([]core.SampledInstance, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sample instances: %w", err)
	}
	defer rows.Close()
	var out []core.SampledInstance
	var state []byte
	for rows.Next() {
		var id, pid string
		var version int
		if err := rows.Scan(&id, &pid, &version, &state); err != nil {
			return nil, fmt.Errorf("sample instances: %w", err)
		}
		in, err := wire.DecodeSampledInstance(state, id, pid, version)
		if err != nil {
			return nil, fmt.Errorf("decode instance %q: %w", id, err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sample instances: %w", err)
	}
	slices.SortFunc(out, func(a, b core.SampledInstance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// windowChunk is how many windows one WindowEvents query covers.
const windowChunk = 2000

// windowEventsSQL reads windows: per window (a lateral subquery, so
// that its limit applies) the two timeline indexes from its first seq,
// merged in seq order: events_profile_timeline, which holds the label
// and timestamp (an index-only scan), and events_profile_long_label for
// the labels too long for it. The octet_length conditions are the
// indexes' own, so that the planner may use them.
const windowEventsSQL = `SELECT w.p, e.*
	FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS w(p, a, u, n)
	CROSS JOIN LATERAL (
		SELECT seq, label, timestamp FROM (
			SELECT seq, label, timestamp FROM events
				WHERE profile_id = w.p AND seq >= w.a AND timestamp <= w.u AND octet_length(label) <= 1000
			UNION ALL
			SELECT seq, label, timestamp FROM events
				WHERE profile_id = w.p AND seq >= w.a AND timestamp <= w.u AND octet_length(label) > 1000
		) x ORDER BY seq LIMIT nullif(w.n, 0)) e`

// WindowEvents implements core.Store: per chunk of windows, one query
// (windowEventsSQL).
func (s *Store) WindowEvents(ctx context.Context, windows []core.EventWindow) (map[string][]core.TimelineEvent, error) {
	out := make(map[string][]core.TimelineEvent, len(windows))
	windows = slices.DeleteFunc(slices.Clone(windows), func(w core.EventWindow) bool { return !isStorable(w.ProfileID) })
	for len(windows) > 0 {
		part := windows[:min(len(windows), windowChunk)]
		windows = windows[len(part):]
		ids, from, until, limit := make([]string, len(part)), make([]int64, len(part)), make([]int64, len(part)), make([]int64, len(part))
		for i, w := range part {
			ids[i], from[i], until[i], limit[i] = w.ProfileID, w.FromSeq, nanos(w.Until), int64(max(w.Limit, 0))
		}
		rows, err := s.pool.Query(ctx, windowEventsSQL, ids, from, until, limit)
		if err != nil {
			return nil, fmt.Errorf("window events: %w", err)
		}
		var label []byte
		for rows.Next() {
			var pid string
			var ts int64
			var e core.TimelineEvent
			if err := rows.Scan(&pid, &e.Seq, &label, &ts); err != nil {
				rows.Close()
				return nil, fmt.Errorf("window events: %w", err)
			}
			e.Label, e.Timestamp = string(label), fromNanos(ts)
			out[pid] = append(out[pid], e)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("window events: %w", err)
		}
	}
	for _, events := range out {
		if !slices.IsSortedFunc(events, compareSeq) {
			slices.SortFunc(events, compareSeq)
		}
	}
	return out, nil
}

func compareSeq(a, b core.TimelineEvent) int { return cmp.Compare(a.Seq, b.Seq) }
