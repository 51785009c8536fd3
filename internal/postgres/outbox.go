package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/overture-cjo/overture/internal/core"
)

const outboxColumns = `id, key, instance_id, profile_id, journey_id, version, step, channel, template, offer, vars, event_seq, created_at,
	status, attempts, next_at, last_error, connector, provider_id, sent_at`

// ClaimOutbox implements core.Store. SKIP LOCKED lets dispatchers on
// several nodes claim side by side without waiting for each other.
func (s *Store) ClaimOutbox(ctx context.Context, c core.OutboxClaim) ([]*core.OutboxEntry, error) {
	if len(c.Channels) == 0 || c.Limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE outbox SET status = 'sending', next_at = $1, claim_owner = $2
		WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'retrying', 'sending')
			AND channel = ANY($3) AND next_at <= $4 ORDER BY next_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
		RETURNING `+outboxColumns, nanos(c.Until), c.Owner, byteStrings(c.Channels), nanos(c.Now), c.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	slices.SortFunc(out, func(a, b *core.OutboxEntry) int { return int(a.ID - b.ID) })
	return out, nil
}

// FinishOutbox implements core.Store, in one round trip.
func (s *Store) FinishOutbox(ctx context.Context, results []core.OutboxResult) error {
	if len(results) == 0 {
		return nil
	}
	n := len(results)
	var (
		ids       = make([]int64, n)
		statuses  = make([]string, n)
		attempts  = make([]int32, n)
		nexts     = make([]int64, n)
		errs      = make([][]byte, n)
		conns     = make([]string, n)
		providers = make([][]byte, n)
		sents     = make([]*int64, n)

		aIDs, aNs, aAts, aDurs    []int64
		aConns, aOutcomes         []string
		aErrs, aCodes, aProviders [][]byte
	)
	for i, r := range results {
		ids[i], statuses[i], attempts[i], errs[i], conns[i], providers[i] = r.ID, r.Status, int32(r.Attempts), []byte(r.Error), r.Connector, []byte(r.ProviderID)
		if !r.NextAt.IsZero() {
			nexts[i] = nanos(r.NextAt)
		}
		if r.Status == core.OutboxSent {
			t := nanos(r.SentAt)
			sents[i] = &t
		}
		if a := r.Attempt; a != nil {
			aIDs, aNs, aAts, aDurs = append(aIDs, r.ID), append(aNs, int64(a.N)), append(aAts, nanos(a.At)), append(aDurs, int64(a.Duration))
			aConns, aOutcomes = append(aConns, a.Connector), append(aOutcomes, a.Outcome)
			aErrs, aCodes, aProviders = append(aErrs, []byte(a.Error)), append(aCodes, []byte(a.Code)), append(aProviders, []byte(a.ProviderID))
		}
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE outbox o SET status = u.st, attempts = u.at, next_at = u.nx, last_error = u.er, connector = u.co,
			provider_id = u.pr, sent_at = coalesce(o.sent_at, u.se), claim_owner = ''
		FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::bigint[], $5::bytea[], $6::text[], $7::bytea[], $8::bigint[])
			AS u(id, st, at, nx, er, co, pr, se)
		WHERE o.id = u.id`, ids, statuses, attempts, nexts, errs, conns, providers, sents)
	if len(aIDs) > 0 {
		b.Queue(`INSERT INTO outbox_attempts (outbox_id, n, at, connector, outcome, error, code, duration, provider_id)
			SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::bytea[], $8::bigint[], $9::bytea[])`,
			aIDs, aNs, aAts, aConns, aOutcomes, aErrs, aCodes, aDurs, aProviders)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("finish outbox: %w", err)
	}
	return nil
}

// ReleaseOutbox implements core.Store.
func (s *Store) ReleaseOutbox(ctx context.Context, owner string, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET status = CASE WHEN attempts = 0 THEN 'queued' ELSE 'retrying' END,
		next_at = $1, claim_owner = '' WHERE status = 'sending' AND claim_owner = $2`, nanos(now), owner)
	if err != nil {
		return 0, fmt.Errorf("release outbox: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// RetryOutbox implements core.Store.
func (s *Store) RetryOutbox(ctx context.Context, id int64, now time.Time) (*core.OutboxEntry, error) {
	rows, err := s.pool.Query(ctx, `UPDATE outbox SET status = 'queued', attempts = 0, next_at = $1
		WHERE id = $2 AND status = 'dead' RETURNING `+outboxColumns, nanos(now), id)
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
	switch err := s.pool.QueryRow(ctx, `SELECT status FROM outbox WHERE id = $1`, id).Scan(&status); {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, core.Errorf(core.ENOTFOUND, "id", "no message %d", id)
	case err != nil:
		return nil, fmt.Errorf("retry outbox: %w", err)
	}
	return nil, core.Errorf(core.ECONFLICT, "id", "message %d is %s, not dead: only dead letters are re-driven", id, status)
}

// ListOutbox implements core.Store.
func (s *Store) ListOutbox(ctx context.Context, f core.OutboxFilter) ([]*core.OutboxEntry, error) {
	if f.ProfileID != "" && !isStorable(f.ProfileID) {
		return nil, nil
	}
	q := `SELECT ` + outboxColumns + ` FROM outbox WHERE id > $1`
	args := []any{f.AfterID}
	if f.ProfileID != "" {
		args = append(args, f.ProfileID)
		q += ` AND profile_id = $` + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		args = append(args, f.Status)
		q += ` AND status = $` + strconv.Itoa(len(args))
	}
	args = append(args, limitOf(f.Limit))
	rows, err := s.pool.Query(ctx, q+` ORDER BY id LIMIT $`+strconv.Itoa(len(args)), args...)
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
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT outbox_id, n, at, connector, outcome, error, code, duration, provider_id
		FROM outbox_attempts WHERE outbox_id = ANY($1) ORDER BY outbox_id, id`, ids)
	if err != nil {
		return nil, fmt.Errorf("outbox attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, at, dur int64
		var n int32
		var a core.OutboxAttempt
		var msg, code, provider []byte
		if err := rows.Scan(&id, &n, &at, &a.Connector, &a.Outcome, &msg, &code, &dur, &provider); err != nil {
			return nil, fmt.Errorf("outbox attempts: %w", err)
		}
		a.N, a.At, a.Duration = int(n), fromNanos(at), time.Duration(dur)
		a.Error, a.Code, a.ProviderID = string(msg), string(code), string(provider)
		out[id] = append(out[id], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox attempts: %w", err)
	}
	return out, nil
}

// scanOutbox reads outboxColumns rows and closes them.
func scanOutbox(rows pgx.Rows) ([]*core.OutboxEntry, error) {
	defer rows.Close()
	var out []*core.OutboxEntry
	var channel, template, offer, vars, lastErr, provider []byte
	for rows.Next() {
		e := new(core.OutboxEntry)
		var version, attempts int32
		var created, next int64
		var sent *int64
		if err := rows.Scan(&e.ID, &e.Key, &e.InstanceID, &e.ProfileID, &e.JourneyID, &version, &e.Step,
			&channel, &template, &offer, &vars, &e.EventSeq, &created,
			&e.Status, &attempts, &next, &lastErr, &e.Connector, &provider, &sent); err != nil {
			return nil, err
		}
		e.Version, e.Attempts = int(version), int(attempts)
		e.Channel, e.Template, e.Offer, e.Vars = string(channel), string(template), string(offer), string(vars)
		e.LastError, e.ProviderID = string(lastErr), string(provider)
		e.CreatedAt = fromNanos(created)
		if e.Status == core.OutboxRetrying && next != 0 {
			e.NextAt = fromNanos(next)
		}
		if sent != nil {
			t := fromNanos(*sent)
			e.SentAt = &t
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventsBySeq implements core.Store.
func (s *Store) EventsBySeq(ctx context.Context, seqs []int64) (map[int64]*core.Event, error) {
	out := map[int64]*core.Event{}
	if len(seqs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, body, profile_id FROM events WHERE seq = ANY($1)`, seqs)
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
	return out, nil
}
