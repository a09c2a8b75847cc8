package modbus

import (
	"encoding/binary"
	"encoding/hex"
)

// MBAPHeaderLen is the length of the Modbus TCP header (transaction id,
// protocol id, length, unit id).
const MBAPHeaderLen = 7

// AppendMBAP appends a Modbus TCP ADU (MBAP header and pdu) to dst.
func AppendMBAP(dst []byte, tid uint16, unit byte, pdu []byte) []byte {
	n := len(pdu) + 1
	dst = append(dst, byte(tid>>8), byte(tid), 0, 0, byte(n>>8), byte(n), unit)
	return append(dst, pdu...)
}

// MBAPLen returns the total length of the ADU whose first bytes are b, or
// 0 while fewer than 6 bytes are known. A header with a protocol id other
// than 0 or an impossible length is malformed.
func MBAPLen(b []byte) (int, error) {
	if len(b) < 6 {
		return 0, nil
	}
	if b[2] != 0 || b[3] != 0 {
		return 0, malformed("MBAP protocol id %d", binary.BigEndian.Uint16(b[2:]))
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n < 2 || n > MaxPDU+1 {
		return 0, malformed("MBAP length %d", n)
	}
	return 6 + n, nil
}

// ParseMBAP splits a complete Modbus TCP ADU. pdu aliases adu.
func ParseMBAP(adu []byte) (tid uint16, unit byte, pdu []byte, err error) {
	n, err := MBAPLen(adu)
	if err != nil {
		return 0, 0, nil, err
	}
	if n == 0 || len(adu) != n {
		return 0, 0, nil, malformed("MBAP frame of %d bytes, header says %d", len(adu), n)
	}
	return binary.BigEndian.Uint16(adu), adu[6], adu[7:], nil
}

// AppendRTU appends an RTU ADU (unit, pdu, CRC-16 low byte first) to dst.
func AppendRTU(dst []byte, unit byte, pdu []byte) []byte {
	start := len(dst)
	dst = append(dst, unit)
	dst = append(dst, pdu...)
	crc := CRC16(dst[start:])
	return append(dst, byte(crc), byte(crc>>8))
}

// ParseRTU checks the CRC of a complete RTU ADU and splits it. pdu aliases
// adu.
func ParseRTU(adu []byte) (unit byte, pdu []byte, err error) {
	if len(adu) < 4 {
		return 0, nil, malformed("RTU frame of %d bytes", len(adu))
	}
	n := len(adu) - 2
	if got, want := binary.LittleEndian.Uint16(adu[n:]), CRC16(adu[:n]); got != want {
		return 0, nil, malformed("RTU CRC %04X, want %04X", got, want)
	}
	return adu[0], adu[1:n], nil
}

// RTUResponseLen returns the length of the RTU response ADU that begins
// with b, or 0 while more bytes are needed to tell.
func RTUResponseLen(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, nil
	}
	n, err := ResponseLen(b[1:])
	if n == 0 || err != nil {
		return 0, err
	}
	return 1 + n + 2, nil
}

// RTURequestLen returns the length of the RTU request ADU that begins with
// b, or 0 while more bytes are needed to tell.
func RTURequestLen(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, nil
	}
	n, err := RequestLen(b[1:])
	if n == 0 || err != nil {
		return 0, err
	}
	return 1 + n + 2, nil
}

// AppendASCII appends an ASCII ADU (':', hex of unit, pdu and LRC, CR LF).
func AppendASCII(dst []byte, unit byte, pdu []byte) []byte {
	lrc := LRC([]byte{unit}) + LRC(pdu) // LRC is additive modulo 256 (negated sums)
	dst = append(dst, ':')
	dst = appendHexUpper(dst, unit)
	for _, c := range pdu {
		dst = appendHexUpper(dst, c)
	}
	dst = appendHexUpper(dst, lrc)
	return append(dst, '\r', '\n')
}

func appendHexUpper(dst []byte, c byte) []byte {
	const digits = "0123456789ABCDEF"
	return append(dst, digits[c>>4], digits[c&15])
}

// ParseASCII checks and decodes a complete ASCII ADU from ':' to LF. Hex
// digits may be of either case. The returned pdu is newly allocated.
func ParseASCII(frame []byte) (unit byte, pdu []byte, err error) {
	if len(frame) < 9 || frame[0] != ':' || frame[len(frame)-2] != '\r' || frame[len(frame)-1] != '\n' {
		return 0, nil, malformed("ASCII frame framing")
	}
	body := frame[1 : len(frame)-2]
	if len(body)%2 != 0 {
		return 0, nil, malformed("ASCII frame has an odd number of hex digits")
	}
	raw := make([]byte, len(body)/2)
	if _, err := hex.Decode(raw, body); err != nil {
		return 0, nil, malformed("ASCII frame: %v", err)
	}
	n := len(raw) - 1
	if got, want := raw[n], LRC(raw[:n]); got != want {
		return 0, nil, malformed("ASCII LRC %02X, want %02X", got, want)
	}
	return raw[0], raw[1:n], nil
}

// LRC is the longitudinal redundancy check of the ASCII framing: the two's
// complement of the byte sum.
func LRC(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return -s
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 is the Modbus RTU CRC (polynomial 0xA001 reflected, initial
// 0xFFFF). It is sent low byte first.
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^c]
	}
	return crc
}
