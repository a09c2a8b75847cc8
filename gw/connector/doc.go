// Package connector is the contract between the gateway core and the
// protocol connectors in drivers/.
//
// A connector is built by a [Factory] from its raw configuration file and a
// small [Env], then run by the gateway's supervisor: [Connector.Run] blocks
// until its context is cancelled and pushes converted device data into a
// [Sink]. A connector that also takes commands from ThingsBoard implements
// the optional [AttributeHandler] and [RPCHandler]; one that wants shared
// attributes pushed to it when a device connects implements [SharedKeyser];
// one with counters of its own implements [Statser]; a server-type one
// implements [Listener].
//
// Connectors register themselves from an init function with [Register]; the
// drivers/all package selects which ones are compiled in through build tags.
// drivers/kit holds the shared pieces every connector is built from, and
// docs/connector-guide.md describes how to write one.
//
// # Lifecycle
//
// The Factory parses and validates; it does no network I/O. Run connects,
// serves and returns nil once its context is cancelled, after every
// goroutine it started has returned (start them with kit.Group so that a
// panic in any of them becomes an error). Any other return, an error, or a
// panic makes the supervisor count it, log it once with the connector's
// name, and run the connector again after a capped, jittered back-off.
//
// # Send policy
//
// [Sink.Send] returns nil once the items are stored. When it returns
// [ErrStorageFull]:
//   - a source that can refuse upstream of it (an MQTT subscription, an
//     HTTP or WebSocket server, a program over stdio) withholds its
//     acknowledgement or answers an error (HTTP 503, a CALLERROR, a nack),
//     so its peer keeps the data and retries;
//   - a source that cannot refuse (a poller, a trap or broadcast listener)
//     drops the items and counts them (kit.Sender does both and logs at
//     most once a minute), and carries on.
//
// [ErrStopping] and context errors mean the gateway or the connector is
// shutting down: stop sending.
//
// # Downlink
//
// The core calls [AttributeHandler.OnAttributes] and [RPCHandler.OnRPC]
// only while Run is live; their context ends with the call's timeout or
// with that run. While a connector is stopped or waiting to restart, the
// core answers RPCs itself with an error. Reserved device RPC methods
// "<type>_get" and "<type>_set" reach the connector as "get" and "set":
// connectors handle only the short forms.
//
// # Errors and logs
//
// Env.Log already names the connector; add the device as an attribute
// ("device", name). Errors returned by Run are logged by the supervisor
// with the connector's name, so they name the device and operation only;
// Factory errors name the connector once (kit.Setup and kit.Errorf).
//
// # Data model
//
// [Data], [Point] and [Strategy] alias the types declared once in
// codec/model, which package codec aliases too: a converter's output is
// handed to a Sink as is.
//
// This package imports nothing from tbgw but codec/model.
package connector
