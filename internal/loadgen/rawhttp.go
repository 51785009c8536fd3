package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// requestHead returns a function that appends to dst the request line and
// headers of a POST of a bodyLen-byte body to u, which must be an http://
// URL, as cfg describes it.
func requestHead(u *url.URL, cfg IngestConfig) func(dst []byte, bodyLen int) []byte {
	var h []byte
	h = append(h, "POST "...)
	h = append(h, u.RequestURI()...)
	h = append(h, " HTTP/1.1\r\nHost: "...)
	h = append(h, u.Host...)
	h = append(h, "\r\nUser-Agent: "+userAgent+"\r\nContent-Type: application/json\r\n"...)
	if cfg.WriteKey != "" {
		h = append(h, "Authorization: Basic "...)
		h = base64.StdEncoding.AppendEncode(h, []byte(cfg.WriteKey+":"))
		h = append(h, "\r\n"...)
	}
	if cfg.Gzip {
		h = append(h, "Content-Encoding: gzip\r\n"...)
	}
	h = append(h, "Content-Length: "...)
	return func(dst []byte, bodyLen int) []byte {
		dst = append(dst, h...)
		dst = strconv.AppendInt(dst, int64(bodyLen), 10)
		return append(dst, "\r\n\r\n"...)
	}
}

// rawConn is the raw client's sender: a minimal HTTP/1.1 client over one
// TCP connection, which it dials on first use and again after an error or a
// response that closes it. It writes each pre-built request (request.wire)
// with one Write, then reads the response with a reused bufio.Reader into
// reused buffers, so that sending a request allocates nothing. It never
// pipelines: a request is written only once the previous response has been
// read in full.
type rawConn struct {
	addr    string // host:port to dial
	path    string // for error messages
	timeout time.Duration
	dialer  net.Dialer
	stop    func() bool // unregisters interrupt from the run's context

	mu      sync.Mutex // guards conn and stopped against interrupt
	conn    net.Conn   // nil until dialed and after an error
	stopped bool       // the run's context is done

	br     *bufio.Reader
	status []byte // the last response's status code and reason
	body   []byte // the last response's body, up to maxBody bytes
}

var _ sender = (*rawConn)(nil)

// newRawConn returns a rawConn that sends to u, which must be an http://
// URL, and aborts whatever it is doing when ctx is done.
func newRawConn(ctx context.Context, u *url.URL, cfg IngestConfig) *rawConn {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	c := &rawConn{
		addr:    net.JoinHostPort(u.Hostname(), port),
		path:    u.Path,
		timeout: cfg.Timeout,
		dialer:  net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		br:      bufio.NewReaderSize(nil, 4096),
		body:    make([]byte, 0, 512),
	}
	c.stop = context.AfterFunc(ctx, c.interrupt)
	return c
}

func (c *rawConn) send(ctx context.Context, rq *request) (result, string) {
	t0 := time.Now()
	if c.conn == nil {
		if err := c.dial(ctx); err != nil {
			if ctx.Err() != nil {
				return result{}, ""
			}
			return result{done: true, latency: time.Since(t0)}, fmt.Sprintf("POST %s: %v", c.path, err)
		}
	}
	// Setting the deadline before looking at ctx leaves no gap for a
	// cancellation to slip through: interrupt runs after ctx is done and
	// sets a deadline in the past, which then overrides this one.
	_ = c.conn.SetDeadline(t0.Add(c.timeout))
	if ctx.Err() != nil {
		return result{}, ""
	}
	code, closeAfter, err := c.roundTrip(rq.wire)
	lat := time.Since(t0)
	if err != nil || closeAfter {
		c.closeConn()
	}
	if err != nil {
		if ctx.Err() != nil {
			return result{}, ""
		}
		return result{done: true, latency: lat}, fmt.Sprintf("POST %s: %v", c.path, err)
	}
	return checkResponse(c.path, c.status, code, c.body, rq.events, lat)
}

// roundTrip writes one request and reads its response. closeAfter reports
// that the connection cannot carry another request.
func (c *rawConn) roundTrip(wire []byte) (code int, closeAfter bool, err error) {
	if _, werr := c.conn.Write(wire); werr != nil {
		// A server may answer before reading the whole request (413, 401)
		// and close; report its answer if it sent one.
		if code, _, err := c.readResponse(); err == nil {
			return code, true, nil
		}
		return 0, true, werr
	}
	code, closeAfter, err = c.readResponse()
	if err == nil && c.br.Buffered() > 0 {
		closeAfter = true // bytes nobody asked for: start afresh
	}
	return code, closeAfter, err
}

// Errors of malformed responses.
var (
	errLineTooLong  = errors.New("response line over 4096 bytes")
	errStatusLine   = errors.New("malformed status line")
	errHeaderLine   = errors.New("malformed header line")
	errChunk        = errors.New("malformed chunked encoding")
	errSwitch       = errors.New("unexpected 101 Switching Protocols")
	errInterrupted  = errors.New("interrupted")
	errContentLen   = errors.New("malformed Content-Length")
	errTransferCode = errors.New("unsupported Transfer-Encoding")
)

// readResponse reads one response: it leaves its status code and reason in
// c.status and up to maxBody bytes of its body in c.body, and reports
// whether the connection must be closed after it. It skips interim (1xx)
// responses.
func (c *rawConn) readResponse() (code int, closeAfter bool, err error) {
	var h header
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, false, fmt.Errorf("reading the response: %w", err)
		}
		var http10 bool
		code, http10, err = c.parseStatusLine(line)
		if err != nil {
			return 0, false, err
		}
		if h, err = c.readHeader(); err != nil {
			return 0, false, err
		}
		if code == 101 {
			return 0, false, errSwitch
		}
		if code >= 200 {
			closeAfter = h.close || (http10 && !h.keepAlive)
			break
		}
	}
	c.body = c.body[:0]
	switch {
	case code == 204 || code == 304:
	case h.chunked:
		err = c.readChunked()
		closeAfter = closeAfter || h.contentLength >= 0 // both: distrust the connection
	case h.contentLength >= 0:
		err = c.appendBody(h.contentLength)
	default:
		err = c.readToEOF()
		closeAfter = true
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading the response body: %w", err)
	}
	return code, closeAfter, nil
}

// readLine returns the next line without its line ending (CRLF or LF). The
// line is valid until the next read.
func (c *rawConn) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, errLineTooLong
	case err == io.EOF && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatusLine parses "HTTP/1.x NNN reason" into the code and whether the
// server speaks HTTP/1.0, and keeps "NNN reason" in c.status.
func (c *rawConn) parseStatusLine(line []byte) (code int, http10 bool, err error) {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return 0, false, fmt.Errorf("%w %q", errStatusLine, line)
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, fmt.Errorf("%w %q", errStatusLine, line)
		}
		code = code*10 + int(d-'0')
	}
	if code < 100 {
		return 0, false, fmt.Errorf("%w %q", errStatusLine, line)
	}
	c.status = append(c.status[:0], line[9:]...)
	return code, line[7] == '0', nil
}

// header is what readResponse needs of a response's header.
type header struct {
	contentLength int // -1 if absent
	chunked       bool
	close         bool // Connection: close
	keepAlive     bool // Connection: keep-alive
}

// readHeader reads header fields up to the empty line that ends them.
func (c *rawConn) readHeader() (header, error) {
	h := header{contentLength: -1}
	for {
		line, err := c.readLine()
		if err != nil {
			return h, fmt.Errorf("reading the response header: %w", err)
		}
		if len(line) == 0 {
			return h, nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
			return h, fmt.Errorf("%w %q", errHeaderLine, line)
		}
		key, val := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case asciiEqualFold(key, "Content-Length"):
			n, ok := parseDecimal(val)
			if !ok || (h.contentLength >= 0 && n != h.contentLength) {
				return h, fmt.Errorf("%w %q", errContentLen, val)
			}
			h.contentLength = n
		case asciiEqualFold(key, "Transfer-Encoding"):
			if !asciiEqualFold(val, "chunked") {
				return h, fmt.Errorf("%w %q", errTransferCode, val)
			}
			h.chunked = true
		case asciiEqualFold(key, "Connection"):
			for tok := range bytes.SplitSeq(val, []byte(",")) {
				tok = bytes.TrimSpace(tok)
				h.close = h.close || asciiEqualFold(tok, "close")
				h.keepAlive = h.keepAlive || asciiEqualFold(tok, "keep-alive")
			}
		}
	}
}

// readChunked reads a chunked body, and its trailer, into c.body.
func (c *rawConn) readChunked() error {
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // a chunk extension
		}
		size, ok := parseHex(bytes.TrimSpace(line))
		if !ok {
			return fmt.Errorf("%w: chunk size %q", errChunk, line)
		}
		if size == 0 {
			for { // the trailer
				line, err := c.readLine()
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if err := c.appendBody(size); err != nil {
			return err
		}
		if line, err := c.readLine(); err != nil {
			return err
		} else if len(line) != 0 {
			return fmt.Errorf("%w: %q after a chunk", errChunk, line)
		}
	}
}

// appendBody reads n bytes of body, appending them to c.body as long as it
// holds less than maxBody bytes and discarding the rest.
func (c *rawConn) appendBody(n int) error {
	keep := min(n, maxBody-len(c.body))
	if keep > 0 {
		l := len(c.body)
		c.body = slices.Grow(c.body, keep)[:l+keep]
		if _, err := io.ReadFull(c.br, c.body[l:]); err != nil {
			return noEOF(err)
		}
	}
	if rest := n - keep; rest > 0 {
		if _, err := c.br.Discard(rest); err != nil {
			return noEOF(err)
		}
	}
	return nil
}

// readToEOF reads a body that ends when the server closes the connection.
func (c *rawConn) readToEOF() error {
	for len(c.body) < maxBody {
		if len(c.body) == cap(c.body) {
			c.body = slices.Grow(c.body, 4096)
		}
		n, err := c.br.Read(c.body[len(c.body):min(cap(c.body), maxBody)])
		c.body = c.body[:len(c.body)+n]
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
	_, err := io.Copy(io.Discard, c.br)
	return err
}

// dial connects to the server, unless the run has been interrupted.
func (c *rawConn) dial(ctx context.Context) error {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		conn.Close()
		return errInterrupted
	}
	c.conn = conn
	c.br.Reset(conn)
	return nil
}

// closeConn closes the connection, if any; the next request dials anew.
func (c *rawConn) closeConn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// interrupt makes the request in progress, if any, fail at once and keeps
// new connections from being made. It runs when the run's context is done.
func (c *rawConn) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.conn != nil {
		_ = c.conn.SetDeadline(time.Unix(1, 0))
	}
}

func (c *rawConn) close() {
	c.stop()
	c.closeConn()
}

// noEOF turns io.EOF, which means a truncated body here, into
// io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// asciiEqualFold reports whether b equals s, ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// maxLength bounds Content-Length and chunk sizes: 1 TiB, far more than any
// ingestion response, and far from overflowing.
const maxLength = 1 << 40

// parseDecimal parses a non-empty string of decimal digits up to maxLength.
func parseDecimal(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 13 {
		return 0, false
	}
	n := 0
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int(d-'0')
	}
	return n, n <= maxLength
}

// parseHex parses a non-empty string of hex digits up to maxLength.
func parseHex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 11 {
		return 0, false
	}
	n := 0
	for _, d := range b {
		var v byte
		switch {
		case '0' <= d && d <= '9':
			v = d - '0'
		case 'a' <= d && d <= 'f':
			v = d - 'a' + 10
		case 'A' <= d && d <= 'F':
			v = d - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int(v)
	}
	return n, n <= maxLength
}
