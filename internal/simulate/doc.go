// Package simulate runs journeys on a virtual clock: the same step machine
// the server runs (internal/machine), fed a file of events, fast-forwarding
// through waits. It backs `overture simulate` and `overture test`.
//
// ReadEvents reads an events file (JSON lines in Segment's message shape,
// with "at" offsets allowed instead of timestamps); Run plays the events
// and every timer they cause, in time order, answering webhook calls from
// canned replies (ParseWebhooks), and returns each customer's trace and
// final state; WriteText and WriteJSON print it. RelativeLine, LineMatches
// and Match are what `overture test` checks traces with.
//
// The golden traces under testdata/golden are the specification of what
// each step type and entry rule does; `go test -run Golden -update`
// rewrites them.
package simulate
