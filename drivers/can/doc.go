// Package can is the "can" connector: it reads CAN frames from a Linux
// SocketCAN interface, turns the configured values into ThingsBoard
// attributes and telemetry, polls devices with request frames (once, or
// periodically through the kernel's CAN_BCM timer), and sends frames for
// shared attribute updates and server-side RPCs. It loads upstream's
// can.json unchanged; docs/connectors/can.md lists the keys and the
// differences from upstream.
//
// The socket code is in drivers/can/socketcan (Linux only; elsewhere the
// connector loads its configuration but Run fails). Payload values are
// decoded and encoded by codec/canval, expressions run on codec/expr.
//
// Non-goals: python-can back-ends other than socketcan (pcan, kvaser,
// slcan, ...), custom converter classes, DBC files, ISO-TP.
package can
