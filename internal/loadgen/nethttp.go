package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// newHTTPClient returns a net/http client for cfg that keeps up to workers
// idle HTTP/1.1 connections.
func newHTTPClient(cfg IngestConfig, workers int) *http.Client {
	var protos http.Protocols
	protos.SetHTTP1(true)
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          workers,
		MaxIdleConnsPerHost:   workers,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		Protocols:             &protos,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 0,
	}
	return &http.Client{Transport: tr, Timeout: cfg.Timeout}
}

// httpSender sends requests with net/http. All workers share one client,
// whose pool holds a keep-alive connection per worker.
type httpSender struct {
	client *http.Client
	url    string // the endpoint
	cfg    IngestConfig
}

var _ sender = (*httpSender)(nil)

func (s *httpSender) send(ctx context.Context, rq *request) (result, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(rq.body))
	if err != nil {
		return result{done: true}, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if s.cfg.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if s.cfg.WriteKey != "" {
		req.SetBasicAuth(s.cfg.WriteKey, "")
	}
	t0 := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return result{}, ""
		}
		return result{done: true, latency: time.Since(t0)}, err.Error()
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	lat := time.Since(t0)
	if err != nil {
		if ctx.Err() != nil {
			return result{}, ""
		}
		return result{done: true, latency: lat}, fmt.Sprintf("POST %s: reading the response: %v", req.URL.Path, err)
	}
	return checkResponse(req.URL.Path, []byte(resp.Status), resp.StatusCode, body, rq.events, lat)
}

func (s *httpSender) close() {}
