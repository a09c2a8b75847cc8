// Package xmpp is the XMPP connector ("type": "xmpp"): an XMPP client
// (RFC 6120) that logs in as the gateway's JID and turns the JSON bodies
// of messages from configured device JIDs into attributes and telemetry.
// It reads upstream's xmpp.json unchanged; docs/connectors/xmpp.md is the
// configuration reference.
//
// The session: direct TLS (use_ssl) or STARTTLS, never plain when TLS is
// required (force_starttls); SASL SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN
// (PLAIN over an unencrypted stream only when allowed); resource binding;
// presence and roster as upstream; server pings answered; a lost session
// is re-established with back-off.
//
// Downlink: attribute updates and RPCs are sent to the device as chat
// messages; an RPC withResponse waits for the device's reply (same
// thread, or its next message).
//
// Non-goals: multi-user chat, XEP-0323/0325 sensor data stanzas (bodies
// are JSON, as upstream uses them), stream management, BOSH/WebSocket.
package xmpp
