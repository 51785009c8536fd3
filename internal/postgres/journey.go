package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

// SaveJourney implements core.Store. It locks the journey's row (creating
// it first if need be), so concurrent saves of one journey take turns.
func (s *Store) SaveJourney(ctx context.Context, id, source string, now time.Time) (*core.JourneyVersion, bool, error) {
	if !isStorable(id) {
		return nil, false, core.Errorf(core.EINVALID, "id", "journey id %q has a NUL byte or invalid UTF-8", id)
	}
	sum := sha256.Sum256([]byte(source))
	hash := hex.EncodeToString(sum[:])
	now = fromNanos(nanos(now))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("save journey: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO journeys (id, state, updated_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
		id, core.JourneyActive, nanos(now)); err != nil {
		return nil, false, fmt.Errorf("save journey: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM journeys WHERE id = $1 FOR UPDATE`, id); err != nil {
		return nil, false, fmt.Errorf("save journey: %w", err)
	}
	last := &core.JourneyVersion{ID: id}
	var src []byte
	var at int64
	err = tx.QueryRow(ctx, `SELECT version, source, hash, created_at FROM journey_versions
		WHERE journey_id = $1 ORDER BY version DESC LIMIT 1`, id).Scan(&last.Version, &src, &last.Hash, &at)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("save journey: %w", err)
	}
	if err == nil && last.Hash == hash {
		last.Source, last.CreatedAt = string(src), fromNanos(at)
		return last, false, nil // the rollback leaves everything as it was
	}
	v := &core.JourneyVersion{ID: id, Version: last.Version + 1, Source: source, Hash: hash, CreatedAt: now}
	b := &pgx.Batch{}
	b.Queue(`UPDATE journeys SET updated_at = $2 WHERE id = $1`, id, nanos(now))
	b.Queue(`INSERT INTO journey_versions (journey_id, version, source, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, int32(v.Version), []byte(source), hash, nanos(now))
	if err := execBatch(ctx, tx, b); err != nil {
		return nil, false, fmt.Errorf("save journey: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, fmt.Errorf("save journey: %w", err)
	}
	return v, true, nil
}

// Journeys implements core.Store.
func (s *Store) Journeys(ctx context.Context) ([]*core.JourneyRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT j.id, j.state, j.updated_at, v.version, v.source, v.hash, v.created_at
		FROM journeys j JOIN journey_versions v ON v.journey_id = j.id ORDER BY j.id, v.version`)
	if err != nil {
		return nil, fmt.Errorf("journeys: %w", err)
	}
	defer rows.Close()
	var out []*core.JourneyRecord
	for rows.Next() {
		var j core.JourneyRecord
		var v core.JourneyVersion
		var version int32
		var src []byte
		var updated, created int64
		if err := rows.Scan(&j.ID, &j.State, &updated, &version, &src, &v.Hash, &created); err != nil {
			return nil, fmt.Errorf("journeys: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != j.ID {
			j.UpdatedAt = fromNanos(updated)
			out = append(out, &j)
		}
		v.ID, v.Version, v.Source, v.CreatedAt = j.ID, int(version), string(src), fromNanos(created)
		last := out[len(out)-1]
		last.Versions = append(last.Versions, &v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journeys: %w", err)
	}
	return out, nil
}

// SetJourneyState implements core.Store.
func (s *Store) SetJourneyState(ctx context.Context, id, state string, now time.Time) error {
	var n int64
	if isStorable(id) {
		ct, err := s.pool.Exec(ctx, `UPDATE journeys SET state = $1, updated_at = $2 WHERE id = $3`, state, nanos(now), id)
		if err != nil {
			return fmt.Errorf("set journey state: %w", err)
		}
		n = ct.RowsAffected()
	}
	if n == 0 {
		return core.Errorf(core.ENOTFOUND, "id", "journey %q not found", id)
	}
	return nil
}

// upsertInstancesSQL writes instances in one statement; ids must be
// distinct.
const upsertInstancesSQL = `INSERT INTO journey_instances (id, profile_id, journey_id, version, status, step, due, entered_at, state)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bytea[])
	ON CONFLICT (id) DO UPDATE SET profile_id = excluded.profile_id, journey_id = excluded.journey_id, version = excluded.version,
		status = excluded.status, step = excluded.step, due = excluded.due, entered_at = excluded.entered_at, state = excluded.state`

// insertOutboxSQL adds outbox entries whose key is new, in one statement,
// in the order given (so ids follow it).
const insertOutboxSQL = `INSERT INTO outbox (key, instance_id, profile_id, journey_id, version, step, channel, template, offer, vars, event_seq, created_at)
	SELECT k, i, p, j, v, s, c, t, o, va, es, ca
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::bytea[], $8::bytea[], $9::bytea[], $10::bytea[], $11::bigint[], $12::bigint[])
		WITH ORDINALITY AS u(k, i, p, j, v, s, c, t, o, va, es, ca, n)
	ORDER BY n
	ON CONFLICT (key) DO NOTHING`

// queueJourneyWrites adds to b the writes of c's instances and outbox
// entries, then the moves of c's merges.
func queueJourneyWrites(b *pgx.Batch, c *core.PartitionCommit) error {
	if len(c.Instances) > 0 {
		args, err := instanceRows(c.Instances)
		if err != nil {
			return err
		}
		b.Queue(upsertInstancesSQL, args...)
	}
	if len(c.Outbox) > 0 {
		b.Queue(insertOutboxSQL, outboxRows(c.Outbox)...)
	}
	// After the upserts, so that nothing of From's is left behind.
	for _, m := range c.Merges {
		b.Queue(`UPDATE journey_instances SET profile_id = $1 WHERE profile_id = $2`, m.Into, m.From)
		b.Queue(`UPDATE outbox SET profile_id = $1 WHERE profile_id = $2`, m.Into, m.From)
	}
	return nil
}

// instanceRows encodes instances as upsertInstancesSQL's arguments. An
// instance listed twice is written once, as its last entry.
func instanceRows(ins []*core.Instance) ([]any, error) {
	n := len(ins)
	var (
		at       = make(map[string]int, n)
		ids      = make([]string, 0, n)
		profiles = make([]string, 0, n)
		journeys = make([]string, 0, n)
		versions = make([]int32, 0, n)
		statuses = make([]string, 0, n)
		steps    = make([]string, 0, n)
		dues     = make([]*int64, 0, n)
		entered  = make([]int64, 0, n)
		states   = make([][]byte, 0, n)
	)
	for _, in := range ins {
		state, err := wire.EncodeInstance(in)
		if err != nil {
			return nil, fmt.Errorf("encode instance %q: %w", in.ID, err)
		}
		var due *int64
		if !in.Due.IsZero() {
			d := nanos(in.Due)
			due = &d
		}
		i, ok := at[in.ID]
		if !ok {
			i = len(ids)
			at[in.ID] = i
			ids, profiles, journeys, versions = append(ids, in.ID), append(profiles, ""), append(journeys, ""), append(versions, 0)
			statuses, steps, dues, entered, states = append(statuses, ""), append(steps, ""), append(dues, nil), append(entered, 0), append(states, nil)
		}
		profiles[i], journeys[i], versions[i] = in.ProfileID, in.JourneyID, int32(in.Version)
		statuses[i], steps[i], dues[i], entered[i], states[i] = in.Status, in.Step, due, nanos(in.EnteredAt), state
	}
	return []any{ids, profiles, journeys, versions, statuses, steps, dues, entered, states}, nil
}

// outboxRows encodes outbox entries as insertOutboxSQL's arguments.
func outboxRows(entries []*core.OutboxEntry) []any {
	n := len(entries)
	var (
		keys      = make([]string, n)
		instances = make([]string, n)
		profiles  = make([]string, n)
		journeys  = make([]string, n)
		versions  = make([]int32, n)
		steps     = make([]string, n)
		channels  = make([][]byte, n)
		templates = make([][]byte, n)
		offers    = make([][]byte, n)
		vars      = make([][]byte, n)
		events    = make([]int64, n)
		created   = make([]int64, n)
	)
	for i, e := range entries {
		keys[i], instances[i], profiles[i], journeys[i] = e.Key, e.InstanceID, e.ProfileID, e.JourneyID
		versions[i], steps[i] = int32(e.Version), e.Step
		channels[i], templates[i], offers[i], vars[i] = []byte(e.Channel), []byte(e.Template), []byte(e.Offer), []byte(e.Vars)
		events[i], created[i] = e.EventSeq, nanos(e.CreatedAt)
	}
	return []any{keys, instances, profiles, journeys, versions, steps, channels, templates, offers, vars, events, created}
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
	ids := storable(profileIDs)
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT profile_id, state FROM journey_instances
		WHERE profile_id = ANY($1) AND status = 'active' ORDER BY profile_id, entered_at, id`, ids)
	if err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}
	defer rows.Close()
	var pid string
	var state []byte
	for rows.Next() {
		if err := rows.Scan(&pid, &state); err != nil {
			return nil, fmt.Errorf("load instances: %w", err)
		}
		in, err := decodeInstance(state, pid)
		if err != nil {
			return nil, err
		}
		out[pid] = append(out[pid], in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}
	return out, nil
}

// InstancesOf implements core.Store.
func (s *Store) InstancesOf(ctx context.Context, profileID string, limit int) ([]*core.Instance, error) {
	if !isStorable(profileID) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT state FROM journey_instances WHERE profile_id = $1
		ORDER BY entered_at DESC, id DESC LIMIT $2`, profileID, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("instances of: %w", err)
	}
	defer rows.Close()
	var out []*core.Instance
	var state []byte
	for rows.Next() {
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
	rows, err := s.pool.Query(ctx, `SELECT id, profile_id, due FROM journey_instances
		WHERE status = 'active' AND due IS NOT NULL AND due > $1 AND due <= $2 ORDER BY due, id LIMIT $3`,
		nanos(after), nanos(through), limitOf(limit))
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
	rows, err := s.pool.Query(ctx, `SELECT journey_id, version, step, count(*) FROM journey_instances
		WHERE status = 'active' GROUP BY journey_id, version, step ORDER BY journey_id, version, step`)
	if err != nil {
		return nil, fmt.Errorf("waiting counts: %w", err)
	}
	defer rows.Close()
	var out []core.StepCount
	for rows.Next() {
		var c core.StepCount
		var version int32
		if err := rows.Scan(&c.JourneyID, &version, &c.Step, &c.Count); err != nil {
			return nil, fmt.Errorf("waiting counts: %w", err)
		}
		c.Version = int(version)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("waiting counts: %w", err)
	}
	return out, nil
}
