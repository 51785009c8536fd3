package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/overture-cjo/overture/internal/core"
)

// addJourneyStats adds journey counter deltas, summed per counter first,
// in multi-row upserts.
func addJourneyStats(ctx context.Context, tx *sql.Tx, stats []core.JourneyStat) error {
	sum := core.SumJourneyStats(stats)
	err := multiRow(ctx, tx, len(sum), 7,
		`INSERT INTO journey_stats (journey_id, version, step, metric, dim, day, n) VALUES `,
		` ON CONFLICT (journey_id, version, step, metric, dim, day) DO UPDATE SET n = n + excluded.n`,
		func(args []any, i int) ([]any, error) {
			st := sum[i]
			return append(args, st.Journey, st.Version, st.Step, st.Metric, st.Dim, st.Day, st.N), nil
		})
	if err != nil {
		return fmt.Errorf("add journey stats: %w", err)
	}
	return nil
}

// JourneyStats implements core.Store.
func (s *Store) JourneyStats(ctx context.Context, q core.JourneyStatsQuery) ([]core.JourneyStat, error) {
	var rows *sql.Rows
	var err error
	if q.Daily {
		to := q.To
		if to <= 0 {
			to = 1<<31 - 1
		}
		rows, err = s.r.QueryContext(ctx, `SELECT version, '', metric, dim, day, sum(n) FROM journey_stats
			WHERE journey_id = ? AND (? = 0 OR version = ?) AND day > 0 AND day >= ? AND day <= ?
			GROUP BY version, metric, dim, day ORDER BY version, metric, dim, day`,
			q.Journey, q.Version, q.Version, q.From, to)
	} else {
		rows, err = s.r.QueryContext(ctx, `SELECT version, step, metric, dim, 0, sum(n) FROM journey_stats
			WHERE journey_id = ? AND (? = 0 OR version = ?)
			GROUP BY version, step, metric, dim ORDER BY version, step, metric, dim`,
			q.Journey, q.Version, q.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("journey stats: %w", err)
	}
	defer rows.Close()
	var out []core.JourneyStat
	for rows.Next() {
		st := core.JourneyStat{Journey: q.Journey}
		if err := rows.Scan(&st.Version, &st.Step, &st.Metric, &st.Dim, &st.Day, &st.N); err != nil {
			return nil, fmt.Errorf("journey stats: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}
