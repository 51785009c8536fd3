package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/overture-cjo/overture/internal/core"
)

func BenchmarkScratchApply(b *testing.B) {
	url := newSchema(b)
	s := open(b, url)
	defer s.Close()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	ctx := context.Background()
	seq := int64(0)
	next := func() []*core.Event { ev := benchEvents(batchSize, 100, seq, now); seq += batchSize; return ev }
	since := now.Add(-time.Hour)
	b.Run("dedupe-pipelined", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			ev := next()
			b.StartTimer()
			bt := &pgx.Batch{}
			for _, e := range ev {
				bt.Queue(`INSERT INTO dedupe (source_id, message_id, seen_at) VALUES ($1, $2, $3)
	ON CONFLICT (source_id, message_id) DO UPDATE SET seen_at = excluded.seen_at WHERE dedupe.seen_at < $4`, e.SourceID, []byte(e.MessageID), e.ReceivedAt.UnixNano(), since.UnixNano())
			}
			if err := conn.SendBatch(ctx, bt).Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dedupe-pipelined-tx", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			ev := next()
			b.StartTimer()
			tx, _ := conn.Begin(ctx)
			bt := &pgx.Batch{}
			for _, e := range ev {
				bt.Queue(`INSERT INTO dedupe (source_id, message_id, seen_at) VALUES ($1, $2, $3)
	ON CONFLICT (source_id, message_id) DO UPDATE SET seen_at = excluded.seen_at WHERE dedupe.seen_at < $4`, e.SourceID, []byte(e.MessageID), e.ReceivedAt.UnixNano(), since.UnixNano())
			}
			if err := tx.SendBatch(ctx, bt).Close(); err != nil {
				b.Fatal(err)
			}
			tx.Commit(ctx)
		}
	})
	b.Run("dedupe-set", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			ev := next()
			src := make([]string, len(ev))
			msg := make([][]byte, len(ev))
			at := make([]int64, len(ev))
			for i, e := range ev {
				src[i], msg[i], at[i] = e.SourceID, []byte(e.MessageID), e.ReceivedAt.UnixNano()
			}
			b.StartTimer()
			rows, _ := conn.Query(ctx, `INSERT INTO dedupe (source_id, message_id, seen_at) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])
	ON CONFLICT (source_id, message_id) DO UPDATE SET seen_at = excluded.seen_at WHERE dedupe.seen_at < $4 RETURNING source_id, message_id`, src, msg, at, since.UnixNano())
			rows.Close()
			if rows.Err() != nil {
				b.Fatal(rows.Err())
			}
		}
	})
	b.Run("events-unnest", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			ev := next()
			b.StartTimer()
			tx, _ := conn.Begin(ctx)
			n := len(ev)
			seqs, sources, messages, types, labels, stamps, received, profiles, bodies := make([]int64, n), make([]string, n), make([][]byte, n), make([]string, n), make([][]byte, n), make([]int64, n), make([]int64, n), make([]string, n), make([][]byte, n)
			for i, e := range ev {
				seqs[i], sources[i], types[i], profiles[i] = e.Seq, e.SourceID, e.Type, e.ProfileID
				messages[i], labels[i] = []byte(e.MessageID), []byte(e.Label())
				stamps[i], received[i] = e.Timestamp.UnixNano(), e.ReceivedAt.UnixNano()
				bodies[i] = e.AppendJSON(nil)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO events (seq, source_id, message_id, type, label, timestamp, received_at, profile_id, body)
	SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::bytea[], $6::bigint[], $7::bigint[], $8::text[], $9::bytea[])
	ON CONFLICT (seq) DO NOTHING`, seqs, sources, messages, types, labels, stamps, received, profiles, bodies); err != nil {
				b.Fatal(err)
			}
			tx.Commit(ctx)
		}
	})
	b.Run("events-copy", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			ev := next()
			b.StartTimer()
			rs := make([][]any, len(ev))
			for i, e := range ev {
				rs[i] = []any{e.Seq, e.SourceID, []byte(e.MessageID), e.Type, []byte(e.Label()), e.Timestamp.UnixNano(), e.ReceivedAt.UnixNano(), e.ProfileID, e.AppendJSON(nil)}
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"seq", "source_id", "message_id", "type", "label", "timestamp", "received_at", "profile_id", "body"}, pgx.CopyFromRows(rs)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("profiles", func(b *testing.B) {
		ids, into, bodies := make([]string, 100), make([]string, 100), make([][]byte, 100)
		for i := range ids {
			p := core.NewProfile(fmt.Sprintf("prof-%d", i), now)
			ids[i] = p.ID
			bodies[i] = []byte(`{"id":"x"}`); _ = p
		}
		_ = into
	})
}
