package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

var errNoLog = errors.New("store opened without its event log")

// Append implements core.Store: one write and one fsync of the event log.
func (s *Store) Append(ctx context.Context, events []*core.Event) error {
	if s.log == nil {
		return errNoLog
	}
	payloads := make([][]byte, len(events))
	size := 0
	for _, e := range events {
		size += 256 + len(e.Properties) + len(e.Traits) + len(e.Context) + len(e.Integrations)
	}
	buf := make([]byte, 0, size)
	for i, e := range events {
		e.Seq = 0
		start := len(buf)
		buf = e.AppendJSON(buf)
		payloads[i] = buf[start:len(buf):len(buf)]
	}
	first, err := s.log.Append(payloads)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	for i, e := range events {
		e.Seq = first + int64(i)
	}
	return nil
}

// ReadLog implements core.Store.
func (s *Store) ReadLog(ctx context.Context, afterSeq int64, limit int) ([]*core.Event, error) {
	if s.log == nil {
		return nil, errNoLog
	}
	recs, err := s.log.Read(afterSeq, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*core.Event, len(recs))
	for i, r := range recs {
		e, err := wire.DecodeEvent(r.Data)
		if err != nil {
			return nil, fmt.Errorf("decode logged event %d: %w", r.Seq, err)
		}
		e.Seq = r.Seq
		out[i] = e
	}
	return out, nil
}

// Checkpoint implements core.Store.
func (s *Store) Checkpoint(ctx context.Context) (int64, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'checkpoint'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	return strconv.ParseInt(v, 10, 64)
}

// SaveCheckpoint implements core.Store.
func (s *Store) SaveCheckpoint(ctx context.Context, seq int64) error {
	// Durable before the log below it is dropped.
	err := s.durably(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('checkpoint', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.FormatInt(seq, 10))
		return err
	})
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if s.log == nil {
		return nil
	}
	return s.log.TrimThrough(seq)
}

// ListEvents implements core.Store.
func (s *Store) ListEvents(ctx context.Context, profileID string, beforeSeq int64, limit int) ([]*core.Event, error) {
	if beforeSeq <= 0 {
		beforeSeq = 1<<63 - 1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, body, profile_id FROM events WHERE profile_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, profileID, beforeSeq, limit)
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
func scanEvents(rows *sql.Rows) ([]*core.Event, error) {
	defer rows.Close()
	var out []*core.Event
	for rows.Next() {
		var seq int64
		var body []byte
		var pid string
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

// ProfileEvents implements core.Store, with one query per 500 profiles.
func (s *Store) ProfileEvents(ctx context.Context, ids []string, since time.Time) (map[string][]*core.Event, error) {
	out := make(map[string][]*core.Event)
	err := chunks(distinct(ids), func(part []string) error {
		args := append(anys(part), nanos(since))
		rows, err := s.r.QueryContext(ctx, `SELECT seq, body, profile_id FROM events
			WHERE profile_id IN (`+inList(len(part))+`) AND timestamp >= ? ORDER BY profile_id, seq`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			var body []byte
			var pid string
			if err := rows.Scan(&seq, &body, &pid); err != nil {
				return err
			}
			e, err := wire.DecodeEvent(body)
			if err != nil {
				return fmt.Errorf("decode event %d: %w", seq, err)
			}
			e.Seq, e.ProfileID = seq, pid
			out[pid] = append(out[pid], e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("profile events: %w", err)
	}
	return out, nil
}

// Seen implements core.Store.
func (s *Store) Seen(ctx context.Context, keys []core.MessageKey, since time.Time) (map[core.MessageKey]bool, error) {
	out := make(map[core.MessageKey]bool)
	for len(keys) > 0 {
		part := keys[:min(len(keys), 400)]
		keys = keys[len(part):]
		args := make([]any, 0, 2*len(part)+1)
		args = append(args, nanos(since))
		for _, k := range part {
			args = append(args, k.SourceID, k.MessageID)
		}
		rows, err := s.r.QueryContext(ctx, `SELECT source_id, message_id FROM dedupe WHERE seen_at >= ? AND (source_id, message_id) IN (VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?),", len(part)), ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("seen: %w", err)
		}
		for rows.Next() {
			var k core.MessageKey
			if err := rows.Scan(&k.SourceID, &k.MessageID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("seen: %w", err)
			}
			out[k] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("seen: %w", err)
		}
	}
	return out, nil
}

// PruneDedupe implements core.Store.
func (s *Store) PruneDedupe(ctx context.Context, before time.Time) (int64, error) {
	r, err := s.w.ExecContext(ctx, `DELETE FROM dedupe WHERE seen_at < ?`, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("prune dedupe: %w", err)
	}
	return r.RowsAffected()
}

// Quarantine implements core.Store.
func (s *Store) Quarantine(ctx context.Context, items []*core.QuarantineItem) error {
	err := s.durably(ctx, func(tx *sql.Tx) error {
		for _, it := range items {
			r, err := tx.ExecContext(ctx, `INSERT INTO quarantine (source_id, received_at, idx, code, field, message, payload) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				it.SourceID, nanos(it.ReceivedAt), it.Index, it.Code, it.Field, it.Message, it.Payload)
			if err != nil {
				return err
			}
			it.ID, _ = r.LastInsertId()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	return nil
}

// ListQuarantine implements core.Store.
func (s *Store) ListQuarantine(ctx context.Context, afterID int64, limit int) ([]*core.QuarantineItem, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, source_id, received_at, idx, code, field, message, payload FROM quarantine WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	var out []*core.QuarantineItem
	for rows.Next() {
		it := new(core.QuarantineItem)
		var at int64
		if err := rows.Scan(&it.ID, &it.SourceID, &at, &it.Index, &it.Code, &it.Field, &it.Message, &it.Payload); err != nil {
			return nil, err
		}
		it.ReceivedAt = fromNanos(at)
		out = append(out, it)
	}
	return out, rows.Err()
}
