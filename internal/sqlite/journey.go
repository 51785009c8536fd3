package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

// SaveJourney implements core.Store, durably.
func (s *Store) SaveJourney(ctx context.Context, id, source string, now time.Time) (*core.JourneyVersion, bool, error) {
	sum := sha256.Sum256([]byte(source))
	hash := hex.EncodeToString(sum[:])
	now = fromNanos(nanos(now))
	var v *core.JourneyVersion
	created := false
	err := s.durably(ctx, func(tx *sql.Tx) error {
		last := &core.JourneyVersion{ID: id}
		var at int64
		err := tx.QueryRowContext(ctx, `SELECT version, source, hash, created_at FROM journey_versions
			WHERE journey_id = ? ORDER BY version DESC LIMIT 1`, id).Scan(&last.Version, &last.Source, &last.Hash, &at)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && last.Hash == hash {
			last.CreatedAt = fromNanos(at)
			v = last
			return nil
		}
		v = &core.JourneyVersion{ID: id, Version: last.Version + 1, Source: source, Hash: hash, CreatedAt: now}
		if _, err := tx.ExecContext(ctx, `INSERT INTO journeys (id, state, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at`, id, core.JourneyActive, nanos(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO journey_versions (journey_id, version, source, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			id, v.Version, source, hash, nanos(now)); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("save journey: %w", err)
	}
	return v, created, nil
}

// Journeys implements core.Store.
func (s *Store) Journeys(ctx context.Context) ([]*core.JourneyRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT j.id, j.state, j.updated_at, v.version, v.source, v.hash, v.created_at
		FROM journeys j JOIN journey_versions v ON v.journey_id = j.id ORDER BY j.id, v.version`)
	if err != nil {
		return nil, fmt.Errorf("journeys: %w", err)
	}
	defer rows.Close()
	var out []*core.JourneyRecord
	for rows.Next() {
		var j core.JourneyRecord
		var v core.JourneyVersion
		var updated, created int64
		if err := rows.Scan(&j.ID, &j.State, &updated, &v.Version, &v.Source, &v.Hash, &created); err != nil {
			return nil, fmt.Errorf("journeys: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != j.ID {
			j.UpdatedAt = fromNanos(updated)
			out = append(out, &j)
		}
		v.ID, v.CreatedAt = j.ID, fromNanos(created)
		last := out[len(out)-1]
		last.Versions = append(last.Versions, &v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journeys: %w", err)
	}
	return out, nil
}

// SetJourneyState implements core.Store, durably.
func (s *Store) SetJourneyState(ctx context.Context, id, state string, now time.Time) error {
	n, err := s.execDurably(ctx, `UPDATE journeys SET state = ?, updated_at = ? WHERE id = ?`, state, nanos(now), id)
	if err != nil {
		return fmt.Errorf("set journey state: %w", err)
	}
	if n == 0 {
		return core.Errorf(core.ENOTFOUND, "id", "journey %q not found", id)
	}
	return nil
}

// writeChunk is how many instances or outbox entries share one insert
// statement.
const writeChunk = 64

// multiRow runs an insert of n rows of cols values each, writeChunk rows
// per statement: head is the statement up to VALUES, tail what follows the
// rows, and row appends the values of row i to args. The statement for a
// full chunk is prepared once.
func multiRow(ctx context.Context, tx *sql.Tx, n, cols int, head, tail string, row func(args []any, i int) ([]any, error)) error {
	values := func(rows int) string {
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + "),"
		return strings.TrimSuffix(strings.Repeat(one, rows), ",")
	}
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, cols*min(n, writeChunk))
	for start := 0; start < n; start += writeChunk {
		end := min(start+writeChunk, n)
		args = args[:0]
		for i := start; i < end; i++ {
			var err error
			if args, err = row(args, i); err != nil {
				return err
			}
		}
		var err error
		switch {
		case end-start < writeChunk:
			_, err = tx.ExecContext(ctx, head+values(end-start)+tail, args...)
		case full == nil && n-start < 2*writeChunk: // the only full chunk
			_, err = tx.ExecContext(ctx, head+values(writeChunk)+tail, args...)
		default:
			if full == nil {
				if full, err = tx.PrepareContext(ctx, head+values(writeChunk)+tail); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// upsertInstances writes instances by id. An instance listed twice is
// written as its last entry, since SQLite applies a multi-row upsert row by
// row.
func upsertInstances(ctx context.Context, tx *sql.Tx, ins []*core.Instance) error {
	err := multiRow(ctx, tx, len(ins), 9,
		`INSERT INTO journey_instances (id, profile_id, journey_id, version, status, step, due, entered_at, state) VALUES `,
		` ON CONFLICT (id) DO UPDATE SET profile_id = excluded.profile_id, journey_id = excluded.journey_id, version = excluded.version,
			status = excluded.status, step = excluded.step, due = excluded.due, entered_at = excluded.entered_at, state = excluded.state`,
		func(args []any, i int) ([]any, error) {
			in := ins[i]
			state, err := wire.EncodeInstance(in)
			if err != nil {
				return nil, fmt.Errorf("encode instance %q: %w", in.ID, err)
			}
			var due any
			if !in.Due.IsZero() {
				due = nanos(in.Due)
			}
			return append(args, in.ID, in.ProfileID, in.JourneyID, in.Version, in.Status, in.Step, due, nanos(in.EnteredAt), state), nil
		})
	if err != nil {
		return fmt.Errorf("save instances: %w", err)
	}
	return nil
}

// moveJourneyRows gives From's instances and outbox entries to Into, for a
// completed merge.
func moveJourneyRows(ctx context.Context, tx *sql.Tx, m core.Merge) error {
	if _, err := tx.ExecContext(ctx, `UPDATE journey_instances SET profile_id = ? WHERE profile_id = ?`, m.Into, m.From); err != nil {
		return fmt.Errorf("move instances: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET profile_id = ? WHERE profile_id = ?`, m.Into, m.From); err != nil {
		return fmt.Errorf("move outbox: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE decisions SET profile_id = ? WHERE profile_id = ?`, m.Into, m.From); err != nil {
		return fmt.Errorf("move decisions: %w", err)
	}
	return nil
}

// decodeInstance decodes an instance's state (see wire.DecodeInstance).
func decodeInstance(state []byte, profileID string) (*core.Instance, error) {
	in, err := wire.DecodeInstance(state, profileID)
	if err != nil {
		return nil, fmt.Errorf("decode instance: %w", err)
	}
	return in, nil
}

// LoadInstances implements core.Store.
func (s *Store) LoadInstances(ctx context.Context, profileIDs []string) (map[string][]*core.Instance, error) {
	out := make(map[string][]*core.Instance)
	err := chunks(profileIDs, func(part []string) error {
		rows, err := s.r.QueryContext(ctx, `SELECT profile_id, state FROM journey_instances
			WHERE profile_id IN (`+inList(len(part))+`) AND status = 'active' ORDER BY profile_id, entered_at, id`, anys(part)...)
		if err != nil {
			return fmt.Errorf("load instances: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var pid string
			var state []byte
			if err := rows.Scan(&pid, &state); err != nil {
				return fmt.Errorf("load instances: %w", err)
			}
			in, err := decodeInstance(state, pid)
			if err != nil {
				return err
			}
			out[pid] = append(out[pid], in)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// InstancesOf implements core.Store.
func (s *Store) InstancesOf(ctx context.Context, profileID string, limit int) ([]*core.Instance, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT state FROM journey_instances WHERE profile_id = ?
		ORDER BY entered_at DESC, id DESC LIMIT ?`, profileID, limit)
	if err != nil {
		return nil, fmt.Errorf("instances of: %w", err)
	}
	defer rows.Close()
	var out []*core.Instance
	for rows.Next() {
		var state []byte
		if err := rows.Scan(&state); err != nil {
			return nil, fmt.Errorf("instances of: %w", err)
		}
		in, err := decodeInstance(state, profileID)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("instances of: %w", err)
	}
	return out, nil
}

// DueTimers implements core.Store.
func (s *Store) DueTimers(ctx context.Context, after, through time.Time, limit int) ([]core.TimerRef, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, profile_id, due FROM journey_instances
		WHERE status = 'active' AND due IS NOT NULL AND due > ? AND due <= ? ORDER BY due, id LIMIT ?`,
		nanos(after), nanos(through), limit)
	if err != nil {
		return nil, fmt.Errorf("due timers: %w", err)
	}
	defer rows.Close()
	var out []core.TimerRef
	for rows.Next() {
		var r core.TimerRef
		var due int64
		if err := rows.Scan(&r.InstanceID, &r.ProfileID, &due); err != nil {
			return nil, fmt.Errorf("due timers: %w", err)
		}
		r.Due = fromNanos(due)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due timers: %w", err)
	}
	return out, nil
}

// WaitingCounts implements core.Store.
func (s *Store) WaitingCounts(ctx context.Context) ([]core.StepCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT journey_id, version, step, count(*) FROM journey_instances
		WHERE status = 'active' GROUP BY journey_id, version, step ORDER BY journey_id, version, step`)
	if err != nil {
		return nil, fmt.Errorf("waiting counts: %w", err)
	}
	defer rows.Close()
	var out []core.StepCount
	for rows.Next() {
		var c core.StepCount
		if err := rows.Scan(&c.JourneyID, &c.Version, &c.Step, &c.Count); err != nil {
			return nil, fmt.Errorf("waiting counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("waiting counts: %w", err)
	}
	return out, nil
}
