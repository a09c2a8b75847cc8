// Package kit is what every connector in drivers/ is built from, so that
// they do the same jobs one way: Setup (the factory preamble: defaults,
// positioned config parsing, warnings), Group (goroutines whose panics
// become errors the supervisor restarts on), Sender (the Send policy of a
// source that cannot refuse its data: drop and count when storage is full)
// and Counters (a connector's own statistics). Its subpackages hold the
// rest of the kit: backoff, poll, rpcparams, atomicfile, tlsconf and
// quietsock.
//
// docs/connector-guide.md explains how the pieces fit together.
//
// Non-goals: protocol code, and anything the gateway core already does for
// every connector (device registry, report strategies, reserved get/set
// names, downlink gating).
package kit
