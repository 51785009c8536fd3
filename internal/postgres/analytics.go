package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/overture-cjo/overture/internal/core"
)

// addJourneyStatsSQL adds journey counter deltas, one per row (summed by
// the caller).
const addJourneyStatsSQL = `INSERT INTO journey_stats (journey_id, version, step, metric, dim, day, n)
	SELECT * FROM unnest($1::bytea[], $2::integer[], $3::bytea[], $4::text[], $5::bytea[], $6::integer[], $7::bigint[])
	ON CONFLICT (journey_id, version, step, metric, dim, day) DO UPDATE SET n = journey_stats.n + excluded.n`

// queueJourneyStats adds to b the journey counter deltas, summed per
// counter and in key order, so that partitions adding to the same
// counters lock them in the same order. ApplyBatch queues it last: the
// counters of a busy journey are the rows every partition writes, and
// their locks are then held only until the commit.
func queueJourneyStats(b *pgx.Batch, stats []core.JourneyStat) {
	sum := core.SumJourneyStats(stats)
	if len(sum) == 0 {
		return
	}
	n := len(sum)
	journeys, steps, dims := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	versions, days := make([]int32, n), make([]int32, n)
	metrics, counts := make([]string, n), make([]int64, n)
	for i, st := range sum {
		journeys[i], steps[i], dims[i] = []byte(st.Journey), []byte(st.Step), []byte(st.Dim)
		versions[i], days[i], metrics[i], counts[i] = int32(st.Version), int32(st.Day), st.Metric, st.N
	}
	b.Queue(addJourneyStatsSQL, journeys, versions, steps, metrics, dims, days, counts)
}

// JourneyStats implements core.Store.
func (s *Store) JourneyStats(ctx context.Context, q core.JourneyStatsQuery) ([]core.JourneyStat, error) {
	var rows pgx.Rows
	var err error
	if q.Daily {
		to := q.To
		if to <= 0 {
			to = 1<<31 - 1
		}
		rows, err = s.pool.Query(ctx, `SELECT version, ''::bytea, metric, dim, day, sum(n)::bigint FROM journey_stats
			WHERE journey_id = $1 AND ($2 = 0 OR version = $2) AND day > 0 AND day >= $3 AND day <= $4
			GROUP BY version, metric, dim, day ORDER BY version, metric, dim, day`,
			[]byte(q.Journey), q.Version, q.From, to)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT version, step, metric, dim, 0, sum(n)::bigint FROM journey_stats
			WHERE journey_id = $1 AND ($2 = 0 OR version = $2)
			GROUP BY version, step, metric, dim ORDER BY version, step, metric, dim`,
			[]byte(q.Journey), q.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("journey stats: %w", err)
	}
	defer rows.Close()
	var out []core.JourneyStat
	for rows.Next() {
		st := core.JourneyStat{Journey: q.Journey}
		var step, dim []byte
		var version, day int32
		if err := rows.Scan(&version, &step, &st.Metric, &dim, &day, &st.N); err != nil {
			return nil, fmt.Errorf("journey stats: %w", err)
		}
		st.Version, st.Step, st.Dim, st.Day = int(version), string(step), string(dim), int(day)
		out = append(out, st)
	}
	return out, rows.Err()
}
