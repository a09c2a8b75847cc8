// Package socket is the raw TCP/UDP connector ("type": "socket"): devices
// send byte messages, which are matched to configured devices by their
// address (ip:port, * as wildcard) and cut into datapoints by byte ranges;
// shared attribute updates and RPCs are written back to the device's
// connection. It reads upstream's socket.json (and its older flat layout)
// unchanged; docs/connectors/socket.md is the configuration reference.
//
// As upstream it listens (TCP or UDP); with "mode": "client" it instead
// keeps a connection to a device server, reconnecting with a back-off.
// Without "framing" every read of up to bufferSize bytes is one message,
// as upstream; "framing" splits a TCP stream by delimiter, fixed length or
// length prefix so that messages do not depend on how the stream was cut.
//
// At most maxConnections connections are served (further clients wait in
// the backlog), each with one buffer of bufferSize (or the framing's
// maxLength) and an idle timeout. Messages that arrived together (framed
// TCP messages already buffered, queued UDP datagrams; up to 64) go to the
// gateway in one Send. Data goes through kit.Sender: a device cannot be
// refused, so a full storage drops and counts.
//
// Non-goals: TLS; upstream's Python converters.
package socket
