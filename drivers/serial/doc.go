// Package serial is the line-protocol serial connector (connector type
// "serial"), the compiled-in replacement for upstream's custom serial
// connector example (extensions/serial, class CustomSerialConnector). It is
// also the worked example of docs/connector-guide.md: a small connector
// built on the kit that talks to devices over a serial port.
//
// Each configured device owns one port (go.bug.st/serial: baud rate, byte
// size, parity, stop bits). The device sends frames that end with its
// delimiter ("\n" by default) or with a pause of "timeout" seconds; each
// frame is turned into telemetry and attributes by the device's keys, each
// of which cuts the part it needs out of the frame (fromByte/toByte or
// fromDelimiter/untilDelimiter) and parses it as string, int, float,
// double, bool, json or (any other type) hex.
//
// Downlink: shared attribute updates are written as the attributeUpdates
// entry's stringToDevice with ${<key>}, ${deviceName} and ${deviceType}
// replaced; an RPC named in serverSideRpc writes its params encoded by
// "type" (int: the shortest big- or little-endian bytes, float/double:
// IEEE 754 single if exact, else double, anything else: the text) and,
// with withResponse, waits up to responseTimeoutSec for the device's
// answer (up to responseUntilDelimiter) and returns it converted by
// responseType as {"result": value}.
//
// A port that cannot be opened, or that fails while open (a USB adapter
// unplugged), is reopened with back-off; the device is reported
// disconnected while its port is down and connected again once it is back.
//
// Non-goals: hardware/software flow control settings beyond what the port
// library offers (rtscts, dsrdtr and xonxoff are accepted and logged),
// binary framings other than the delimiter/pause rule (those belong in a
// converter or in the exec connector), and writes without a configured
// attributeUpdates or serverSideRpc entry.
package serial
