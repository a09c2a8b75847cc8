// Package att encodes and decodes Bluetooth Low Energy Attribute Protocol
// (ATT) PDUs, the GATT declarations carried in attribute values
// (services, characteristics, client configuration descriptors) and
// 16/128-bit Bluetooth UUIDs.
//
// Decode accepts any byte slice and returns a typed PDU or an error that
// says what is malformed; it never panics and never allocates more than a
// small multiple of its input. Each PDU type appends its own encoding with
// Append, so encode(decode(b)) reproduces a well-formed b.
//
// Non-goals: transport (see the Bluetooth driver), signed writes, the
// prepare/execute write queue and multiple-variable reads (Decode returns
// them as Unknown PDUs so that a server can answer "request not
// supported").
package att
