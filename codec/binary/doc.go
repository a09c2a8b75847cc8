// Package binary decodes and encodes typed values (8- to 64-bit integers,
// IEEE 754 half, single and double floats, strings, raw bytes, bits) held
// in byte sequences made of 16-bit words, such as Modbus registers, CAN
// payloads or BLE characteristics.
//
// # Byte and word order
//
// Values are laid out the way pymodbus' BinaryPayloadBuilder lays them out,
// which is what ThingsBoard gateway configurations mean by "byteOrder" and
// "wordOrder" ([Order]):
//
//   - 8-bit values take one byte; the orders do not apply.
//   - 16-bit integers are two bytes, swapped when the byte order is Little;
//     the word order does not apply.
//   - 16-bit floats and all 32- and 64-bit values are first written
//     big-endian; then a Little byte order swaps the two bytes of every
//     16-bit word and a Little word order reverses the order of the words.
//
// So with Big/Big, 0x12345678 is the words 0x1234 0x5678; Big/Little gives
// 0x5678 0x1234, Little/Big 0x3412 0x7856 and Little/Little 0x7856 0x3412.
//
// # Non-goals
//
// Protocol framing and the quirks of particular gateways (how a connector
// maps a configuration's objectsCount to a size, how coils are turned into
// bytes) belong to the protocol codecs, e.g. codec/modbus.
//
// The package has no state, starts no goroutines and does not allocate on
// the decode path.
package binary
