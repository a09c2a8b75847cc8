// Package tb is the gateway's connection to ThingsBoard: one MQTT 3.1.1
// session (paho) speaking the gateway API (v1/gateway/*) and the device API
// of the gateway device itself (v1/devices/me/*).
//
// The gateway core builds a [Client] with [New] from the "thingsboard"
// configuration section, runs it with [Client.Run] and publishes through
// [Client.Publish]; inbound attribute updates and RPCs arrive through
// [Handler.OnMessage]. The package knows topics and the few payloads it
// produces or correlates itself (session limits, attribute requests); it
// does not build telemetry payloads or split messages: callers split to
// [Limits.MaxPayload].
//
// # Sessions
//
// Run dials (optionally through an HTTP CONNECT proxy, then TLS), connects
// with a clean session, subscribes to the device and gateway topics, asks
// for the session limits (client RPC getSessionLimits) and only then
// reports [Client.Connected] and calls [Handler.OnConnect]. Each
// reconnection repeats every step. Reconnects back off exponentially from
// Config.ReconnectMin to Config.ReconnectMax with jitter; the backoff
// restarts after a session that got up.
//
// # Acknowledgements
//
// [Token.Wait] returns nil only once the broker acknowledged the message
// (PUBACK at QoS 1, written at QoS 0). Un-acknowledged messages of a lost
// session fail with [ErrConnectionLost] and are never re-sent by this
// package: the caller's storage re-sends them (at-least-once). Publishes
// are handed to the connection in call order and at most
// [Limits.MaxInflight] await their PUBACK.
//
// # Rate limits
//
// Publishes wait for token buckets built from the configured rate limits
// and the server's session limits, by topic class: messages on v1/gateway/*
// are charged to the device limits, others to the gateway's own; telemetry
// and attribute uploads also to the telemetry-message and datapoint limits.
// See docs/thingsboard.md for the exact rules and the differences from the
// upstream gateway.
//
// Package tbtest provides a broker and a ThingsBoard stand-in for tests.
package tb
