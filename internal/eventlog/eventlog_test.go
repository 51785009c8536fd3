package eventlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// payload returns the deterministic payload of record seq: its length varies
// between 20 and 319 bytes so records straddle segment boundaries unevenly.
func payload(seq int64) []byte {
	n := 20 + int(seq*37%300)
	p := make([]byte, n)
	copy(p, fmt.Sprintf("record %d:", seq))
	for i := len(fmt.Sprintf("record %d:", seq)); i < n; i++ {
		p[i] = byte('a' + (int(seq)+i)%26)
	}
	return p
}

// frameSize is the on-disk size of record seq.
func frameSize(seq int64) int64 { return headerSize + int64(len(payload(seq))) }

func openLog(t testing.TB, dir string, maxSegment int64) *Log {
	t.Helper()
	l, err := Open(dir, Options{MaxSegmentBytes: maxSegment})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendRange appends records from..to (inclusive) in batches whose sizes
// cycle through 1..7, checking the seq each Append returns.
func appendRange(t testing.TB, l *Log, from, to int64) {
	t.Helper()
	for seq, k := from, 0; seq <= to; k++ {
		var batch [][]byte
		for i := 0; i < 1+k%7 && seq+int64(i) <= to; i++ {
			batch = append(batch, payload(seq+int64(i)))
		}
		first, err := l.Append(batch)
		if err != nil {
			t.Fatalf("append at %d: %v", seq, err)
		}
		if first != seq {
			t.Fatalf("append returned seq %d, want %d", first, seq)
		}
		seq += int64(len(batch))
	}
}

// checkRecords fails unless recs are exactly records from..to with their
// expected payloads.
func checkRecords(t testing.TB, recs []Record, from, to int64) {
	t.Helper()
	if want := to - from + 1; int64(len(recs)) != max(want, 0) {
		t.Fatalf("got %d records, want %d (seqs %d..%d)", len(recs), max(want, 0), from, to)
	}
	for i, r := range recs {
		if want := from + int64(i); r.Seq != want {
			t.Fatalf("record %d has seq %d, want %d", i, r.Seq, want)
		}
		if !bytes.Equal(r.Data, payload(r.Seq)) {
			t.Fatalf("record %d has data %q, want %q", r.Seq, r.Data, payload(r.Seq))
		}
	}
}

func readAll(t testing.TB, l *Log, after int64) []Record {
	t.Helper()
	recs, err := l.Read(after, 1<<30)
	if err != nil {
		t.Fatalf("read after %d: %v", after, err)
	}
	return recs
}

// segmentFirsts lists the first seq of every segment file in dir, ascending.
func segmentFirsts(t testing.TB, dir string) []int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var firsts []int64
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), suffix); ok {
			n, err := strconv.ParseInt(name, 10, 64)
			if err != nil {
				t.Fatalf("segment name %s: %v", e.Name(), err)
			}
			firsts = append(firsts, n)
		}
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	return firsts
}

func segPath(dir string, first int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", first, suffix))
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// segmentBytes is the total size of all segment files in dir.
func segmentBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var total int64
	for _, first := range segmentFirsts(t, dir) {
		total += fileSize(t, segPath(dir, first))
	}
	return total
}

// recordOffset is the byte offset of record seq inside the segment that
// starts at first.
func recordOffset(first, seq int64) int64 {
	var off int64
	for s := first; s < seq; s++ {
		off += frameSize(s)
	}
	return off
}

func TestRoundTripAcrossSegments(t *testing.T) {
	const n = 300
	dir := t.TempDir()
	l := openLog(t, dir, 4<<10)
	if got := l.LastSeq(); got != 0 {
		t.Fatalf("empty log LastSeq = %d, want 0", got)
	}
	if recs := readAll(t, l, 0); len(recs) != 0 {
		t.Fatalf("empty log read %d records", len(recs))
	}
	appendRange(t, l, 1, n)
	if got := l.LastSeq(); got != n {
		t.Fatalf("LastSeq = %d, want %d", got, n)
	}

	firsts := segmentFirsts(t, dir)
	if len(firsts) < 4 {
		t.Fatalf("got %d segments, want several with 4 KiB segments", len(firsts))
	}
	// Each segment is named after its first record and holds exactly the
	// records up to the next segment's first.
	for i, first := range firsts {
		end := int64(n + 1)
		if i+1 < len(firsts) {
			end = firsts[i+1]
		}
		if got, want := fileSize(t, segPath(dir, first)), recordOffset(first, end); got != want {
			t.Errorf("segment %d is %d bytes, want %d (records %d..%d)", first, got, want, first, end-1)
		}
	}

	t.Run("every position", func(t *testing.T) {
		for _, limit := range []int{1, 2, 7, 64, n + 10} {
			for after := int64(0); after <= n+1; after++ {
				recs, err := l.Read(after, limit)
				if err != nil {
					t.Fatalf("Read(%d, %d): %v", after, limit, err)
				}
				checkRecords(t, recs, after+1, min(after+int64(limit), n))
			}
		}
	})

	t.Run("paging", func(t *testing.T) {
		for _, limit := range []int{1, 3, 10, 33} {
			var got []Record
			for after := int64(0); ; {
				recs, err := l.Read(after, limit)
				if err != nil {
					t.Fatalf("Read(%d, %d): %v", after, limit, err)
				}
				if len(recs) == 0 {
					break
				}
				if len(recs) > limit {
					t.Fatalf("Read(%d, %d) returned %d records", after, limit, len(recs))
				}
				got = append(got, recs...)
				after = recs[len(recs)-1].Seq
			}
			checkRecords(t, got, 1, n)
		}
	})

	t.Run("odd arguments", func(t *testing.T) {
		for _, tc := range []struct {
			after int64
			limit int
			want  int
		}{
			{after: -5, limit: 3, want: 3},
			{after: 0, limit: 0, want: 0},
			{after: 0, limit: -1, want: 0},
			{after: n, limit: 10, want: 0},
			{after: n + 100, limit: 10, want: 0},
		} {
			recs, err := l.Read(tc.after, tc.limit)
			if err != nil {
				t.Fatalf("Read(%d, %d): %v", tc.after, tc.limit, err)
			}
			if len(recs) != tc.want {
				t.Fatalf("Read(%d, %d) returned %d records, want %d", tc.after, tc.limit, len(recs), tc.want)
			}
			if tc.want > 0 {
				checkRecords(t, recs, 1, int64(tc.want))
			}
		}
	})

	t.Run("reopen continues", func(t *testing.T) {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2 := openLog(t, dir, 4<<10)
		if got := l2.LastSeq(); got != n {
			t.Fatalf("reopened LastSeq = %d, want %d", got, n)
		}
		appendRange(t, l2, n+1, n+50)
		if got := l2.LastSeq(); got != n+50 {
			t.Fatalf("LastSeq = %d, want %d", got, n+50)
		}
		checkRecords(t, readAll(t, l2, 0), 1, n+50)
		checkRecords(t, readAll(t, l2, n-3), n-2, n+50)
	})
}

func TestEmptyAppend(t *testing.T) {
	l := openLog(t, t.TempDir(), 0)
	appendRange(t, l, 1, 3)
	seq, err := l.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if seq != 4 || l.LastSeq() != 3 {
		t.Fatalf("empty Append returned %d with LastSeq %d, want 4 and 3", seq, l.LastSeq())
	}
	appendRange(t, l, 4, 5)
	checkRecords(t, readAll(t, l, 0), 1, 5)
}

// TestTornTail damages the end of the last segment the way a crash during an
// unacknowledged write can, and checks that Open cuts the log back to the last
// intact record and appending carries on from there.
func TestTornTail(t *testing.T) {
	const n = 60
	type damage func(t *testing.T, path string, first int64)
	truncateBy := func(k int64) damage {
		return func(t *testing.T, path string, _ int64) {
			if err := os.Truncate(path, fileSize(t, path)-k); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendBytes := func(b []byte) damage {
		return func(t *testing.T, path string, _ int64) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	// flipAt flips a byte of the last record, at offset into its frame
	// (offset < 0 counts from the end of the record).
	flipAt := func(offset int64) damage {
		return func(t *testing.T, path string, first int64) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			start := recordOffset(first, n)
			pos := start + offset
			if offset < 0 {
				pos = int64(len(b)) + offset
			}
			b[pos] ^= 0x5a
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A record of the next seq whose checksum does not match.
	badNext := func() []byte {
		p := payload(n + 1)
		frame := make([]byte, headerSize+len(p))
		binary.LittleEndian.PutUint32(frame[0:4], uint32(len(p)))
		binary.LittleEndian.PutUint32(frame[4:8], 12345)
		binary.LittleEndian.PutUint64(frame[8:16], n+1)
		copy(frame[headerSize:], p)
		return frame
	}()

	for _, tc := range []struct {
		name    string
		damage  damage
		wantLog int64 // LastSeq after reopening
	}{
		{name: "truncated by 3 bytes", damage: truncateBy(3), wantLog: n - 1},
		{name: "truncated into header", damage: truncateBy(frameSize(n) - 5), wantLog: n - 1},
		{name: "truncated at header end", damage: truncateBy(frameSize(n) - headerSize), wantLog: n - 1},
		{name: "garbage appended", damage: appendBytes([]byte("\x07garbage that is not a record at all")), wantLog: n},
		{name: "short garbage appended", damage: appendBytes([]byte{1, 2, 3}), wantLog: n},
		{name: "zeros appended", damage: appendBytes(make([]byte, 4096)), wantLog: n},
		{name: "next record with bad checksum", damage: appendBytes(badNext), wantLog: n},
		{name: "payload byte flipped", damage: flipAt(-1), wantLog: n - 1},
		{name: "checksum byte flipped", damage: flipAt(5), wantLog: n - 1},
		{name: "seq byte flipped", damage: flipAt(8), wantLog: n - 1},
		{name: "length byte flipped", damage: flipAt(0), wantLog: n - 1},
		{name: "length made huge", damage: flipAt(3), wantLog: n - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, 4<<10)
			appendRange(t, l, 1, n-1)
			// Make sure the last segment holds more than one record.
			if _, err := l.Append([][]byte{payload(n)}); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			firsts := segmentFirsts(t, dir)
			last := firsts[len(firsts)-1]
			if last >= n {
				t.Fatalf("last segment starts at %d; the test needs it to hold several records", last)
			}
			path := segPath(dir, last)
			tc.damage(t, path, last)

			l = openLog(t, dir, 4<<10)
			if got := l.LastSeq(); got != tc.wantLog {
				t.Fatalf("LastSeq after reopen = %d, want %d", got, tc.wantLog)
			}
			if got, want := fileSize(t, path), recordOffset(last, tc.wantLog+1); got != want {
				t.Fatalf("last segment is %d bytes after reopen, want %d", got, want)
			}
			checkRecords(t, readAll(t, l, 0), 1, tc.wantLog)

			next := tc.wantLog + 1
			seq, err := l.Append([][]byte{payload(next), payload(next + 1)})
			if err != nil {
				t.Fatal(err)
			}
			if seq != next {
				t.Fatalf("Append after reopen returned seq %d, want %d", seq, next)
			}
			checkRecords(t, readAll(t, l, 0), 1, next+1)

			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, 4<<10)
			if got := l.LastSeq(); got != next+1 {
				t.Fatalf("LastSeq after second reopen = %d, want %d", got, next+1)
			}
			checkRecords(t, readAll(t, l, tc.wantLog-2), tc.wantLog-1, next+1)
		})
	}
}

// TestTornTailWholeSegment tears the only record of a freshly started last
// segment: the log continues at that segment's first seq.
func TestTornTailWholeSegment(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 1<<10)
	var last int64
	for seq := int64(1); ; seq++ {
		if _, err := l.Append([][]byte{payload(seq)}); err != nil {
			t.Fatal(err)
		}
		firsts := segmentFirsts(t, dir)
		if len(firsts) >= 3 && firsts[len(firsts)-1] == seq {
			last = seq
			break
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(segPath(dir, last), 7); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, 1<<10)
	if got := l.LastSeq(); got != last-1 {
		t.Fatalf("LastSeq = %d, want %d", got, last-1)
	}
	if seq, err := l.Append([][]byte{payload(last)}); err != nil || seq != last {
		t.Fatalf("Append = %d, %v; want %d", seq, err, last)
	}
	checkRecords(t, readAll(t, l, 0), 1, last)
}

// TestCorruptSealedSegment damages one record in the middle of a segment that
// is not the last one. Every Read that has to pass that record must fail; no
// Read may return a gap or wrong data.
func TestCorruptSealedSegment(t *testing.T) {
	const n = 200
	for _, tc := range []struct {
		name     string
		offset   int // into the damaged record's frame
		mask     byte
		checksum bool // the error must say "checksum mismatch"
	}{
		{name: "payload", offset: headerSize + 10, mask: 0x01, checksum: true},
		{name: "last payload byte", offset: -1, mask: 0x80, checksum: true},
		{name: "checksum", offset: 4, mask: 0x10, checksum: true},
		{name: "seq low byte to a smaller seq", offset: 8, mask: 0, checksum: false},
		{name: "seq high byte", offset: 15, mask: 0x40, checksum: false},
		{name: "length low byte", offset: 0, mask: 0x01, checksum: false},
		{name: "length high byte", offset: 3, mask: 0x20, checksum: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, 4<<10)
			appendRange(t, l, 1, n)
			firsts := segmentFirsts(t, dir)
			if len(firsts) < 3 {
				t.Fatalf("only %d segments", len(firsts))
			}
			// The middle record of the second segment.
			first, end := firsts[1], firsts[2]
			bad := (first + end) / 2
			if bad <= first || bad >= end-1 {
				t.Fatalf("segment %d..%d too small to damage its middle", first, end-1)
			}
			path := segPath(dir, first)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			pos := recordOffset(first, bad) + int64(tc.offset)
			if tc.offset < 0 {
				pos = recordOffset(first, bad+1) + int64(tc.offset)
			}
			mask := tc.mask
			if mask == 0 {
				// Clear the lowest set bit of the seq: it becomes smaller, so
				// a reader starting after it would skip it unchecked.
				mask = byte(bad & -bad)
			}
			b[pos] ^= mask
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}

			check := func(t *testing.T, l *Log) {
				for after := int64(0); after <= n; after++ {
					recs, err := l.Read(after, n)
					if after < bad {
						if err == nil {
							t.Fatalf("Read(%d) passed damaged record %d without error; returned %d records (first %d)",
								after, bad, len(recs), firstSeq(recs))
						}
						if tc.checksum && !strings.Contains(err.Error(), "checksum mismatch") {
							t.Fatalf("Read(%d) error %q, want a checksum mismatch", after, err)
						}
						continue
					}
					// Starting after the damaged record, a read either fails
					// or returns exactly the right records.
					if err == nil {
						checkRecords(t, recs, after+1, n)
					}
				}
			}
			t.Run("open log", func(t *testing.T) { check(t, l) })
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			t.Run("reopened", func(t *testing.T) {
				l := openLog(t, dir, 4<<10)
				if got := l.LastSeq(); got != n {
					t.Fatalf("LastSeq = %d, want %d", got, n)
				}
				check(t, l)
			})
		})
	}
}

func firstSeq(recs []Record) int64 {
	if len(recs) == 0 {
		return 0
	}
	return recs[0].Seq
}

// TestTruncatedSealedSegment cuts a non-last segment at a record boundary:
// the records lost from it must make Read fail, not vanish.
func TestTruncatedSealedSegment(t *testing.T) {
	const n = 200
	for _, cut := range []string{"record boundary", "inside header", "inside payload"} {
		t.Run(cut, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, 4<<10)
			appendRange(t, l, 1, n)
			firsts := segmentFirsts(t, dir)
			first, end := firsts[1], firsts[2]
			size := recordOffset(first, end-1) // drop the last record
			switch cut {
			case "inside header":
				size += 9
			case "inside payload":
				size += headerSize + 3
			}
			if err := os.Truncate(segPath(dir, first), size); err != nil {
				t.Fatal(err)
			}
			for after := int64(0); after < end-1; after++ {
				if recs, err := l.Read(after, n); err == nil {
					t.Fatalf("Read(%d) skipped lost record %d without error; returned %d records (first %d)",
						after, end-1, len(recs), firstSeq(recs))
				}
			}
		})
	}
}

// TestFailedAppendLeftoverSealed leaves bytes past the acknowledged end of the
// active segment, as an Append whose write went out but whose fsync failed
// does. Append promises the next append overwrites them; when that append is
// shorter, the rest must stay harmless after the segment is sealed by a
// rotation, both before and after a reopen.
func TestFailedAppendLeftoverSealed(t *testing.T) {
	const next = 6
	// The segment is full right after the retry of record next, so the
	// append after it starts a new segment.
	maxSeg := recordOffset(1, next+1)
	dir := t.TempDir()
	l := openLog(t, dir, maxSeg)
	appendRange(t, l, 1, next-1)
	path := segPath(dir, 1)

	// The frame the failed Append wrote: a well-formed record of seq next.
	failed := bytes.Repeat([]byte("unacknowledged "), 40)
	frame := make([]byte, headerSize+len(failed))
	binary.LittleEndian.PutUint32(frame[0:4], uint32(len(failed)))
	binary.LittleEndian.PutUint64(frame[8:16], uint64(next))
	binary.LittleEndian.PutUint32(frame[4:8], crc32.Update(crc32.Checksum(frame[8:16], crcTable), crcTable, failed))
	copy(frame[headerSize:], failed)
	fh, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt(frame, fileSize(t, path)); err != nil {
		t.Fatal(err)
	}
	fh.Close()

	// The retry is shorter, and later appends rotate to a new segment.
	appendRange(t, l, next, 40)
	if firsts := segmentFirsts(t, dir); len(firsts) < 2 || firsts[1] != next+1 {
		t.Fatalf("segments %v, want the second to start at %d", firsts, next+1)
	}
	if got, acked := fileSize(t, path), recordOffset(1, next+1); got <= acked {
		t.Fatalf("sealed segment is %d bytes, want leftover bytes past the acknowledged %d", got, acked)
	}
	checkRecords(t, readAll(t, l, 0), 1, 40)
	checkRecords(t, readAll(t, l, next-1), next, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, maxSeg)
	checkRecords(t, readAll(t, l, 0), 1, 40)
}

func TestTrimThrough(t *testing.T) {
	const n = 200
	for _, tc := range []struct {
		name string
		seq  func(firsts []int64) int64
	}{
		{name: "nothing", seq: func([]int64) int64 { return 0 }},
		{name: "below first segment end", seq: func(f []int64) int64 { return f[1] - 2 }},
		{name: "exactly first segment", seq: func(f []int64) int64 { return f[1] - 1 }},
		{name: "into third segment", seq: func(f []int64) int64 { return f[2] + 1 }},
		{name: "up to the active segment", seq: func(f []int64) int64 { return f[len(f)-1] - 1 }},
		{name: "last seq", seq: func([]int64) int64 { return n }},
		{name: "past the end", seq: func([]int64) int64 { return n + 1000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, 4<<10)
			appendRange(t, l, 1, n)
			firsts := segmentFirsts(t, dir)
			if len(firsts) < 4 {
				t.Fatalf("only %d segments", len(firsts))
			}
			through := tc.seq(firsts)
			// Keep a segment unless every record in it is <= through; the
			// active (last) one is always kept.
			var want []int64
			for i, first := range firsts {
				if i == len(firsts)-1 || firsts[i+1]-1 > through {
					want = append(want, first)
				}
			}
			oldest := want[0]
			// Warm the read hint in a segment that is about to go.
			if _, err := l.Read(3, 2); err != nil {
				t.Fatal(err)
			}
			if err := l.TrimThrough(through); err != nil {
				t.Fatal(err)
			}
			if got := segmentFirsts(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("segments after TrimThrough(%d) = %v, want %v (before %v)", through, got, want, firsts)
			}
			if got := l.LastSeq(); got != n {
				t.Fatalf("LastSeq = %d, want %d", got, n)
			}
			check := func(t *testing.T, l *Log) {
				t.Helper()
				checkRecords(t, readAll(t, l, 0), oldest, n)
				recs, err := l.Read(0, 5)
				if err != nil {
					t.Fatal(err)
				}
				checkRecords(t, recs, oldest, min(oldest+4, n))
				if oldest > 2 {
					// A read from inside the trimmed range starts at the oldest kept.
					checkRecords(t, readAll(t, l, oldest-2), oldest, n)
				}
				checkRecords(t, readAll(t, l, oldest+1), oldest+2, n)
			}
			check(t, l)

			// Appending and reopening keep working on the trimmed log.
			appendRange(t, l, n+1, n+5)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, 4<<10)
			if got := l.LastSeq(); got != n+5 {
				t.Fatalf("LastSeq after reopen = %d, want %d", got, n+5)
			}
			checkRecords(t, readAll(t, l, 0), oldest, n+5)
		})
	}
}

func TestOpenLocksDirectory(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendRange(t, l, 1, 3)
	for i := 0; i < 2; i++ { // a failed Open must not release the first's lock
		l2, err := Open(dir, Options{})
		if err == nil {
			l2.Close()
			t.Fatalf("second Open of %s succeeded while the first is open", dir)
		}
		if !strings.Contains(err.Error(), "in use") {
			t.Fatalf("second Open error %q does not say the directory is in use", err)
		}
	}
	// The first log is unaffected.
	appendRange(t, l, 4, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer l2.Close()
	checkRecords(t, readAll(t, l2, 0), 1, 5)
}

// TestConcurrentReaders reads while one goroutine appends across segment
// rotations. A reader must only ever see a gap-free prefix of complete,
// correct records, and at least every record LastSeq reported before the Read.
// Run it with -race.
func TestConcurrentReaders(t *testing.T) {
	const (
		n       = 600
		readers = 4
	)
	l := openLog(t, t.TempDir(), 2<<10)
	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq, k := int64(1), 0; seq <= n; k++ {
			var batch [][]byte
			for i := 0; i < 1+k%5 && seq+int64(i) <= n; i++ {
				batch = append(batch, payload(seq+int64(i)))
			}
			first, err := l.Append(batch)
			if err != nil || first != seq {
				errs <- fmt.Errorf("append at %d: got seq %d, %v", seq, first, err)
				return
			}
			seq += int64(len(batch))
		}
	}()
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			limit := 1 + r*7
			var after int64
			for reads := 0; after < n; reads++ {
				durable := l.LastSeq()
				// Alternate between paging forward and re-reading from the
				// start, so the shared read hint is exercised both ways.
				from := after
				if reads%3 == 0 {
					from = 0
				}
				recs, err := l.Read(from, limit)
				if err != nil {
					errs <- fmt.Errorf("reader %d: Read(%d, %d): %v", r, from, limit, err)
					return
				}
				for i, rec := range recs {
					if rec.Seq != from+1+int64(i) || !bytes.Equal(rec.Data, payload(rec.Seq)) {
						errs <- fmt.Errorf("reader %d: Read(%d) record %d has seq %d (data %q)", r, from, i, rec.Seq, rec.Data)
						return
					}
				}
				if want := min(durable-from, int64(limit)); int64(len(recs)) < want {
					errs <- fmt.Errorf("reader %d: Read(%d, %d) returned %d records but LastSeq was already %d",
						r, from, limit, len(recs), durable)
					return
				}
				if len(recs) > 0 && from == after {
					after = recs[len(recs)-1].Seq
				}
			}
		}(r)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkRecords(t, readAll(t, l, 0), 1, n)
}

func TestAppendRejectsOversizeRecord(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rotate  bool // fill the active segment first, so Append would start a new one
		payload [][]byte
	}{
		{name: "alone", payload: [][]byte{make([]byte, MaxRecord+1)}},
		{name: "after a good record", payload: [][]byte{payload(99), make([]byte, MaxRecord+1)}},
		{name: "before a good record", payload: [][]byte{make([]byte, MaxRecord+1), payload(99)}},
		{name: "when the segment is full", rotate: true, payload: [][]byte{payload(99), make([]byte, MaxRecord+1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			maxSeg := int64(64 << 10)
			if tc.rotate {
				maxSeg = 1 << 10
			}
			l := openLog(t, dir, maxSeg)
			appendRange(t, l, 1, 10)
			before := segmentBytes(t, dir)
			if _, err := l.Append(tc.payload); err == nil {
				t.Fatal("Append of a record over MaxRecord succeeded")
			} else if !strings.Contains(err.Error(), "over the limit") {
				t.Fatalf("Append error %q does not say the record is over the limit", err)
			}
			if got := segmentBytes(t, dir); got != before {
				t.Fatalf("segment files grew from %d to %d bytes", before, got)
			}
			if got := l.LastSeq(); got != 10 {
				t.Fatalf("LastSeq = %d, want 10", got)
			}
			checkRecords(t, readAll(t, l, 0), 1, 10)
			appendRange(t, l, 11, 12)
			checkRecords(t, readAll(t, l, 0), 1, 12)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, maxSeg)
			if got := l.LastSeq(); got != 12 {
				t.Fatalf("LastSeq after reopen = %d, want 12", got)
			}
			checkRecords(t, readAll(t, l, 0), 1, 12)
		})
	}

	t.Run("exactly MaxRecord", func(t *testing.T) {
		dir := t.TempDir()
		l := openLog(t, dir, 0)
		big := bytes.Repeat([]byte{0xab}, MaxRecord)
		if _, err := l.Append([][]byte{big}); err != nil {
			t.Fatalf("Append of exactly MaxRecord bytes: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = openLog(t, dir, 0)
		recs := readAll(t, l, 0)
		if len(recs) != 1 || !bytes.Equal(recs[0].Data, big) || l.LastSeq() != 1 {
			t.Fatalf("read back %d records, LastSeq %d", len(recs), l.LastSeq())
		}
	})
}

// FuzzOpenDamagedTail writes records, cuts the last segment at an arbitrary
// point and appends arbitrary bytes, then checks that Open recovers a correct
// prefix and that appending continues after it.
func FuzzOpenDamagedTail(f *testing.F) {
	f.Add(uint16(0), []byte{})
	f.Add(uint16(3), []byte("garbage"))
	f.Add(uint16(200), make([]byte, 64))
	f.Add(uint16(17), []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, cut uint16, tail []byte) {
		const n = 12
		dir := t.TempDir()
		l := openLog(t, dir, 1<<10)
		appendRange(t, l, 1, n)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		firsts := segmentFirsts(t, dir)
		last := firsts[len(firsts)-1]
		path := segPath(dir, last)
		size := fileSize(t, path)
		keep := size - int64(cut)%(size+1)
		if err := os.Truncate(path, keep); err != nil {
			t.Fatal(err)
		}
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.Write(tail); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		// Records wholly inside the kept bytes survive.
		intact := last - 1
		for off := int64(0); off+frameSize(intact+1) <= keep; intact++ {
			off += frameSize(intact + 1)
		}

		l = openLog(t, dir, 1<<10)
		lastSeq := l.LastSeq()
		if lastSeq < intact {
			t.Fatalf("LastSeq = %d, want at least %d intact records", lastSeq, intact)
		}
		recs := readAll(t, l, 0)
		if int64(len(recs)) != lastSeq {
			t.Fatalf("read %d records, LastSeq %d", len(recs), lastSeq)
		}
		// The tail may itself hold well-formed records; those past the
		// intact prefix are the fuzzer's, not ours.
		checkRecords(t, recs[:intact], 1, intact)
		seq, err := l.Append([][]byte{payload(lastSeq + 1)})
		if err != nil || seq != lastSeq+1 {
			t.Fatalf("Append = %d, %v; want %d", seq, err, lastSeq+1)
		}
		recs = readAll(t, l, lastSeq)
		checkRecords(t, recs, lastSeq+1, lastSeq+1)
	})
}

// BenchmarkAppend appends batches of 1,000 records of about 400 bytes; each
// Append is one write and one fsync.
func BenchmarkAppend(b *testing.B) {
	for _, batchSize := range []int{1, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batchSize), func(b *testing.B) {
			l := openLog(b, b.TempDir(), 0)
			batch := make([][]byte, batchSize)
			for i := range batch {
				batch[i] = bytes.Repeat([]byte{byte('a' + i%26)}, 400)
			}
			b.SetBytes(int64(batchSize * 400))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Append(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
