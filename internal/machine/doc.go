// Package machine is the per-customer journey step machine: a pure function
// of (a customer's state, one input, the time) to (new state, effects). The
// partition workers run it for every event and due timer in the server, and
// the simulator runs the very same code on a virtual clock, which is what
// makes `overture simulate` and `overture test` say exactly what the server
// would do.
//
// Inputs are events, due timers and webhook replies. A customer's state is
// their profile and their active journey instances. Effects are changed
// instances (whose Due is their timer), outbox entries for sends, webhook
// calls, trace records and the deltas of the journey analytics counters;
// profile updates are made on the profile passed in. Nothing here does I/O or reads the clock.
package machine
