// Package core holds Overture's domain: events, profiles, identities, the
// error codes every layer speaks, the clock, and the interfaces (Store) that
// adapters implement. It has no I/O: everything here is a pure function of
// its inputs, which is what lets simulation, replay and property tests run
// the same code as the server.
package core
