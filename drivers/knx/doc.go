// Package knx is the KNX connector ("type": "knx"): a KNXnet/IP client
// that reaches a KNX installation through a tunnelling server (IP
// interface or router, UDP) or as a routing participant on the KNXnet/IP
// multicast group. It reads upstream's knx.json unchanged;
// docs/connectors/knx.md is the configuration reference.
//
// One link to the bus at a time: a tunnel (connect, connection-state
// heartbeats, sequence counters, acknowledgements with one repetition,
// L_Data.con) or the routing socket; a lost link is re-established after
// autoReconnectWait. Devices are polled with GroupValueRead every
// pollPeriod, and telegrams written to their group addresses between
// polls are sent at once. Values are decoded with the DPT named by the
// datapoint's "type" (package codec/knx). Attribute updates and RPCs
// write or read group addresses.
//
// Non-goals: KNX IP Secure, KNXnet/IP over TCP, device management
// (programming, property access), ETS project import.
package knx
