package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// tsLayout is RFC 3339 with millisecond precision, as the Segment libraries
// send it.
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

// request is one pre-built request: its (possibly gzipped) body, the
// number of events it carries and, for the raw client, the whole request
// as sent.
type request struct {
	body   []byte
	wire   []byte // request line, headers and body; body is its tail
	events int
}

// built is the outcome of buildRequests.
type built struct {
	reqs     []request
	rawBytes int64 // uncompressed bytes of all event objects
}

// buildRequests builds every request body for cfg up front, in parallel.
// Request i carries events [i*Batch, min((i+1)*Batch, Events)). Payloads
// depend only on cfg.Seed, the request index and base, apart from the
// messageIds, which embed runID. cfg must already be normalized. If head is
// not nil, each request's wire is head(nil, len(body)) followed by its body,
// in one allocation.
func buildRequests(ctx context.Context, cfg IngestConfig, runID string, base time.Time, head func(dst []byte, bodyLen int) []byte) (*built, error) {
	total := (cfg.Events + cfg.Batch - 1) / cfg.Batch
	out := &built{reqs: make([]request, total)}
	var next, raw atomic.Int64
	workers := min(runtime.GOMAXPROCS(0), total)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			g := &eventGen{cfg: cfg, runID: runID, base: base.UTC().Truncate(time.Millisecond)}
			var zbuf bytes.Buffer
			var zw *gzip.Writer
			if cfg.Gzip {
				zw = gzip.NewWriter(&zbuf)
			}
			var buf, hbuf []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= total || ctx.Err() != nil {
					return
				}
				first := i * cfg.Batch
				n := min(cfg.Batch, cfg.Events-first)
				g.rng = rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)))
				buf = buf[:0]
				var evBytes int
				if cfg.Batch == 1 {
					buf = g.appendEvent(buf, first)
					evBytes = len(buf)
				} else {
					buf = append(buf, `{"batch":[`...)
					for j := range n {
						if j > 0 {
							buf = append(buf, ',')
						}
						l := len(buf)
						buf = g.appendEvent(buf, first+j)
						evBytes += len(buf) - l
					}
					buf = append(buf, `],"sentAt":"`...)
					buf = g.base.AppendFormat(buf, tsLayout)
					buf = append(buf, `"}`...)
				}
				raw.Add(int64(evBytes))
				body := buf
				if cfg.Gzip {
					zbuf.Reset()
					zw.Reset(&zbuf)
					_, _ = zw.Write(buf) // writes to a bytes.Buffer cannot fail
					_ = zw.Close()
					body = zbuf.Bytes()
				}
				rq := request{events: n}
				if head != nil {
					hbuf = head(hbuf[:0], len(body))
					rq.wire = make([]byte, 0, len(hbuf)+len(body))
					rq.wire = append(append(rq.wire, hbuf...), body...)
					rq.body = rq.wire[len(hbuf):]
				} else {
					rq.body = bytes.Clone(body)
				}
				out.reqs[i] = rq
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out.rawBytes = raw.Load()
	return out, nil
}

// eventGen appends Segment track events as JSON. All strings it emits come
// from fixed tables or digits, so none needs escaping.
type eventGen struct {
	cfg   IngestConfig
	runID string
	base  time.Time // UTC, millisecond precision; also the batch sentAt
	rng   *rand.Rand
}

// product is one catalog entry the events refer to.
type product struct {
	name, category string
	cents          int
}

var catalog = []product{
	{"Trail Runner 2", "Footwear", 8999},
	{"Merino Crew Sock", "Apparel", 1499},
	{"Packable Rain Shell", "Outerwear", 12900},
	{"Insulated Bottle 750ml", "Accessories", 2995},
	{"Ultralight Tent 2P", "Camping", 34900},
	{"Down Sleeping Bag", "Camping", 27500},
	{"Headlamp 400lm", "Accessories", 3999},
	{"Canvas Weekender", "Bags", 11800},
	{"Organic Cotton Tee", "Apparel", 2800},
	{"Approach Shoe", "Footwear", 13495},
	{"Trekking Poles", "Accessories", 7450},
	{"Fleece Quarter Zip", "Apparel", 6900},
}

// sizes are the product variants.
var sizes = []string{"XS", "S", "M", "L", "XL"}

// mix is splitmix64's finalizer: a cheap, well-spread hash of x.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// appendEvent appends event number n (0-based within the run).
func (g *eventGen) appendEvent(b []byte, n int) []byte {
	r := g.rng
	user := r.IntN(g.cfg.Users)
	p := catalog[r.IntN(len(catalog))]
	sku := 10000 + r.IntN(90000)

	var name string
	switch k := r.IntN(20); {
	case g.cfg.Journeys && n%5 == 4:
		// The previous event's customer buys: the journey's goal.
		name, user = "Order Completed", n-1
	case g.cfg.Journeys:
		name, user = "Checkout Started", n
	case k < 12:
		name = "Product Viewed"
	case k < 16:
		name = "Product Added"
	case k < 18:
		name = "Checkout Started"
	default:
		name = "Order Completed"
	}
	if g.cfg.Profiles {
		return g.appendIdentify(b, n)
	}
	uh := mix(uint64(user) ^ uint64(g.cfg.Seed)*0x9e3779b97f4a7c15)

	b = append(b, `{"type":"track","event":"`...)
	b = append(b, name...)
	b = append(b, `","userId":"u-`...)
	b = strconv.AppendInt(b, int64(user), 10)
	b = append(b, `","anonymousId":"a-`...)
	b = appendHex(b, uh, 16)
	b = append(b, `","messageId":"bench-`...)
	b = append(b, g.runID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `","timestamp":"`...)
	ts := g.base.Add(-time.Duration(r.IntN(5000)) * time.Millisecond)
	b = ts.AppendFormat(b, tsLayout)
	b = append(b, `","properties":{`...)
	switch name {
	case "Checkout Started", "Order Completed":
		qty := 1 + r.IntN(3)
		b = append(b, `"order_id":"o-`...)
		b = appendHex(b, r.Uint64(), 12)
		b = append(b, `","revenue":`...)
		b = appendCents(b, p.cents*qty)
		b = append(b, `,"currency":"USD","products":[{"product_id":"p-`...)
		b = strconv.AppendInt(b, int64(sku), 10)
		b = append(b, `","quantity":`...)
		b = strconv.AppendInt(b, int64(qty), 10)
		b = append(b, `}]`...)
	default:
		b = append(b, `"product_id":"p-`...)
		b = strconv.AppendInt(b, int64(sku), 10)
		b = append(b, `","name":"`...)
		b = append(b, p.name...)
		b = append(b, `","category":"`...)
		b = append(b, p.category...)
		b = append(b, `","variant":"`...)
		b = append(b, sizes[r.IntN(len(sizes))]...)
		b = append(b, `","price":`...)
		b = appendCents(b, p.cents)
		b = append(b, `,"currency":"USD"`...)
		if name == "Product Added" {
			b = append(b, `,"quantity":`...)
			b = strconv.AppendInt(b, int64(1+r.IntN(3)), 10)
		}
	}
	b = append(b, `},"context":{"library":{"name":"overture-bench","version":"1"},"ip":"10.`...)
	b = strconv.AppendUint(b, uh>>16&0xff, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uh>>24&0xff, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, 1+(uh>>32)%254, 10)
	b = append(b, `"}}`...)
	return b
}

// appendIdentify appends event n of a Profiles run: customer u-n's
// identify.
func (g *eventGen) appendIdentify(b []byte, n int) []byte {
	b = append(b, `{"type":"identify","userId":"u-`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `","messageId":"bench-`...)
	b = append(b, g.runID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `","timestamp":"`...)
	b = g.base.AppendFormat(b, tsLayout)
	b = append(b, `","traits":{"score":`...)
	b = strconv.AppendInt(b, int64(n%100), 10)
	b = append(b, `,"email":"u-`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `@example.com","plan":"`...)
	b = append(b, []string{"basic", "plus", "pro"}[n%3]...)
	b = append(b, `"},"context":{"library":{"name":"overture-bench","version":"1"}}}`...)
	return b
}

// appendHex appends the low digits hex digits of x, zero-padded.
func appendHex(b []byte, x uint64, digits int) []byte {
	const hex = "0123456789abcdef"
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hex[x>>(4*uint(i))&0xf])
	}
	return b
}

// appendCents appends cents as a decimal amount with two fraction digits.
func appendCents(b []byte, cents int) []byte {
	b = strconv.AppendInt(b, int64(cents/100), 10)
	c := cents % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}
