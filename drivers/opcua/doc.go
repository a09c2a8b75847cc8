// Package opcua is the OPC-UA client connector (upstream type "opcua"): it
// reads the upstream opcua.json, finds devices in a server's address space
// by node id or browse path, streams their variables to the gateway by
// subscription or polling, and writes attribute updates and serves RPCs
// (method calls, reserved get/set) back to the server.
//
// # Sessions and recovery
//
// Run owns one client at a time (secure channel, session, one
// subscription). The client's own reconnect logic is off; instead Run
// throws the whole client away and dials a new one, with exponential
// back-off, whenever the connection closes, a health read of the server
// state fails, the subscription reports a bad status or goes silent (a
// monitored server clock acts as heartbeat), or a service call fails for
// the session. A new session scans the address space again and
// re-creates every monitored item, so a restarted server needs no gateway
// restart.
//
// # Non-goals
//
// Events and history reads are not supported. (Custom Python converters
// run in the exec connector's extension host: pyconv.go.)
package opcua
