package core

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"slices"
)

// A profile's computed-trait state is written with the profile on every
// batch that touches it, so its size is write cost. Its JSON form is a
// base64 string of a compact binary encoding (about a third of the size of
// the same state as a JSON object; a distinct_count bucket alone holds up
// to 32 64-bit hashes). The object form is still read.
//
// Binary form, version 1: the version byte, then the number of windows,
// then per window in name order: name (length, bytes), definition
// fingerprint (4 bytes, little endian), the number of buckets, and per
// bucket: K as a delta from the previous bucket's K (zigzag varint), N,
// a flags varint saying which of the other fields follow, then those
// fields (floats as 8 bytes, times and positions as zigzag varints, V as
// length and bytes, D as count and 8 bytes each).

const computedCodecV1 = 1

const (
	flagSum = 1 << iota
	flagMin
	flagMax
	flagF
	flagL
	flagQ
	flagV
	flagD
	flagX
)

// MarshalJSON encodes the state compactly (see above).
func (c Computed) MarshalJSON() ([]byte, error) {
	b := make([]byte, 1, 64+32*len(c.Traits))
	b[0] = computedCodecV1
	names := make([]string, 0, len(c.Traits))
	for name := range c.Traits {
		names = append(names, name)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		w := c.Traits[name]
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.LittleEndian.AppendUint32(b, w.Def)
		b = binary.AppendUvarint(b, uint64(len(w.Buckets)))
		prev := int64(0)
		for i := range w.Buckets {
			k := &w.Buckets[i]
			b = binary.AppendVarint(b, k.K-prev)
			prev = k.K
			b = binary.AppendUvarint(b, uint64(k.N))
			var flags uint64
			if k.Sum != 0 {
				flags |= flagSum
			}
			if k.Min != 0 {
				flags |= flagMin
			}
			if k.Max != 0 {
				flags |= flagMax
			}
			if k.F != 0 {
				flags |= flagF
			}
			if k.L != 0 {
				flags |= flagL
			}
			if k.Q != 0 {
				flags |= flagQ
			}
			if len(k.V) > 0 {
				flags |= flagV
			}
			if len(k.D) > 0 {
				flags |= flagD
			}
			if k.X {
				flags |= flagX
			}
			b = binary.AppendUvarint(b, flags)
			if flags&flagSum != 0 {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(k.Sum))
			}
			if flags&flagMin != 0 {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(k.Min))
			}
			if flags&flagMax != 0 {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(k.Max))
			}
			if flags&flagF != 0 {
				b = binary.AppendVarint(b, k.F)
			}
			if flags&flagL != 0 {
				b = binary.AppendVarint(b, k.L)
			}
			if flags&flagQ != 0 {
				b = binary.AppendVarint(b, k.Q)
			}
			if flags&flagV != 0 {
				b = binary.AppendUvarint(b, uint64(len(k.V)))
				b = append(b, k.V...)
			}
			if flags&flagD != 0 {
				b = binary.AppendUvarint(b, uint64(len(k.D)))
				for _, h := range k.D {
					b = binary.LittleEndian.AppendUint64(b, h)
				}
			}
		}
	}
	out := make([]byte, 0, base64.RawStdEncoding.EncodedLen(len(b))+2)
	out = append(out, '"')
	out = base64.RawStdEncoding.AppendEncode(out, b)
	return append(out, '"'), nil
}

// UnmarshalJSON reads the compact form, or the object form
// {"traits": {...}}.
func (c *Computed) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '{' {
		type object Computed // without these methods
		var o object
		if err := json.Unmarshal(data, &o); err != nil {
			return err
		}
		*c = Computed(o)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	d := &computedDecoder{b: b}
	if d.byte() != computedCodecV1 {
		return errors.New("computed traits: unknown encoding")
	}
	n := d.uvarint()
	*c = Computed{}
	if n > 0 {
		c.Traits = make(map[string]*Window, min(n, 1024))
	}
	for range n {
		name := string(d.bytes(d.uvarint()))
		w := &Window{Def: d.uint32()}
		nb := d.uvarint()
		if nb > 0 {
			w.Buckets = make([]Bucket, 0, min(nb, 1024))
		}
		prev := int64(0)
		for range nb {
			k := Bucket{K: prev + d.varint()}
			prev = k.K
			k.N = int64(d.uvarint())
			flags := d.uvarint()
			for _, f := range []struct {
				flag uint64
				v    *float64
			}{{flagSum, &k.Sum}, {flagMin, &k.Min}, {flagMax, &k.Max}} {
				if flags&f.flag != 0 {
					*f.v = math.Float64frombits(d.uint64())
				}
			}
			for _, f := range []struct {
				flag uint64
				v    *int64
			}{{flagF, &k.F}, {flagL, &k.L}, {flagQ, &k.Q}} {
				if flags&f.flag != 0 {
					*f.v = d.varint()
				}
			}
			if flags&flagV != 0 {
				k.V = json.RawMessage(slices.Clone(d.bytes(d.uvarint())))
			}
			if flags&flagD != 0 {
				nd := d.uvarint()
				k.D = make([]uint64, 0, min(nd, DistinctCap))
				for range nd {
					k.D = append(k.D, d.uint64())
				}
			}
			k.X = flags&flagX != 0
			w.Buckets = append(w.Buckets, k)
		}
		if d.err != nil {
			break
		}
		c.Traits[name] = w
	}
	return d.err
}

// computedDecoder reads the binary form; the first overrun sets err and
// every later read returns zeros.
type computedDecoder struct {
	b   []byte
	err error
}

var errShort = errors.New("computed traits: truncated encoding")

func (d *computedDecoder) take(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *computedDecoder) byte() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *computedDecoder) bytes(n uint64) []byte { return d.take(n) }

func (d *computedDecoder) uint32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *computedDecoder) uint64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *computedDecoder) uvarint() uint64 { return readVarint(d, binary.Uvarint) }

func (d *computedDecoder) varint() int64 { return readVarint(d, binary.Varint) }

// readVarint reads one varint with read (binary.Uvarint or binary.Varint).
func readVarint[T int64 | uint64](d *computedDecoder, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}
