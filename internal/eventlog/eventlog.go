// Package eventlog is an append-only log of records in segment files, made
// durable by fsync. It is the embedded store's event log: ingestion appends
// a group of records with one write and one fsync, and acknowledges them
// only after that returns.
//
// A segment file is named after the sequence number of its first record.
// Each record is framed as
//
//	length uint32 | crc32c(seq|payload) uint32 | seq uint64 | payload
//
// (little endian). On open, a torn or corrupt tail of the last segment (a
// write cut off by a crash, never acknowledged) is truncated away.
package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

const (
	headerSize = 16
	// MaxRecord is the largest payload a record may hold.
	MaxRecord = 16 << 20
	suffix    = ".seg"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Record is one logged payload and its sequence number.
type Record struct {
	Seq  int64
	Data []byte
}

// Log is a segmented append-only log. Append is safe to call from one
// goroutine at a time alongside any number of readers.
type Log struct {
	dir        string
	maxSegment int64

	lock *os.File // holds the directory's flock

	mu       sync.Mutex // guards the fields below
	segments []int64    // first seq of each segment, ascending
	active   *os.File
	size     int64 // durable size of the active segment
	next     int64 // seq of the next record
	hint     readHint
	buf      []byte
}

type readHint struct {
	seq, segment, offset int64
}

// Options tune a log.
type Options struct {
	// MaxSegmentBytes is the size after which a new segment is started
	// (default 64 MiB).
	MaxSegmentBytes int64
}

// Open opens or creates the log in dir.
func Open(dir string, opts Options) (*Log, error) {
	if opts.MaxSegmentBytes <= 0 {
		opts.MaxSegmentBytes = 64 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	l := &Log{dir: dir, maxSegment: opts.MaxSegmentBytes, next: 1}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l.lock = lock
	ok := false
	defer func() {
		if !ok {
			l.Close()
		}
	}()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, suffix) {
			continue
		}
		first, err := strconv.ParseInt(strings.TrimSuffix(name, suffix), 10, 64)
		if err != nil || first < 1 {
			return nil, fmt.Errorf("eventlog: unexpected file %s", name)
		}
		l.segments = append(l.segments, first)
	}
	sort.Slice(l.segments, func(i, j int) bool { return l.segments[i] < l.segments[j] })
	if len(l.segments) == 0 {
		if err := l.startSegment(1); err != nil {
			return nil, err
		}
		ok = true
		return l, nil
	}
	last := l.segments[len(l.segments)-1]
	f, err := os.OpenFile(l.path(last), os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	end, lastSeq, err := scanValid(f, last)
	if err != nil {
		f.Close()
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() > end {
		// A torn tail: the write was never acknowledged.
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, fmt.Errorf("eventlog: truncate torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("eventlog: %w", err)
		}
	}
	l.active, l.size = f, end
	l.next = last
	if lastSeq > 0 {
		l.next = lastSeq + 1
	}
	ok = true
	return l, nil
}

// scanValid reads a segment from the start and returns the end offset of its
// last intact record and that record's seq (0 if none).
func scanValid(f *os.File, first int64) (int64, int64, error) {
	var off, lastSeq int64
	hdr := make([]byte, headerSize)
	var data []byte
	expect := first
	for {
		if _, err := f.ReadAt(hdr, off); err != nil {
			return off, lastSeq, nil
		}
		n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		seq := int64(binary.LittleEndian.Uint64(hdr[8:16]))
		if n > MaxRecord || seq != expect {
			return off, lastSeq, nil
		}
		if int64(cap(data)) < n {
			data = make([]byte, n)
		}
		data = data[:n]
		if _, err := f.ReadAt(data, off+headerSize); err != nil {
			return off, lastSeq, nil
		}
		if crc32.Update(crc32.Checksum(hdr[8:16], crcTable), crcTable, data) != sum {
			return off, lastSeq, nil
		}
		off += headerSize + n
		lastSeq = seq
		expect++
	}
}

func (l *Log) path(first int64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%020d%s", first, suffix))
}

func (l *Log) startSegment(first int64) error {
	f, err := os.OpenFile(l.path(first), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("eventlog: new segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	if l.active != nil {
		l.active.Close()
	}
	l.active, l.size = f, 0
	l.segments = append(l.segments, first)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("eventlog: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("eventlog: sync dir: %w", err)
	}
	return nil
}

// Append writes payloads as consecutive records, fsyncs, and returns the
// seq of the first. On error nothing is acknowledged and the log stays
// usable: the partial write is overwritten by the next append.
func (l *Log) Append(payloads [][]byte) (int64, error) {
	l.mu.Lock()
	size, next, active := l.size, l.next, l.active
	l.mu.Unlock()
	if size >= l.maxSegment {
		l.mu.Lock()
		err := l.startSegment(next)
		size, active = l.size, l.active
		l.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	buf := l.buf[:0]
	seq := next
	for _, p := range payloads {
		if len(p) > MaxRecord {
			return 0, fmt.Errorf("eventlog: record of %d bytes is over the limit", len(p))
		}
		at := len(buf)
		buf = append(buf, make([]byte, headerSize)...)
		hdr := buf[at : at+headerSize]
		binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(p)))
		binary.LittleEndian.PutUint64(hdr[8:16], uint64(seq))
		binary.LittleEndian.PutUint32(hdr[4:8], crc32.Update(crc32.Checksum(hdr[8:16], crcTable), crcTable, p))
		buf = append(buf, p...)
		seq++
	}
	if cap(buf) <= 8<<20 {
		l.buf = buf
	}
	if _, err := active.WriteAt(buf, size); err != nil {
		return 0, fmt.Errorf("eventlog: write: %w", err)
	}
	if err := active.Sync(); err != nil {
		return 0, fmt.Errorf("eventlog: fsync: %w", err)
	}
	l.mu.Lock()
	l.size = size + int64(len(buf))
	l.next = seq
	l.mu.Unlock()
	return next, nil
}

// LastSeq returns the seq of the last durable record (0 if none).
func (l *Log) LastSeq() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// Read returns up to limit records with Seq > after, in order.
func (l *Log) Read(after int64, limit int) ([]Record, error) {
	l.mu.Lock()
	segs := append([]int64(nil), l.segments...)
	activeSize, next, hint := l.size, l.next, l.hint
	l.mu.Unlock()
	if after+1 >= next || limit <= 0 {
		return nil, nil
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i] > after+1 }) - 1
	if i < 0 {
		i = 0 // trimmed away: start from the oldest kept
	}
	var out []Record
	hdr := make([]byte, headerSize)
	for ; i < len(segs) && len(out) < limit; i++ {
		f, err := os.Open(l.path(segs[i]))
		if err != nil {
			return nil, fmt.Errorf("eventlog: %w", err)
		}
		end := int64(-1)
		if i == len(segs)-1 {
			end = activeSize
		}
		off := int64(0)
		expect := segs[i] // the seq the record at off must have
		if hint.segment == segs[i] && hint.seq <= after && hint.seq >= segs[i]-1 {
			off = hint.offset
			expect = hint.seq + 1
		}
		for len(out) < limit {
			if end >= 0 && off >= end {
				break
			}
			// A sealed segment ends where the next one begins; bytes after
			// that are a failed, unacknowledged append.
			if end < 0 && expect >= segs[i+1] {
				break
			}
			if _, err := f.ReadAt(hdr, off); err != nil {
				f.Close()
				if errors.Is(err, io.EOF) && end < 0 {
					return nil, fmt.Errorf("eventlog: segment %d ends before seq %d", segs[i], expect)
				}
				return nil, fmt.Errorf("eventlog: read %d: %w", segs[i], err)
			}
			n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
			seq := int64(binary.LittleEndian.Uint64(hdr[8:16]))
			if n > MaxRecord || seq != expect {
				f.Close()
				return nil, fmt.Errorf("eventlog: corrupt record at %d:%d (seq %d, want %d)", segs[i], off, seq, expect)
			}
			if seq > after {
				data := make([]byte, n)
				if _, err := f.ReadAt(data, off+headerSize); err != nil {
					f.Close()
					return nil, fmt.Errorf("eventlog: read %d: %w", segs[i], err)
				}
				if crc32.Update(crc32.Checksum(hdr[8:16], crcTable), crcTable, data) != binary.LittleEndian.Uint32(hdr[4:8]) {
					f.Close()
					return nil, fmt.Errorf("eventlog: checksum mismatch at seq %d", seq)
				}
				out = append(out, Record{Seq: seq, Data: data})
			}
			off += headerSize + n
			expect++
			hint = readHint{seq: seq, segment: segs[i], offset: off}
		}
		f.Close()
	}
	l.mu.Lock()
	l.hint = hint
	l.mu.Unlock()
	return out, nil
}

// TrimThrough deletes whole segments all of whose records have Seq <= seq.
// The active segment is always kept.
func (l *Log) TrimThrough(seq int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.segments) > 1 && l.segments[1] <= seq+1 {
		if err := os.Remove(l.path(l.segments[0])); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("eventlog: trim: %w", err)
		}
		l.segments = l.segments[1:]
	}
	return nil
}

// Close closes the active segment and releases the directory.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.active != nil {
		err = l.active.Close()
		l.active = nil
	}
	if l.lock != nil {
		l.lock.Close() // releases the flock
		l.lock = nil
	}
	return err
}

// lockDir takes an exclusive flock on dir/LOCK, so two processes never
// append to one log.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("eventlog: %s is in use by another process (is a server running on this data directory?): %w", dir, err)
	}
	return f, nil
}
