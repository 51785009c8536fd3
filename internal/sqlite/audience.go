package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

// memberKey identifies a membership row.
type memberKey struct{ audience, profile string }

// splitMembers returns the changes to apply as upserts and as deletes:
// the last change of each (audience, profile), so that the outcome is that
// of applying them one after the other, and each key is written once.
func splitMembers(changes []core.MemberChange) (upserts, deletes []core.MemberChange) {
	last := make(map[memberKey]int, len(changes))
	for i, m := range changes {
		last[memberKey{m.Audience, m.ProfileID}] = i
	}
	for i, m := range changes {
		if last[memberKey{m.Audience, m.ProfileID}] != i {
			continue
		}
		if m.Member {
			upserts = append(upserts, m)
		} else {
			deletes = append(deletes, m)
		}
	}
	return upserts, deletes
}

// writeMembers applies membership changes with multi-row statements.
func writeMembers(ctx context.Context, tx *sql.Tx, changes []core.MemberChange) error {
	if len(changes) == 0 {
		return nil
	}
	upserts, deletes := splitMembers(changes)
	err := multiRow(ctx, tx, len(upserts), 3,
		`INSERT INTO audience_members (audience, profile_id, since) VALUES `,
		` ON CONFLICT (audience, profile_id) DO UPDATE SET since = excluded.since`,
		func(args []any, i int) ([]any, error) {
			m := upserts[i]
			return append(args, m.Audience, m.ProfileID, nanos(m.Since)), nil
		})
	if err != nil {
		return fmt.Errorf("save members: %w", err)
	}
	err = multiRow(ctx, tx, len(deletes), 2,
		`DELETE FROM audience_members WHERE (audience, profile_id) IN (VALUES `, `)`,
		func(args []any, i int) ([]any, error) {
			return append(args, deletes[i].Audience, deletes[i].ProfileID), nil
		})
	if err != nil {
		return fmt.Errorf("delete members: %w", err)
	}
	return nil
}

// insertEmits stores events for the engine to append to the log, in
// order (so ids follow it).
func insertEmits(ctx context.Context, tx *sql.Tx, events []*core.Event) error {
	err := multiRow(ctx, tx, len(events), 2, `INSERT INTO emits (profile_id, body) VALUES `, ``,
		func(args []any, i int) ([]any, error) {
			return append(args, events[i].ProfileID, events[i].AppendJSON(nil)), nil
		})
	if err != nil {
		return fmt.Errorf("save emits: %w", err)
	}
	return nil
}

// AudienceMembers implements core.Store.
func (s *Store) AudienceMembers(ctx context.Context, audience, afterID string, limit int) ([]core.Member, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT profile_id, since FROM audience_members
		WHERE audience = ? AND profile_id > ? ORDER BY profile_id LIMIT ?`, audience, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("audience members: %w", err)
	}
	defer rows.Close()
	var out []core.Member
	for rows.Next() {
		var m core.Member
		var since int64
		if err := rows.Scan(&m.ProfileID, &since); err != nil {
			return nil, fmt.Errorf("audience members: %w", err)
		}
		m.Since = fromNanos(since)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audience members: %w", err)
	}
	return out, nil
}

// AudienceSizes implements core.Store.
func (s *Store) AudienceSizes(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT audience, count(*) FROM audience_members GROUP BY audience`)
	if err != nil {
		return nil, fmt.Errorf("audience sizes: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var a string
		var n int64
		if err := rows.Scan(&a, &n); err != nil {
			return nil, fmt.Errorf("audience sizes: %w", err)
		}
		out[a] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audience sizes: %w", err)
	}
	return out, nil
}

// SaveRefresh implements core.Store, durably.
func (s *Store) SaveRefresh(ctx context.Context, r *core.Refresh) error {
	err := s.durably(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO audience_refreshes (audience, version, triggered_by, started_at, finished_at, scanned, size, entered, exited)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Audience, r.Version, r.Trigger, nanos(r.StartedAt), nanos(r.FinishedAt), r.Scanned, r.Size, r.Entered, r.Exited)
		if err != nil {
			return err
		}
		r.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return fmt.Errorf("save refresh: %w", err)
	}
	return nil
}

// Refreshes implements core.Store.
func (s *Store) Refreshes(ctx context.Context, audience string, limit int) ([]*core.Refresh, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, version, triggered_by, started_at, finished_at, scanned, size, entered, exited
		FROM audience_refreshes WHERE audience = ? ORDER BY id DESC LIMIT ?`, audience, limit)
	if err != nil {
		return nil, fmt.Errorf("refreshes: %w", err)
	}
	defer rows.Close()
	var out []*core.Refresh
	for rows.Next() {
		r := &core.Refresh{Audience: audience}
		var started, finished int64
		if err := rows.Scan(&r.ID, &r.Version, &r.Trigger, &started, &finished, &r.Scanned, &r.Size, &r.Entered, &r.Exited); err != nil {
			return nil, fmt.Errorf("refreshes: %w", err)
		}
		r.StartedAt, r.FinishedAt = fromNanos(started), fromNanos(finished)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("refreshes: %w", err)
	}
	return out, nil
}

// PendingEmits implements core.Store.
func (s *Store) PendingEmits(ctx context.Context, afterID int64, limit int) ([]*core.Emit, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, body FROM emits WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("pending emits: %w", err)
	}
	defer rows.Close()
	var out []*core.Emit
	var body []byte
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("pending emits: %w", err)
		}
		e, err := wire.DecodeEvent(body)
		if err != nil {
			return nil, fmt.Errorf("decode emit %d: %w", id, err)
		}
		out = append(out, &core.Emit{ID: id, Event: e})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending emits: %w", err)
	}
	return out, nil
}

// DeleteEmits implements core.Store. It commits like derived state
// (synchronous=NORMAL): should a power cut lose the deletion, the events
// are appended again with the same message ids, and dedupe drops them.
func (s *Store) DeleteEmits(ctx context.Context, ids []int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for len(ids) > 0 {
			part := ids[:min(len(ids), 500)]
			ids = ids[len(part):]
			args := make([]any, len(part))
			for i, id := range part {
				args[i] = id
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM emits WHERE id IN (`+inList(len(part))+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete emits: %w", err)
	}
	return nil
}
