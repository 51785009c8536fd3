package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/wire"
)

// LoadProfiles implements core.Store.
func (s *Store) LoadProfiles(ctx context.Context, ids []string) (map[string]*core.Profile, error) {
	out := make(map[string]*core.Profile, len(ids))
	ids = storable(ids)
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT body, merged_into FROM profiles WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	defer rows.Close()
	var body []byte
	for rows.Next() {
		var into *string
		if err := rows.Scan(&body, &into); err != nil {
			return nil, fmt.Errorf("load profiles: %w", err)
		}
		p, err := wire.DecodeProfile(body)
		if err != nil {
			return nil, fmt.Errorf("decode profile: %w", err)
		}
		if into != nil {
			p.MergedInto = *into // the column follows forwarded merges; the body may not
		}
		out[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	return out, nil
}

// claimSQL claims one (source, messageId): it affects a row, and the event
// is fresh, unless the pair was already applied at or after $4.
const claimSQL = `INSERT INTO dedupe (source_id, message_id, seen_at) VALUES ($1, $2, $3)
	ON CONFLICT (source_id, message_id) DO UPDATE SET seen_at = excluded.seen_at WHERE dedupe.seen_at < $4`

// claimAllSQL is claimSQL for many distinct pairs in one statement; it
// returns the pairs claimed.
const claimAllSQL = `INSERT INTO dedupe (source_id, message_id, seen_at)
	SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])
	ON CONFLICT (source_id, message_id) DO UPDATE SET seen_at = excluded.seen_at WHERE dedupe.seen_at < $4
	RETURNING source_id, message_id`

// insertEventsSQL adds fresh events to the timeline in one statement; an
// event already there (a replay) is left as it is.
const insertEventsSQL = `INSERT INTO events (seq, source_id, message_id, type, label, timestamp, received_at, profile_id, body)
	SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::bytea[], $6::bigint[], $7::bigint[], $8::text[], $9::bytea[])
	ON CONFLICT (seq) DO NOTHING`

// upsertProfilesSQL writes profiles in one statement; ids must be distinct.
const upsertProfilesSQL = `INSERT INTO profiles (id, merged_into, body)
	SELECT id, nullif(m, ''), body FROM unnest($1::text[], $2::text[], $3::bytea[]) AS t(id, m, body)
	ON CONFLICT (id) DO UPDATE SET merged_into = excluded.merged_into, body = excluded.body`

// ApplyBatch implements core.Store in one transaction: a statement to claim
// the events' dedupe entries, one to add the fresh ones to the timeline,
// then fn, then one round trip for what fn returned, and the commit.
func (s *Store) ApplyBatch(ctx context.Context, b *core.ApplyBatch, fn func(fresh []*core.Event) (*core.PartitionCommit, error)) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("apply: %w", err)
	}
	defer tx.Rollback(ctx)
	// Derived from the durable log and replayed from the checkpoint after
	// a crash, so it need not wait for its own WAL flush (see package doc).
	if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
		return 0, fmt.Errorf("apply: %w", err)
	}
	fresh := make([]*core.Event, 0, len(b.Events))
	if len(b.Events) > 0 {
		if fresh, err = claim(ctx, tx, b.Events, nanos(b.DedupeSince)); err != nil {
			return 0, fmt.Errorf("apply dedupe: %w", err)
		}
		if err := insertEvents(ctx, tx, fresh); err != nil {
			return 0, err
		}
	}
	c, err := fn(fresh)
	if err != nil {
		return 0, err
	}
	if c == nil {
		c = &core.PartitionCommit{}
	}
	writes := &pgx.Batch{}
	for _, m := range c.Merges {
		writes.Queue(`UPDATE events SET profile_id = $1 WHERE profile_id = $2`, m.Into, m.From)
		writes.Queue(`UPDATE profiles SET merged_into = $1 WHERE merged_into = $2`, m.Into, m.From)
		writes.Queue(`DELETE FROM merges WHERE from_id = $1`, m.From)
	}
	if len(c.Profiles) > 0 {
		ids, into, bodies, err := profileRows(c.Profiles)
		if err != nil {
			return 0, err
		}
		writes.Queue(upsertProfilesSQL, ids, into, bodies)
	}
	if err := queueJourneyWrites(writes, c); err != nil {
		return 0, err
	}
	queueAudienceWrites(writes, c)
	if err := queueDecisionWrites(writes, c); err != nil {
		return 0, err
	}
	queueJourneyStats(writes, c.JourneyStats) // last: see queueJourneyStats
	if err := execBatch(ctx, tx, writes); err != nil {
		return 0, fmt.Errorf("apply commit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("apply commit: %w", err)
	}
	return len(b.Events) - len(fresh), nil
}

// dedupeKey is an event's dedupe identity.
type dedupeKey struct{ source, message string }

// claim claims the dedupe entries of events and returns those that are
// fresh, in order. When every pair is distinct (the usual case) that is one
// statement: the rows do not interact, so the outcome is the same as
// claiming them one by one. A pair repeated in the batch depends on the
// claim before it, so then the claims go one by one, pipelined in one round
// trip.
func claim(ctx context.Context, tx pgx.Tx, events []*core.Event, since int64) ([]*core.Event, error) {
	n := len(events)
	keys := make(map[dedupeKey]bool, n)
	sources, messages, seen := make([]string, n), make([][]byte, n), make([]int64, n)
	for i, e := range events {
		keys[dedupeKey{e.SourceID, e.MessageID}] = false
		sources[i], messages[i], seen[i] = e.SourceID, []byte(e.MessageID), nanos(e.ReceivedAt)
	}
	fresh := make([]*core.Event, 0, n)
	if len(keys) < n {
		b := &pgx.Batch{}
		for i := range events {
			b.Queue(claimSQL, sources[i], messages[i], seen[i], since)
		}
		res := tx.SendBatch(ctx, b)
		defer res.Close()
		for _, e := range events {
			ct, err := res.Exec()
			if err != nil {
				return nil, err
			}
			if ct.RowsAffected() > 0 {
				fresh = append(fresh, e)
			}
		}
		return fresh, res.Close()
	}
	rows, err := tx.Query(ctx, claimAllSQL, sources, messages, seen, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var source string
	var message []byte
	for rows.Next() {
		if err := rows.Scan(&source, &message); err != nil {
			return nil, err
		}
		keys[dedupeKey{source, string(message)}] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, e := range events {
		if keys[dedupeKey{e.SourceID, e.MessageID}] {
			fresh = append(fresh, e)
		}
	}
	return fresh, nil
}

// insertEvents adds events to the timeline with one statement.
func insertEvents(ctx context.Context, tx pgx.Tx, events []*core.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		seqs     = make([]int64, n)
		sources  = make([]string, n)
		messages = make([][]byte, n)
		types    = make([]string, n)
		labels   = make([][]byte, n)
		stamps   = make([]int64, n)
		received = make([]int64, n)
		profiles = make([]string, n)
		bodies   = make([][]byte, n)
		size     = 0
	)
	for _, e := range events {
		size += 256 + len(e.Properties) + len(e.Traits) + len(e.Context) + len(e.Integrations)
	}
	buf := make([]byte, 0, size)
	for i, e := range events {
		start := len(buf)
		buf = e.AppendJSON(buf)
		seqs[i], sources[i], types[i], profiles[i] = e.Seq, e.SourceID, e.Type, e.ProfileID
		messages[i], labels[i] = []byte(e.MessageID), []byte(e.Label())
		stamps[i], received[i] = nanos(e.Timestamp), nanos(e.ReceivedAt)
		bodies[i] = buf[start:len(buf):len(buf)]
	}
	if _, err := tx.Exec(ctx, insertEventsSQL, seqs, sources, messages, types, labels, stamps, received, profiles, bodies); err != nil {
		return fmt.Errorf("apply events: %w", err)
	}
	return nil
}

// profileRows encodes profiles as upsertProfilesSQL's arrays. A profile
// listed twice is written once, as its last entry: what upserting them one
// after the other would leave.
func profileRows(ps []*core.Profile) (ids, into []string, bodies [][]byte, err error) {
	at := make(map[string]int, len(ps))
	for _, p := range ps {
		body, err := wire.EncodeProfile(p)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode profile %q: %w", p.ID, err)
		}
		if i, ok := at[p.ID]; ok {
			into[i], bodies[i] = p.MergedInto, body
			continue
		}
		at[p.ID] = len(ids)
		ids = append(ids, p.ID)
		into = append(into, p.MergedInto)
		bodies = append(bodies, body)
	}
	return ids, into, bodies, nil
}

// GetProfile implements core.Store.
func (s *Store) GetProfile(ctx context.Context, id string) (*core.Profile, error) {
	for hops := 0; hops < 16; hops++ {
		var body []byte
		var into *string
		err := pgx.ErrNoRows
		if isStorable(id) {
			err = s.pool.QueryRow(ctx, `SELECT body, merged_into FROM profiles WHERE id = $1`, id).Scan(&body, &into)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, core.Errorf(core.ENOTFOUND, "id", "profile %q not found", id)
		}
		if err != nil {
			return nil, fmt.Errorf("get profile: %w", err)
		}
		if into != nil && *into != "" {
			id = *into
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

// EraseProfile implements core.Store. It locks the profile and its
// tombstones first, so a partition worker cannot forward a merge into what
// is being erased.
func (s *Store) EraseProfile(ctx context.Context, id string) (core.Erasure, error) {
	var er core.Erasure
	if !isStorable(id) {
		return er, core.Errorf(core.ENOTFOUND, "id", "profile %q not found", id)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return er, fmt.Errorf("erase: %w", err)
	}
	defer tx.Rollback(ctx)
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM profiles WHERE id = $1 FOR UPDATE) p`, id).Scan(&n); err != nil {
		return er, fmt.Errorf("erase: %w", err)
	}
	if n == 0 {
		return er, core.Errorf(core.ENOTFOUND, "id", "profile %q not found", id)
	}
	rows, err := tx.Query(ctx, `SELECT id FROM profiles WHERE merged_into = $1 ORDER BY id FOR UPDATE`, id)
	if err != nil {
		return er, fmt.Errorf("erase: %w", err)
	}
	merged, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return er, fmt.Errorf("erase: %w", err)
	}
	ids := append([]string{id}, merged...)
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM events WHERE profile_id = ANY($1)`, ids).Exec(func(ct pgconn.CommandTag) error {
		er.Events = ct.RowsAffected()
		return nil
	})
	b.Queue(`DELETE FROM identities WHERE profile_id = ANY($1)`, ids).Exec(func(ct pgconn.CommandTag) error {
		er.Identifiers = ct.RowsAffected()
		return nil
	})
	b.Queue(`DELETE FROM merges WHERE from_id = ANY($1) OR into_id = ANY($1)`, ids)
	b.Queue(`DELETE FROM journey_instances WHERE profile_id = ANY($1)`, ids)
	b.Queue(`DELETE FROM outbox_attempts WHERE outbox_id IN (SELECT id FROM outbox WHERE profile_id = ANY($1))`, ids)
	b.Queue(`DELETE FROM outbox WHERE profile_id = ANY($1)`, ids)
	b.Queue(`DELETE FROM decisions WHERE profile_id = ANY($1)`, ids)
	b.Queue(`DELETE FROM audience_members WHERE profile_id = ANY($1)`, ids)
	b.Queue(`DELETE FROM emits WHERE profile_id = ANY($1)`, ids)
	b.Queue(`DELETE FROM profiles WHERE id = ANY($1)`, ids)
	if err := execBatch(ctx, tx, b); err != nil {
		return core.Erasure{}, fmt.Errorf("erase: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return core.Erasure{}, fmt.Errorf("erase: %w", err)
	}
	er.Profiles = ids
	return er, nil
}

// ScanProfiles implements core.Store: one range scan of the profiles'
// primary key.
func (s *Store) ScanProfiles(ctx context.Context, afterID string, limit int) ([]*core.Profile, error) {
	rows, err := s.pool.Query(ctx, `SELECT body FROM profiles WHERE id > $1 AND merged_into IS NULL ORDER BY id LIMIT $2`,
		afterID, limitOf(limit))
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
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM profiles WHERE merged_into IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count profiles: %w", err)
	}
	return n, nil
}
