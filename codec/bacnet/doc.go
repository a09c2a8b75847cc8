// Package bacnet is the BACnet/IP protocol (ASHRAE 135, Annex J) without
// I/O: the BACnet Virtual Link Control layer (BVLC), the network layer
// (NPDU, with routing addresses and the router discovery messages), the
// application layer (APDU headers of every PDU type, segmentation), the
// tag encoding of application and context values, and the services a
// gateway client uses: Who-Is/I-Am, Who-Has/I-Have, ReadProperty,
// ReadPropertyMultiple, WriteProperty, WritePropertyMultiple, SubscribeCOV,
// SubscribeCOVProperty and the COV notifications.
//
// # Layers
//
// A datagram is decoded outside in: [DecodeBVLC] gives the function and the
// NPDU bytes, [DecodeNPDU] the routing information and either a network
// layer message or the APDU bytes, [DecodeAPDU] the PDU header and the
// service data, and a Decode* function per service the service parameters.
// Encoding goes the other way with the Append* functions and methods. Every
// decoder validates lengths and tags and returns an error on malformed
// input; none panics (each is fuzzed).
//
// # Values
//
// Property values are decoded into plain Go values (see [Value]): nil for
// Null, bool, uint64 (Unsigned), int64 (Signed), float32 (Real), float64
// (Double), []byte (OctetString), string (CharacterString), [BitString],
// [Enumerated], [Date], [Time], [ObjectID], and for context tagged data
// [Context] (primitive) or [Constructed] (opening/closing pair). A property
// value is a []Value, since a property may hold a list.
//
// # Segmentation
//
// [Segment] splits a long APDU into segments that fit a peer's maximum APDU
// length; [Reassembly] collects received segments in order and tells the
// caller when to send a SegmentACK and when the message is complete.
//
// Non-goals: BACnet/SC, MS/TP and Ethernet data links, alarm and event
// services, file access, the server side of services a gateway does not
// serve. The package does no I/O, starts no goroutines and keeps no state
// outside the values it returns.
package bacnet
