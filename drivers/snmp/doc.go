// Package snmp is the SNMP connector ("type": "snmp"): an SNMP manager
// that polls agents over SNMP v1, v2c and v3 (USM), writes to them on
// shared attribute updates and RPCs, and receives their traps and informs.
// It reads upstream's snmp.json unchanged; docs/connectors/snmp.md is the
// configuration reference.
//
// # Polling
//
// A scheduler goroutine keeps the devices in a heap ordered by due time
// and hands due ones to a bounded pool of workers (the "workers" key). A
// device is handed out again only after its poll ended, so a slow or dead
// agent holds one worker and its polls never pile up. Each worker owns a
// few UDP sockets (one per address family, loopback or not) and one gosnmp
// client with its receive buffer, and lends both to the device it polls:
// the device keeps only its settings and SNMPv3 state. Single-OID gets of
// a device are batched into one GET PDU.
//
// An agent that does not answer (after its retries) ends the poll: the
// device is reported disconnected and polled again after a back-off of
// one period doubling up to a minute; its next answer connects it again.
//
// # Downlink
//
// Attribute updates and RPCs take the device's lock (waiting for a poll in
// progress), use a socket of their own for the call, and are bounded by
// their context.
//
// # Traps
//
// The receiver decodes datagrams with gosnmp (guarded against panics),
// answers SNMPv3 engine discovery and informs itself, and maps varbinds to
// telemetry of the devices with the sender's address. Converted traps go
// through a bounded queue to the sink.
//
// Non-goals: MIB files and symbolic names (OIDs are numeric), SNMP over
// TCP, acting as an agent.
package snmp
