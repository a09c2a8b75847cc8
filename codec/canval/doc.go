// Package canval converts between CAN frame payloads and ThingsBoard
// values the way upstream's CAN connector configurations describe them.
//
// Uplink: an [Item] reads one value out of a payload. Its "value" spec is
// "start:length[:order]:type[:signed|encoding]" (codec/field), with
// upstream's meaning of the float types: "float" reads 4 bytes and
// "double" 8 bytes from start; length -1 means "to the end of the
// payload". An optional "command" ("start:length[:order]:value") must
// match for the item to apply, which tells apart frames that share an
// identifier. An optional expression (codec/expr, over "value" and
// "can_data", the payload as bytes) computes the reported value.
//
// Downlink: an [Encoder] builds a payload from an attribute value or RPC
// parameters: fixed hex data ("dataInHex"), or the value (or the result of
// "dataExpression" over the parameters) encoded by its type (bool: one
// byte; integer: "dataLength" bytes in "dataByteorder", signed when
// "dataSigned" or negative; float: 4 bytes IEEE 754 single; string: bytes
// in "dataEncoding"), between the hex "dataBefore" and "dataAfter".
//
// Non-goals: frame layout on the wire (drivers/can/socketcan), DBC files,
// bit-level signals.
package canval
