package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// readFrom returns a rawConn that reads responses from in.
func readFrom(in string) *rawConn {
	return &rawConn{br: bufio.NewReaderSize(strings.NewReader(in), 4096)}
}

func TestReadResponse(t *testing.T) {
	big := strings.Repeat("x", maxBody+10)
	for _, tc := range []struct {
		name, in     string
		code         int
		status, body string
		closeAfter   bool
		rest         string // what must remain unread: the response is framed right
		bodyLen      int    // when body is too long to spell out: a prefix of big
		err          error  // the error wanted, if any
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhelloNEXT",
			code: 200, status: "200 OK", body: "hello", rest: "NEXT"},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT",
			code: 200, status: "200 OK", body: "hello world", rest: "NEXT"},
		{name: "chunked-case", in: "HTTP/1.1 201 Created\r\ntransfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
			code: 201, status: "201 Created", body: "0123456789"},
		{name: "chunked-and-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
			code: 200, status: "200 OK", body: "ok", closeAfter: true},
		{name: "connection-close", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
			code: 200, status: "200 OK", body: "ok", closeAfter: true},
		{name: "connection-list", in: "HTTP/1.1 200 OK\r\nconnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok",
			code: 200, status: "200 OK", body: "ok", closeAfter: true},
		{name: "http10", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
			code: 200, status: "200 OK", body: "ok", closeAfter: true},
		{name: "http10-keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nokNEXT",
			code: 200, status: "200 OK", body: "ok", rest: "NEXT"},
		{name: "until-eof", in: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe rest\r\nof it",
			code: 200, status: "200 OK", body: "the rest\r\nof it", closeAfter: true},
		{name: "interim", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nokNEXT",
			code: 202, status: "202 Accepted", body: "ok", rest: "NEXT"},
		{name: "no-content", in: "HTTP/1.1 204 No Content\r\n\r\nNEXT",
			code: 204, status: "204 No Content", rest: "NEXT"},
		{name: "no-reason", in: "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n",
			code: 503, status: "503"},
		{name: "bare-lf", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nokNEXT",
			code: 200, status: "200 OK", body: "ok", rest: "NEXT"},
		{name: "repeated-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
			code: 200, status: "200 OK", body: "ok"},
		{name: "body-over-limit", in: "HTTP/1.1 200 OK\r\nContent-Length: 1048586\r\n\r\n" + big + "NEXT",
			code: 200, status: "200 OK", bodyLen: maxBody, rest: "NEXT"},
		{name: "chunked-over-limit", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000a\r\n" + big + "\r\n0\r\n\r\nNEXT",
			code: 200, status: "200 OK", bodyLen: maxBody, rest: "NEXT"},

		{name: "eof", in: "", err: io.EOF},
		{name: "truncated-header", in: "HTTP/1.1 200 OK\r\nContent-Le", err: io.ErrUnexpectedEOF},
		{name: "truncated-body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", err: io.ErrUnexpectedEOF},
		{name: "truncated-chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort", err: io.ErrUnexpectedEOF},
		{name: "no-last-chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", err: io.EOF},
		{name: "bad-chunk-size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: errChunk},
		{name: "bad-chunk-end", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n", err: errChunk},
		{name: "http2", in: "HTTP/2 200 OK\r\n\r\n", err: errStatusLine},
		{name: "short-code", in: "HTTP/1.1 20 OK\r\n\r\n", err: errStatusLine},
		{name: "letter-code", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: errStatusLine},
		{name: "long-code", in: "HTTP/1.1 2000 OK\r\n\r\n", err: errStatusLine},
		{name: "not-http", in: "SSH-2.0-OpenSSH_9.6\r\n", err: errStatusLine},
		{name: "conflicting-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", err: errContentLen},
		{name: "negative-length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: errContentLen},
		{name: "gzip-transfer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: errTransferCode},
		{name: "switching", in: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", err: errSwitch},
		{name: "no-colon", in: "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok", err: errHeaderLine},
		{name: "folded", in: "HTTP/1.1 200 OK\r\nX-A: 1\r\n  more\r\n\r\n", err: errHeaderLine},
		{name: "long-line", in: "HTTP/1.1 200 OK\r\nX-A: " + strings.Repeat("a", 5000) + "\r\n\r\n", err: errLineTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := readFrom(tc.in)
			code, closeAfter, err := c.readResponse()
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || string(c.status) != tc.status || closeAfter != tc.closeAfter {
				t.Errorf("code %d, status %q, closeAfter %v; want %d, %q, %v", code, c.status, closeAfter, tc.code, tc.status, tc.closeAfter)
			}
			if tc.bodyLen > 0 {
				if len(c.body) != tc.bodyLen || !bytes.Equal(c.body, []byte(big[:tc.bodyLen])) {
					t.Errorf("body of %d bytes, want %d", len(c.body), tc.bodyLen)
				}
			} else if string(c.body) != tc.body {
				t.Errorf("body %q, want %q", c.body, tc.body)
			}
			if rest, _ := io.ReadAll(c.br); string(rest) != tc.rest {
				t.Errorf("left %q unread, want %q", rest, tc.rest)
			}
		})
	}
}

func TestRequestHead(t *testing.T) {
	u, err := url.Parse("http://127.0.0.1:8431/base/v1/track?x=1")
	if err != nil {
		t.Fatal(err)
	}
	got := string(requestHead(u, IngestConfig{WriteKey: "k", Gzip: true})(nil, 42))
	want := "POST /base/v1/track?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8431\r\nUser-Agent: overture-bench/1\r\n" +
		"Content-Type: application/json\r\nAuthorization: Basic azo=\r\nContent-Encoding: gzip\r\nContent-Length: 42\r\n\r\n"
	if got != want {
		t.Errorf("head\n%q, want\n%q", got, want)
	}
	if got := string(requestHead(u, IngestConfig{})(nil, 7)); strings.Contains(got, "Authorization") || strings.Contains(got, "gzip") {
		t.Errorf("head without key and gzip: %q", got)
	}

	// Every request's wire is its head and its body, as net/http reads it.
	cfg, err := IngestConfig{URL: "http://127.0.0.1:8431", WriteKey: testKey, Events: 25, Batch: 10, Gzip: true}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildRequests(context.Background(), cfg, "aaaaaaaaaaaa", time.Now(), requestHead(u, cfg))
	if err != nil {
		t.Fatal(err)
	}
	for i, rq := range b.reqs {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(rq.wire)))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil || !bytes.Equal(body, rq.body) || !bytes.HasSuffix(rq.wire, rq.body) {
			t.Errorf("request %d: body %d bytes (%v), want %d", i, len(body), err, len(rq.body))
		}
		if user, pass, ok := req.BasicAuth(); user != testKey || pass != "" || !ok {
			t.Errorf("request %d: basic auth %q:%q", i, user, pass)
		}
	}
}

// startCannedServer starts an HTTP/1.1 server that answers every request
// with answer and allocates nothing per request, and returns its URL.
func startCannedServer(t *testing.T, answer string) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ans := []byte(answer)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := &rawConn{br: bufio.NewReader(c)}
				for {
					n := 0
					for {
						line, err := r.readLine()
						if err != nil {
							return
						}
						if len(line) == 0 {
							break
						}
						if k, v, ok := bytes.Cut(line, []byte(":")); ok && asciiEqualFold(k, "Content-Length") {
							n, _ = parseDecimal(bytes.TrimSpace(v))
						}
					}
					if _, err := r.br.Discard(n); err != nil {
						return
					}
					if _, err := c.Write(ans); err != nil {
						return
					}
				}
			}()
		}
	}()
	return &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/v1/track"}
}

func TestRawConnNoAllocs(t *testing.T) {
	u := startCannedServer(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 02 Mar 2026 10:00:00 GMT\r\nContent-Length: 30\r\n\r\n{\"success\":true,\"accepted\":1}\n")
	cfg, err := IngestConfig{URL: "http://" + u.Host, WriteKey: testKey, Events: 1}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildRequests(context.Background(), cfg, "aaaaaaaaaaaa", time.Now(), requestHead(u, cfg))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := newRawConn(ctx, u, cfg)
	defer c.close()
	var failed string
	allocs := testing.AllocsPerRun(200, func() {
		if res, msg := c.send(ctx, &b.reqs[0]); !res.ok || res.acked != 1 {
			failed = msg
		}
	})
	if failed != "" {
		t.Fatalf("request failed: %s", failed)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per request, want 0", allocs)
	}
}

// FuzzParseAck checks that parseAck's fast path agrees with decoding JSON.
func FuzzParseAck(f *testing.F) {
	for _, s := range []string{
		`{"success":true,"accepted":1}`, "{\"success\":true,\"accepted\":100}\n", ` {"success":true,"accepted":0} `,
		`{"success":true,"accepted":01}`, `{"success":true,"accepted":-1}`, `{"success":true,"accepted":1.5}`,
		`{"success":true,"accepted":123456789}`, `{"success":true,"accepted":1234567890}`, `{"success":true,"accepted":}`,
		`{"success":true,"accepted":1}}`, `{"success":true}`, `{"success":false,"accepted":1}`, `{"success":true,"accepted":1`,
		`{"success":true,"accepted":9,"rejected":[{"index":0}]}`, "\u00a0{\"success\":true,\"accepted\":1}", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ok, acc, rej := parseAck(body)
		wok, wacc, wrej := parseAckJSON(body)
		if ok != wok || acc != wacc || rej != wrej {
			t.Errorf("parseAck(%q) = %v, %d, %d; JSON says %v, %d, %d", body, ok, acc, rej, wok, wacc, wrej)
		}
	})
}

// FuzzReadResponse checks that no input makes readResponse panic or keep
// more than maxBody bytes.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nto eof",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := readFrom(string(in))
		code, _, err := c.readResponse()
		if err == nil && (code < 200 || code > 999 || len(c.body) > maxBody || len(c.body) > len(in)) {
			t.Errorf("code %d, body of %d bytes from %d bytes of input", code, len(c.body), len(in))
		}
	})
}
