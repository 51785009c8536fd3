package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/overture-cjo/overture/internal/core"
)

// insertOutbox adds outbox entries whose key is new, in order (so ids
// follow it), queued.
func insertOutbox(ctx context.Context, tx *sql.Tx, entries []*core.OutboxEntry) error {
	err := multiRow(ctx, tx, len(entries), 12,
		`INSERT INTO outbox (key, instance_id, profile_id, journey_id, version, step, channel, template, offer, vars, event_seq, created_at) VALUES `,
		` ON CONFLICT (key) DO NOTHING`,
		func(args []any, i int) ([]any, error) {
			e := entries[i]
			return append(args, e.Key, e.InstanceID, e.ProfileID, e.JourneyID, e.Version, e.Step, e.Channel, e.Template, e.Offer, e.Vars, e.EventSeq, nanos(e.CreatedAt)), nil
		})
	if err != nil {
		return fmt.Errorf("queue outbox: %w", err)
	}
	return nil
}

const outboxColumns = `id, key, instance_id, profile_id, journey_id, version, step, channel, template, offer, vars, event_seq, created_at,
	status, attempts, next_at, last_error, connector, provider_id, sent_at`

// ClaimOutbox implements core.Store. Claims and results commit like
// derived state (synchronous=NORMAL): a process crash keeps them; a power
// cut may lose the last ones, and those messages are attempted again with
// the same idempotency key.
func (s *Store) ClaimOutbox(ctx context.Context, c core.OutboxClaim) ([]*core.OutboxEntry, error) {
	if len(c.Channels) == 0 || c.Limit <= 0 {
		return nil, nil
	}
	args := []any{nanos(c.Until), c.Owner}
	for _, ch := range c.Channels {
		args = append(args, ch)
	}
	args = append(args, nanos(c.Now), c.Limit)
	var out []*core.OutboxEntry
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET status = 'sending', next_at = ?, claim_owner = ?
			WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'retrying', 'sending')
				AND channel IN (`+inList(len(c.Channels))+`) AND next_at <= ? ORDER BY next_at, id LIMIT ?)
			RETURNING `+outboxColumns, args...)
		if err != nil {
			return err
		}
		out, err = scanOutbox(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	slices.SortFunc(out, func(a, b *core.OutboxEntry) int { return int(a.ID - b.ID) })
	return out, nil
}

// FinishOutbox implements core.Store.
func (s *Store) FinishOutbox(ctx context.Context, results []core.OutboxResult) error {
	if len(results) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, `UPDATE outbox SET status = ?, attempts = ?, next_at = ?, last_error = ?,
			connector = ?, provider_id = ?, sent_at = coalesce(sent_at, ?), claim_owner = '' WHERE id = ?`)
		if err != nil {
			return err
		}
		defer up.Close()
		var attempts []core.OutboxResult
		for _, r := range results {
			var sent any
			if r.Status == core.OutboxSent {
				sent = nanos(r.SentAt)
			}
			var next int64
			if !r.NextAt.IsZero() {
				next = nanos(r.NextAt)
			}
			if _, err := up.ExecContext(ctx, r.Status, r.Attempts, next, r.Error, r.Connector, r.ProviderID, sent, r.ID); err != nil {
				return err
			}
			if r.Attempt != nil {
				attempts = append(attempts, r)
			}
		}
		return multiRow(ctx, tx, len(attempts), 9,
			`INSERT INTO outbox_attempts (outbox_id, n, at, connector, outcome, error, code, duration, provider_id) VALUES `, ``,
			func(args []any, i int) ([]any, error) {
				a := attempts[i].Attempt
				return append(args, attempts[i].ID, a.N, nanos(a.At), a.Connector, a.Outcome, a.Error, a.Code, int64(a.Duration), a.ProviderID), nil
			})
	})
	if err != nil {
		return fmt.Errorf("finish outbox: %w", err)
	}
	return nil
}

// ReleaseOutbox implements core.Store.
func (s *Store) ReleaseOutbox(ctx context.Context, owner string, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE outbox SET status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'retrying' END,
		next_at = ?, claim_owner = '' WHERE status = 'sending' AND claim_owner = ?`, nanos(now), owner)
	if err != nil {
		return 0, fmt.Errorf("release outbox: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RetryOutbox implements core.Store.
func (s *Store) RetryOutbox(ctx context.Context, id int64, now time.Time) (*core.OutboxEntry, error) {
	rows, err := s.w.QueryContext(ctx, `UPDATE outbox SET status = 'queued', attempts = 0, next_at = ?
		WHERE id = ? AND status = 'dead' RETURNING `+outboxColumns, nanos(now), id)
	if err != nil {
		return nil, fmt.Errorf("retry outbox: %w", err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return nil, fmt.Errorf("retry outbox: %w", err)
	}
	if len(out) == 1 {
		return out[0], nil
	}
	var status string
	switch err := s.r.QueryRowContext(ctx, `SELECT status FROM outbox WHERE id = ?`, id).Scan(&status); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, core.Errorf(core.ENOTFOUND, "id", "no message %d", id)
	case err != nil:
		return nil, fmt.Errorf("retry outbox: %w", err)
	}
	return nil, core.Errorf(core.ECONFLICT, "id", "message %d is %s, not dead: only dead letters are re-driven", id, status)
}

// ListOutbox implements core.Store.
func (s *Store) ListOutbox(ctx context.Context, f core.OutboxFilter) ([]*core.OutboxEntry, error) {
	q := `SELECT ` + outboxColumns + ` FROM outbox WHERE id > ?`
	args := []any{f.AfterID}
	if f.ProfileID != "" {
		q += ` AND profile_id = ?`
		args = append(args, f.ProfileID)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY id LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

// OutboxAttempts implements core.Store.
func (s *Store) OutboxAttempts(ctx context.Context, ids []int64) (map[int64][]core.OutboxAttempt, error) {
	out := map[int64][]core.OutboxAttempt{}
	for part := range slices.Chunk(ids, 500) {
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		rows, err := s.r.QueryContext(ctx, `SELECT outbox_id, n, at, connector, outcome, error, code, duration, provider_id
			FROM outbox_attempts WHERE outbox_id IN (`+inList(len(part))+`) ORDER BY outbox_id, id`, args...)
		if err != nil {
			return nil, fmt.Errorf("outbox attempts: %w", err)
		}
		for rows.Next() {
			var id, at, dur int64
			var a core.OutboxAttempt
			if err := rows.Scan(&id, &a.N, &at, &a.Connector, &a.Outcome, &a.Error, &a.Code, &dur, &a.ProviderID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("outbox attempts: %w", err)
			}
			a.At, a.Duration = fromNanos(at), time.Duration(dur)
			out[id] = append(out[id], a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("outbox attempts: %w", err)
		}
	}
	return out, nil
}

// scanOutbox reads outboxColumns rows and closes them.
func scanOutbox(rows *sql.Rows) ([]*core.OutboxEntry, error) {
	defer rows.Close()
	var out []*core.OutboxEntry
	for rows.Next() {
		e := new(core.OutboxEntry)
		var created, next int64
		var sent sql.NullInt64
		if err := rows.Scan(&e.ID, &e.Key, &e.InstanceID, &e.ProfileID, &e.JourneyID, &e.Version, &e.Step,
			&e.Channel, &e.Template, &e.Offer, &e.Vars, &e.EventSeq, &created,
			&e.Status, &e.Attempts, &next, &e.LastError, &e.Connector, &e.ProviderID, &sent); err != nil {
			return nil, err
		}
		e.CreatedAt = fromNanos(created)
		if e.Status == core.OutboxRetrying && next != 0 {
			e.NextAt = fromNanos(next)
		}
		if sent.Valid {
			t := fromNanos(sent.Int64)
			e.SentAt = &t
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventsBySeq implements core.Store.
func (s *Store) EventsBySeq(ctx context.Context, seqs []int64) (map[int64]*core.Event, error) {
	out := map[int64]*core.Event{}
	for part := range slices.Chunk(seqs, 500) {
		args := make([]any, len(part))
		for i, q := range part {
			args[i] = q
		}
		rows, err := s.r.QueryContext(ctx, `SELECT seq, body, profile_id FROM events WHERE seq IN (`+inList(len(part))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("events by seq: %w", err)
		}
		evs, err := scanEvents(rows)
		if err != nil {
			return nil, fmt.Errorf("events by seq: %w", err)
		}
		for _, e := range evs {
			out[e.Seq] = e
		}
	}
	return out, nil
}
