package binary

import (
	"fmt"
	"strings"
)

// Endian is a byte or word order.
type Endian uint8

// Orders.
const (
	Big    Endian = iota // most significant first (network order)
	Little               // least significant first
)

// ParseEndian accepts "big" or "little" in any case.
func ParseEndian(s string) (Endian, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "big":
		return Big, nil
	case "little":
		return Little, nil
	}
	return Big, fmt.Errorf("byte/word order %q: want BIG or LITTLE", s)
}

func (e Endian) String() string {
	if e == Little {
		return "LITTLE"
	}
	return "BIG"
}

// Order is the byte order inside 16-bit words and the order of the words of
// a multi-word value. The zero Order is Big/Big.
type Order struct {
	Byte Endian
	Word Endian
}

// Arrange converts b (an even number of bytes holding one multi-word value)
// between o's layout and big-endian, in place. The conversion is its own
// inverse, so it serves decoding and encoding alike.
func (o Order) Arrange(b []byte) {
	if o.Byte == Little {
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	}
	if o.Word == Little {
		n := len(b) / 2
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			b[2*i], b[2*j] = b[2*j], b[2*i]
			b[2*i+1], b[2*j+1] = b[2*j+1], b[2*i+1]
		}
	}
}

func (o Order) String() string { return o.Byte.String() + "/" + o.Word.String() }

// Words returns b as big-endian 16-bit words, appended to dst. An odd
// trailing byte is padded with a zero low byte.
func Words(dst []uint16, b []byte) []uint16 {
	for i := 0; i < len(b); i += 2 {
		w := uint16(b[i]) << 8
		if i+1 < len(b) {
			w |= uint16(b[i+1])
		}
		dst = append(dst, w)
	}
	return dst
}

// WordBytes appends the big-endian bytes of words to dst.
func WordBytes(dst []byte, words []uint16) []byte {
	for _, w := range words {
		dst = append(dst, byte(w>>8), byte(w))
	}
	return dst
}

// PackBits appends bits packed eight to a byte, the first bit in the least
// significant position of the first byte (Modbus coil order); a last
// partial byte is padded with zero bits.
func PackBits(dst []byte, bits []bool) []byte {
	for i := 0; i < len(bits); i += 8 {
		var c byte
		for j := 0; j < 8 && i+j < len(bits); j++ {
			if bits[i+j] {
				c |= 1 << j
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// UnpackBits appends the bits of b to dst, least significant bit of each
// byte first (the inverse of PackBits).
func UnpackBits(dst []bool, b []byte) []bool {
	for _, c := range b {
		for j := 0; j < 8; j++ {
			dst = append(dst, c&(1<<j) != 0)
		}
	}
	return dst
}
