// Package activation hands an audience's members to other systems: as a
// file streamed in CSV or NDJSON (WriteCSV, WriteNDJSON), or as pages of
// JSON posted to a webhook (Sender), signed as the Standard Webhooks
// specification says (https://www.standardwebhooks.com/) so that any of its
// libraries can verify them (Sign, Verify).
//
// It uses only the standard library and knows nothing of the store: the
// API reads members page by page and hands them over as Rows.
package activation
