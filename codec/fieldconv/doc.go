// Package fieldconv is an uplink converter that reads typed values at
// fixed byte positions of a raw message body. It implements the byte
// layouts of the example custom converters named in upstream's Request
// and REST samples ("CustomRequestUplinkConverter" with an
// "extension-config" list, "CustomRestUplinkConverter" with one
// "extensionConfig" object), so those samples load and run unchanged.
//
// Each entry is
//
//	{"key": "Flow", "type": "int", "fromByte": 4, "toByte": 6,
//	 "byteorder": "big", "signed": true, "multiplier": 0.01}
//	{"key": "OUT1", "type": "int", "byteAddress": 15, "fromBit": 0, "toBit": 1}
//
// fromByte is inclusive, toByte exclusive (-1: to the end); "datatype" is
// accepted for "type". A bit field reads bits fromBit..toBit-1 of the byte
// at byteAddress, bit 0 being the least significant. A multiplier other
// than 1 turns the value into a float. Every entry becomes a time series
// of the device; a body too short for an entry skips that entry and is
// reported in the error returned with the data.
//
// Non-goals: running upstream's Python converters; attributes.
package fieldconv
