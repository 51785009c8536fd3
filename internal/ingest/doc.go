// Package ingest is the first stage of the data path: it decodes inbound
// Segment-spec and CloudEvents messages, validates them, applies Segment's
// limits and clock-skew correction, and hands them to the group committer,
// which appends them durably to the event log before anything is
// acknowledged.
package ingest
