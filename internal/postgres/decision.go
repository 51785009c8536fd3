package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/overture-cjo/overture/internal/core"
)

// insertDecisionsSQL logs decisions whose key is new, in one statement,
// in the order given (so ids follow it).
const insertDecisionsSQL = `INSERT INTO decisions (key, profile_id, at, journey_id, outcome, rule, body)
	SELECT k, p, a, j, o, r, b
	FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::bytea[])
		WITH ORDINALITY AS u(k, p, a, j, o, r, b, n)
	ORDER BY n
	ON CONFLICT (key) DO NOTHING`

// addStatsSQL adds counter deltas (one per row: the caller sums them).
const addStatsSQL = `INSERT INTO model_stats (model, key, bucket, trials, successes)
	SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bigint[], $5::bigint[])
	ON CONFLICT (model, key, bucket) DO UPDATE SET trials = model_stats.trials + excluded.trials,
		successes = model_stats.successes + excluded.successes`

// queueDecisionWrites adds to b c's decisions and model counter deltas,
// and the move of merged profiles' decisions. The deltas are summed per
// counter and written in key order, so that partitions adding to the same
// counters lock them in the same order.
func queueDecisionWrites(b *pgx.Batch, c *core.PartitionCommit) error {
	if n := len(c.Decisions); n > 0 {
		keys, profiles, journeys, outcomes := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at, rules, bodies := make([]int64, n), make([][]byte, n), make([][]byte, n)
		for i, d := range c.Decisions {
			body, err := json.Marshal(d)
			if err != nil {
				return fmt.Errorf("encode decision %q: %w", d.Key, err)
			}
			keys[i], profiles[i], journeys[i], outcomes[i] = d.Key, d.ProfileID, d.JourneyID, d.Outcome
			at[i], rules[i], bodies[i] = nanos(d.At), []byte(d.Rule), body
		}
		b.Queue(insertDecisionsSQL, keys, profiles, at, journeys, outcomes, rules, bodies)
	}
	if len(c.Stats) > 0 {
		sum := map[[3]string]*core.ModelStat{}
		for _, st := range c.Stats {
			k := [3]string{st.Model, st.Key, st.Bucket}
			if s := sum[k]; s != nil {
				s.Trials += st.Trials
				s.Successes += st.Successes
			} else {
				cp := st
				sum[k] = &cp
			}
		}
		ks := make([][3]string, 0, len(sum))
		for k := range sum {
			ks = append(ks, k)
		}
		slices.SortFunc(ks, func(a, b [3]string) int {
			return strings.Compare(a[0]+"\x00"+a[1]+"\x00"+a[2], b[0]+"\x00"+b[1]+"\x00"+b[2])
		})
		var models []string
		var keys, buckets [][]byte
		var trials, successes []int64
		for _, k := range ks {
			s := sum[k]
			models, keys, buckets = append(models, s.Model), append(keys, []byte(s.Key)), append(buckets, []byte(s.Bucket))
			trials, successes = append(trials, s.Trials), append(successes, s.Successes)
		}
		b.Queue(addStatsSQL, models, keys, buckets, trials, successes)
	}
	for _, m := range c.Merges {
		b.Queue(`UPDATE decisions SET profile_id = $1 WHERE profile_id = $2`, m.Into, m.From)
	}
	return nil
}

// ListDecisions implements core.Store.
func (s *Store) ListDecisions(ctx context.Context, profileID string, beforeID int64, limit int) ([]*core.Decision, error) {
	if !isStorable(profileID) {
		return nil, nil
	}
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT id, body FROM decisions WHERE profile_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
		profileID, beforeID, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("list decisions: %w", err)
	}
	defer rows.Close()
	var out []*core.Decision
	for rows.Next() {
		var id int64
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("list decisions: %w", err)
		}
		d := new(core.Decision)
		if err := json.Unmarshal(body, d); err != nil {
			return nil, fmt.Errorf("decision %d: %w", id, err)
		}
		d.ID = id
		out = append(out, d)
	}
	return out, rows.Err()
}

// ModelStats implements core.Store.
func (s *Store) ModelStats(ctx context.Context) ([]core.ModelStat, error) {
	rows, err := s.pool.Query(ctx, `SELECT model, key, bucket, trials, successes FROM model_stats ORDER BY model, key, bucket`)
	if err != nil {
		return nil, fmt.Errorf("model stats: %w", err)
	}
	defer rows.Close()
	var out []core.ModelStat
	for rows.Next() {
		var st core.ModelStat
		var key, bucket []byte
		if err := rows.Scan(&st.Model, &key, &bucket, &st.Trials, &st.Successes); err != nil {
			return nil, fmt.Errorf("model stats: %w", err)
		}
		st.Key, st.Bucket = string(key), string(bucket)
		out = append(out, st)
	}
	return out, rows.Err()
}
