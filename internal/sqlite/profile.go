package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

// LoadProfiles implements core.Store.
func (s *Store) LoadProfiles(ctx context.Context, ids []string) (map[string]*core.Profile, error) {
	out := make(map[string]*core.Profile, len(ids))
	err := chunks(ids, func(part []string) error {
		rows, err := s.r.QueryContext(ctx, `SELECT body, merged_into FROM profiles WHERE id IN (`+inList(len(part))+`)`, anys(part)...)
		if err != nil {
			return fmt.Errorf("load profiles: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var body []byte
			var into sql.NullString
			if err := rows.Scan(&body, &into); err != nil {
				return err
			}
			p, err := wire.DecodeProfile(body)
			if err != nil {
				return fmt.Errorf("decode profile: %w", err)
			}
			if into.Valid {
				p.MergedInto = into.String // the column follows forwarded merges; the body may not
			}
			out[p.ID] = p
		}
		return rows.Err()
	})
	return out, err
}

// ApplyBatch implements core.Store.
func (s *Store) ApplyBatch(ctx context.Context, b *core.ApplyBatch, fn func(fresh []*core.Event) (*core.PartitionCommit, error)) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("apply: %w", err)
	}
	defer tx.Rollback()
	fresh, err := applyEvents(ctx, tx, b)
	if err != nil {
		return 0, err
	}
	c, err := fn(fresh)
	if err != nil {
		return 0, err
	}
	if c == nil {
		c = &core.PartitionCommit{}
	}
	for _, m := range c.Merges {
		if _, err := tx.ExecContext(ctx, `UPDATE events SET profile_id = ? WHERE profile_id = ?`, m.Into, m.From); err != nil {
			return 0, fmt.Errorf("move events: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE profiles SET merged_into = ? WHERE merged_into = ?`, m.Into, m.From); err != nil {
			return 0, fmt.Errorf("forward tombstones: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM merges WHERE from_id = ?`, m.From); err != nil {
			return 0, fmt.Errorf("complete merge: %w", err)
		}
	}
	if len(c.Profiles) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO profiles (id, merged_into, body) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET merged_into = excluded.merged_into, body = excluded.body`)
		if err != nil {
			return 0, fmt.Errorf("apply: %w", err)
		}
		for _, p := range c.Profiles {
			body, err := wire.EncodeProfile(p)
			if err != nil {
				return 0, err
			}
			var into any
			if p.MergedInto != "" {
				into = p.MergedInto
			}
			if _, err := st.ExecContext(ctx, p.ID, into, body); err != nil {
				return 0, fmt.Errorf("save profile: %w", err)
			}
		}
	}
	if err := upsertInstances(ctx, tx, c.Instances); err != nil {
		return 0, err
	}
	if err := insertOutbox(ctx, tx, c.Outbox); err != nil {
		return 0, err
	}
	if err := writeMembers(ctx, tx, c.Members); err != nil {
		return 0, err
	}
	if err := insertEmits(ctx, tx, c.Emits); err != nil {
		return 0, err
	}
	if err := insertDecisions(ctx, tx, c.Decisions); err != nil {
		return 0, err
	}
	if err := addStats(ctx, tx, c.Stats); err != nil {
		return 0, err
	}
	if err := addJourneyStats(ctx, tx, c.JourneyStats); err != nil {
		return 0, err
	}
	// After the upserts, so that nothing of From's is left behind. From's
	// memberships go: the engine evaluates Into's audiences again.
	for _, m := range c.Merges {
		if err := moveJourneyRows(ctx, tx, m); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audience_members WHERE profile_id = ?`, m.From); err != nil {
			return 0, fmt.Errorf("drop merged memberships: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("apply commit: %w", err)
	}
	return len(b.Events) - len(fresh), nil
}

// applyChunk is how many events share one dedupe and one insert statement.
const applyChunk = 64

// applyEvents dedupes b's events and adds the fresh ones to the timeline,
// applyChunk at a time: one multi-row upsert into dedupe whose RETURNING
// lists the keys accepted (new, or last seen before the window), then one
// multi-row insert of those events. A key repeated inside a chunk conflicts
// with its own first row and is not returned again, so the first occurrence
// is the fresh one, as with one statement per event.
func applyEvents(ctx context.Context, tx *sql.Tx, b *core.ApplyBatch) ([]*core.Event, error) {
	fresh := make([]*core.Event, 0, len(b.Events))
	since := nanos(b.DedupeSince)
	args := make([]any, 0, 9*applyChunk)
	type key struct{ src, mid string }
	for start := 0; start < len(b.Events); start += applyChunk {
		part := b.Events[start:min(start+applyChunk, len(b.Events))]
		args = args[:0]
		for _, e := range part {
			args = append(args, e.SourceID, e.MessageID, nanos(e.ReceivedAt))
		}
		args = append(args, since)
		rows, err := tx.QueryContext(ctx, `INSERT INTO dedupe (source_id, message_id, seen_at) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?),", len(part)), ",")+`
			ON CONFLICT (source_id, message_id) DO UPDATE SET seen_at = excluded.seen_at WHERE dedupe.seen_at < ?
			RETURNING source_id, message_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("apply dedupe: %w", err)
		}
		accepted := make(map[key]bool, len(part))
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.src, &k.mid); err != nil {
				rows.Close()
				return nil, fmt.Errorf("apply dedupe: %w", err)
			}
			accepted[k] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("apply dedupe: %w", err)
		}
		args = args[:0]
		n := 0
		for _, e := range part {
			k := key{e.SourceID, e.MessageID}
			if !accepted[k] {
				continue
			}
			delete(accepted, k) // later copies in this chunk are duplicates
			args = append(args, e.Seq, e.SourceID, e.MessageID, e.Type, e.Label(), nanos(e.Timestamp), nanos(e.ReceivedAt), e.ProfileID, e.AppendJSON(nil))
			fresh = append(fresh, e)
			n++
		}
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (seq, source_id, message_id, type, label, timestamp, received_at, profile_id, body) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?),", n), ",")+` ON CONFLICT (seq) DO NOTHING`, args...); err != nil {
			return nil, fmt.Errorf("apply events: %w", err)
		}
	}
	return fresh, nil
}

// GetProfile implements core.Store.
func (s *Store) GetProfile(ctx context.Context, id string) (*core.Profile, error) {
	for hops := 0; hops < 16; hops++ {
		var body []byte
		var into sql.NullString
		err := s.r.QueryRowContext(ctx, `SELECT body, merged_into FROM profiles WHERE id = ?`, id).Scan(&body, &into)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.Errorf(core.ENOTFOUND, "id", "profile %q not found", id)
		}
		if err != nil {
			return nil, fmt.Errorf("get profile: %w", err)
		}
		if into.Valid && into.String != "" {
			id = into.String
			continue
		}
		p, err := wire.DecodeProfile(body)
		if err != nil {
			return nil, fmt.Errorf("decode profile: %w", err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("get profile %q: merge chain too long", id)
}

// EraseProfile implements core.Store.
func (s *Store) EraseProfile(ctx context.Context, id string) (core.Erasure, error) {
	var er core.Erasure
	err := s.durably(ctx, func(tx *sql.Tx) error {
		var err error
		er, err = eraseTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return core.Erasure{}, err
	}
	return er, nil
}

func eraseTx(ctx context.Context, tx *sql.Tx, id string) (core.Erasure, error) {
	var er core.Erasure
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM profiles WHERE id = ?`, id).Scan(&n); err != nil {
		return er, fmt.Errorf("erase: %w", err)
	}
	if n == 0 {
		return er, core.Errorf(core.ENOTFOUND, "id", "profile %q not found", id)
	}
	ids := []string{id}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM profiles WHERE merged_into = ?`, id)
	if err != nil {
		return er, fmt.Errorf("erase: %w", err)
	}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return er, err
		}
		ids = append(ids, m)
	}
	rows.Close()
	for _, pid := range ids {
		r, err := tx.ExecContext(ctx, `DELETE FROM events WHERE profile_id = ?`, pid)
		if err != nil {
			return er, fmt.Errorf("erase events: %w", err)
		}
		n, _ := r.RowsAffected()
		er.Events += n
		r, err = tx.ExecContext(ctx, `DELETE FROM identities WHERE profile_id = ?`, pid)
		if err != nil {
			return er, fmt.Errorf("erase identities: %w", err)
		}
		n, _ = r.RowsAffected()
		er.Identifiers += n
		if _, err := tx.ExecContext(ctx, `DELETE FROM merges WHERE from_id = ? OR into_id = ?`, pid, pid); err != nil {
			return er, fmt.Errorf("erase merges: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM journey_instances WHERE profile_id = ?`, pid); err != nil {
			return er, fmt.Errorf("erase instances: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox_attempts WHERE outbox_id IN (SELECT id FROM outbox WHERE profile_id = ?)`, pid); err != nil {
			return er, fmt.Errorf("erase outbox attempts: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE profile_id = ?`, pid); err != nil {
			return er, fmt.Errorf("erase outbox: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM decisions WHERE profile_id = ?`, pid); err != nil {
			return er, fmt.Errorf("erase decisions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audience_members WHERE profile_id = ?`, pid); err != nil {
			return er, fmt.Errorf("erase memberships: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM emits WHERE profile_id = ?`, pid); err != nil {
			return er, fmt.Errorf("erase emits: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM profiles WHERE id = ?`, pid); err != nil {
			return er, fmt.Errorf("erase profile: %w", err)
		}
		er.Profiles = append(er.Profiles, pid)
	}
	return er, nil
}

// ScanProfiles implements core.Store: one range scan of the profiles'
// primary key.
func (s *Store) ScanProfiles(ctx context.Context, afterID string, limit int) ([]*core.Profile, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT body FROM profiles WHERE id > ? AND merged_into IS NULL ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("scan profiles: %w", err)
	}
	defer rows.Close()
	var out []*core.Profile
	var body []byte
	for rows.Next() {
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("scan profiles: %w", err)
		}
		p, err := wire.DecodeProfile(body)
		if err != nil {
			return nil, fmt.Errorf("decode profile: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan profiles: %w", err)
	}
	return out, nil
}

// CountProfiles implements core.Store.
func (s *Store) CountProfiles(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM profiles WHERE merged_into IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count profiles: %w", err)
	}
	return n, nil
}
