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
	"github.com/overture-cjo/overture/internal/wire"
)

// Append implements core.Store. It draws one seq per event from log_seq,
// then writes the batch with COPY: one statement, so the batch is committed
// (and durable) as a whole when it returns. Append is called by one
// goroutine at a time, so batches commit in seq order and a reader never
// sees a later seq before an earlier one. A failed append leaves a gap in
// the seqs; they stay increasing.
func (s *Store) Append(ctx context.Context, events []*core.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([][]any, len(events))
	size := 0
	for _, e := range events {
		size += 256 + len(e.Properties) + len(e.Traits) + len(e.Context) + len(e.Integrations)
	}
	buf := make([]byte, 0, size)
	for i, e := range events {
		e.Seq = 0
		start := len(buf)
		buf = e.AppendJSON(buf)
		rows[i] = []any{int64(0), buf[start:len(buf):len(buf)]}
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	defer conn.Release()
	r, err := conn.Query(ctx, `SELECT nextval('log_seq') FROM generate_series(1, $1)`, len(events))
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	seqs, err := pgx.CollectRows(r, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("append: draw seqs: %w", err)
	}
	slices.Sort(seqs)
	for i := range rows {
		rows[i][0] = seqs[i]
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"log"}, []string{"seq", "body"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	for i, e := range events {
		e.Seq = seqs[i]
	}
	return nil
}

// ReadLog implements core.Store.
func (s *Store) ReadLog(ctx context.Context, afterSeq int64, limit int) ([]*core.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, body FROM log WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	defer rows.Close()
	var out []*core.Event
	var seq int64
	var body []byte
	for rows.Next() {
		if err := rows.Scan(&seq, &body); err != nil {
			return nil, fmt.Errorf("read log: %w", err)
		}
		e, err := wire.DecodeEvent(body)
		if err != nil {
			return nil, fmt.Errorf("decode logged event %d: %w", seq, err)
		}
		e.Seq = seq
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	return out, nil
}

// Checkpoint implements core.Store.
func (s *Store) Checkpoint(ctx context.Context) (int64, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'checkpoint'`).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	return strconv.ParseInt(v, 10, 64)
}

// SaveCheckpoint implements core.Store: it records seq and deletes the log
// rows at or below it, in one statement.
func (s *Store) SaveCheckpoint(ctx context.Context, seq int64) error {
	_, err := s.pool.Exec(ctx, `WITH m AS (
		INSERT INTO meta (key, value) VALUES ('checkpoint', $1)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value
	) DELETE FROM log WHERE seq <= $2`, strconv.FormatInt(seq, 10), seq)
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// ListEvents implements core.Store.
func (s *Store) ListEvents(ctx context.Context, profileID string, beforeSeq int64, limit int) ([]*core.Event, error) {
	if !isStorable(profileID) {
		return nil, nil
	}
	if beforeSeq <= 0 {
		beforeSeq = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, body, profile_id FROM events WHERE profile_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
		profileID, beforeSeq, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// scanEvents reads (seq, body, profile_id) rows and closes them.
func scanEvents(rows pgx.Rows) ([]*core.Event, error) {
	defer rows.Close()
	var out []*core.Event
	var seq int64
	var body []byte
	var pid string
	for rows.Next() {
		if err := rows.Scan(&seq, &body, &pid); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		e, err := wire.DecodeEvent(body)
		if err != nil {
			return nil, fmt.Errorf("decode event %d: %w", seq, err)
		}
		e.Seq, e.ProfileID = seq, pid
		out = append(out, e)
	}
	return out, rows.Err()
}

// ProfileEvents implements core.Store, in one query.
func (s *Store) ProfileEvents(ctx context.Context, ids []string, since time.Time) (map[string][]*core.Event, error) {
	out := make(map[string][]*core.Event)
	ids = storable(ids)
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, body, profile_id FROM events
		WHERE profile_id = ANY($1) AND timestamp >= $2 ORDER BY profile_id, seq`, ids, nanos(since))
	if err != nil {
		return nil, fmt.Errorf("profile events: %w", err)
	}
	defer rows.Close()
	var seq int64
	var body []byte
	var pid string
	for rows.Next() {
		if err := rows.Scan(&seq, &body, &pid); err != nil {
			return nil, fmt.Errorf("profile events: %w", err)
		}
		e, err := wire.DecodeEvent(body)
		if err != nil {
			return nil, fmt.Errorf("decode event %d: %w", seq, err)
		}
		e.Seq, e.ProfileID = seq, pid
		out[pid] = append(out[pid], e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("profile events: %w", err)
	}
	return out, nil
}

// Seen implements core.Store.
func (s *Store) Seen(ctx context.Context, keys []core.MessageKey, since time.Time) (map[core.MessageKey]bool, error) {
	out := make(map[core.MessageKey]bool)
	if len(keys) == 0 {
		return out, nil
	}
	sources := make([]string, len(keys))
	messages := make([][]byte, len(keys))
	for i, k := range keys {
		sources[i], messages[i] = k.SourceID, []byte(k.MessageID)
	}
	rows, err := s.pool.Query(ctx, `SELECT d.source_id, d.message_id FROM dedupe d
		JOIN unnest($1::text[], $2::bytea[]) AS k(source_id, message_id)
		ON d.source_id = k.source_id AND d.message_id = k.message_id
		WHERE d.seen_at >= $3`, sources, messages, nanos(since))
	if err != nil {
		return nil, fmt.Errorf("seen: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var src string
		var msg []byte
		if err := rows.Scan(&src, &msg); err != nil {
			return nil, fmt.Errorf("seen: %w", err)
		}
		out[core.MessageKey{SourceID: src, MessageID: string(msg)}] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seen: %w", err)
	}
	return out, nil
}

// PruneDedupe implements core.Store.
func (s *Store) PruneDedupe(ctx context.Context, before time.Time) (int64, error) {
	ct, err := s.pool.Exec(ctx, `DELETE FROM dedupe WHERE seen_at < $1`, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("prune dedupe: %w", err)
	}
	return ct.RowsAffected(), nil
}

// Quarantine implements core.Store. Writers take turns (a table lock held
// to commit), so ids become visible in increasing order and a reader paging
// with ListQuarantine never skips one.
func (s *Store) Quarantine(ctx context.Context, items []*core.QuarantineItem) error {
	if len(items) == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	defer tx.Rollback(ctx)
	b := &pgx.Batch{}
	b.Queue(`LOCK TABLE quarantine IN EXCLUSIVE MODE`)
	for _, it := range items {
		b.Queue(`INSERT INTO quarantine (source_id, received_at, idx, code, field, message, payload) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			it.SourceID, nanos(it.ReceivedAt), it.Index, it.Code, []byte(it.Field), []byte(it.Message), []byte(it.Payload)).
			QueryRow(func(row pgx.Row) error { return row.Scan(&it.ID) })
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	return nil
}

// ListQuarantine implements core.Store.
func (s *Store) ListQuarantine(ctx context.Context, afterID int64, limit int) ([]*core.QuarantineItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, source_id, received_at, idx, code, field, message, payload FROM quarantine WHERE id > $1 ORDER BY id LIMIT $2`,
		afterID, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	var out []*core.QuarantineItem
	for rows.Next() {
		it := new(core.QuarantineItem)
		var at int64
		var field, msg, payload []byte
		if err := rows.Scan(&it.ID, &it.SourceID, &at, &it.Index, &it.Code, &field, &msg, &payload); err != nil {
			return nil, fmt.Errorf("list quarantine: %w", err)
		}
		it.ReceivedAt = fromNanos(at)
		it.Field, it.Message, it.Payload = string(field), string(msg), string(payload)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}
