// Package modbus is the Modbus application protocol without I/O: protocol
// data units (PDUs) for function codes 1-6, 15, 16 and 43/14, the three
// serial and network framings (MBAP for TCP/UDP/TLS, RTU with CRC-16,
// ASCII with LRC), and the conversion between register or coil contents
// and ThingsBoard datapoints the way the upstream gateway's bytes converters
// do it.
//
// # Frames
//
// A PDU is a byte slice starting with the function code. Append* functions
// build requests and responses, Parse*/Check* functions validate them and
// never panic on malformed input. Framing functions wrap a PDU into an
// application data unit (ADU) and unwrap it again; the *Len functions tell
// a stream reader how many bytes a frame needs once its first bytes have
// arrived, so a transport can read exactly one frame.
//
// # Values
//
// [Tag] describes one configured datapoint (type, function code, address,
// objectsCount, divider, multiplier, bit, variants, ...). [Tag.DecodeRegisters]
// and [Tag.DecodeBits] turn what was read into a datapoint value with the
// semantics of pymodbus' BinaryPayloadDecoder as used by the upstream
// gateway, including its quirks (see DecodeBits for the coil bit order).
// [EncodeWrite] does the reverse for attribute updates and RPCs.
//
// The package does no I/O, starts no goroutines and keeps no state.
package modbus
