// Package loadgen generates load against Overture's Segment-compatible
// ingestion API and measures how fast, and how quickly, the server
// acknowledges it. It backs "overture bench ingest". RunDecide (decide.go)
// backs "overture bench decide": an open-loop load of the touchpoint API
// (POST /v1/decide, GET /v1/profiles/{id}/context) at a fixed rate, with
// latency measured from each request's scheduled time.
//
// RunIngest builds every request before the clock starts (so the generator
// spends no CPU on payloads while the server is being measured), then sends
// them from a fixed number of keep-alive HTTP/1.1 connections, one
// outstanding request per connection as the Segment libraries do, and
// reports throughput and per-request acknowledgement latency percentiles.
//
// The generator shares the machine with the server it measures, so its own
// cost per request matters. Two clients send the requests:
//
//   - raw (the default for http:// URLs, rawhttp.go) is a minimal HTTP/1.1
//     client over one TCP connection per worker: each request, head and
//     body, is built in full beforehand and sent with one write; the
//     response is parsed from a reused buffer (Content-Length, chunked or
//     close-delimited bodies, Connection: close). Its hot path does not
//     allocate.
//   - nethttp (nethttp.go) uses net/http. It is the reference the raw client
//     is tested against, and the only client for https:// URLs.
//
// Both judge responses the same way (see checkResponse).
package loadgen
