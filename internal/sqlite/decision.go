package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/overture-cjo/overture/internal/core"
)

// insertDecisions logs decisions whose key is new, in order.
func insertDecisions(ctx context.Context, tx *sql.Tx, ds []*core.Decision) error {
	err := multiRow(ctx, tx, len(ds), 7,
		`INSERT INTO decisions (key, profile_id, at, journey_id, outcome, rule, body) VALUES `,
		` ON CONFLICT (key) DO NOTHING`,
		func(args []any, i int) ([]any, error) {
			d := ds[i]
			body, err := json.Marshal(d)
			if err != nil {
				return nil, err
			}
			return append(args, d.Key, d.ProfileID, nanos(d.At), d.JourneyID, d.Outcome, d.Rule, string(body)), nil
		})
	if err != nil {
		return fmt.Errorf("log decisions: %w", err)
	}
	return nil
}

// addStats adds model counter deltas, summed per counter first (a batch
// of touchpoint decisions adds an impression per offer shown), in one
// multi-row upsert.
func addStats(ctx context.Context, tx *sql.Tx, stats []core.ModelStat) error {
	if len(stats) == 0 {
		return nil
	}
	type key struct{ model, key, bucket string }
	at := map[key]int{}
	var sum []core.ModelStat
	for _, st := range stats {
		k := key{st.Model, st.Key, st.Bucket}
		if i, ok := at[k]; ok {
			sum[i].Trials += st.Trials
			sum[i].Successes += st.Successes
			continue
		}
		at[k] = len(sum)
		sum = append(sum, st)
	}
	err := multiRow(ctx, tx, len(sum), 5,
		`INSERT INTO model_stats (model, key, bucket, trials, successes) VALUES `,
		` ON CONFLICT (model, key, bucket) DO UPDATE SET trials = trials + excluded.trials, successes = successes + excluded.successes`,
		func(args []any, i int) ([]any, error) {
			st := sum[i]
			return append(args, st.Model, st.Key, st.Bucket, st.Trials, st.Successes), nil
		})
	if err != nil {
		return fmt.Errorf("add model stats: %w", err)
	}
	return nil
}

// ListDecisions implements core.Store.
func (s *Store) ListDecisions(ctx context.Context, profileID string, beforeID int64, limit int) ([]*core.Decision, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, body FROM decisions WHERE profile_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
		profileID, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("list decisions: %w", err)
	}
	defer rows.Close()
	var out []*core.Decision
	for rows.Next() {
		var id int64
		var body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("list decisions: %w", err)
		}
		d := new(core.Decision)
		if err := json.Unmarshal([]byte(body), d); err != nil {
			return nil, fmt.Errorf("decision %d: %w", id, err)
		}
		d.ID = id
		out = append(out, d)
	}
	return out, rows.Err()
}

// ModelStats implements core.Store.
func (s *Store) ModelStats(ctx context.Context) ([]core.ModelStat, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT model, key, bucket, trials, successes FROM model_stats ORDER BY model, key, bucket`)
	if err != nil {
		return nil, fmt.Errorf("model stats: %w", err)
	}
	defer rows.Close()
	var out []core.ModelStat
	for rows.Next() {
		var st core.ModelStat
		if err := rows.Scan(&st.Model, &st.Key, &st.Bucket, &st.Trials, &st.Successes); err != nil {
			return nil, fmt.Errorf("model stats: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}
