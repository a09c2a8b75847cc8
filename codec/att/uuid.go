package att

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// UUID is a Bluetooth UUID in wire (little-endian) byte order: 2 bytes for
// a 16-bit UUID, 16 bytes for a 128-bit one. 32-bit UUIDs (service data)
// are widened to 128 bits by ParseUUID and FromWire.
type UUID struct {
	b [16]byte
	n uint8 // 2 or 16; 0 is the zero UUID
}

// base is the Bluetooth Base UUID 00000000-0000-1000-8000-00805F9B34FB in
// wire order; 16/32-bit UUIDs are its bytes 12..15.
var base = [16]byte{0xfb, 0x34, 0x9b, 0x5f, 0x80, 0x00, 0x00, 0x80, 0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0}

// UUID16 returns the 16-bit UUID u.
func UUID16(u uint16) UUID {
	return UUID{b: [16]byte{byte(u), byte(u >> 8)}, n: 2}
}

// Common GATT attribute types.
var (
	PrimaryService   = UUID16(0x2800)
	SecondaryService = UUID16(0x2801)
	Include          = UUID16(0x2802)
	Characteristic   = UUID16(0x2803)
	ClientConfig     = UUID16(0x2902) // CCCD
	DeviceName       = UUID16(0x2A00)
)

// FromWire returns the UUID held in b (2, 4 or 16 bytes, little-endian).
func FromWire(b []byte) (UUID, error) {
	var u UUID
	switch len(b) {
	case 2:
		u.n = 2
		copy(u.b[:], b)
	case 4:
		u = UUID{b: base, n: 16}
		copy(u.b[12:], b)
		return u.shorten(), nil
	case 16:
		u.n = 16
		copy(u.b[:], b)
		return u.shorten(), nil
	default:
		return UUID{}, fmt.Errorf("uuid of %d bytes, want 2, 4 or 16", len(b))
	}
	return u, nil
}

// shorten turns a 128-bit UUID built on the Base UUID with a 16-bit value
// into the 16-bit form, so that equal UUIDs compare equal.
func (u UUID) shorten() UUID {
	if u.n != 16 || u.b[14] != 0 || u.b[15] != 0 {
		return u
	}
	for i := 0; i < 12; i++ {
		if u.b[i] != base[i] {
			return u
		}
	}
	return UUID{b: [16]byte{u.b[12], u.b[13]}, n: 2}
}

// ParseUUID parses "2A00", "0x2a00", "0000180f" (32-bit) or the canonical
// 128-bit form "00002A00-0000-1000-8000-00805F9B34FB" (dashes optional),
// case-insensitive.
func ParseUUID(s string) (UUID, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	raw, err := hex.DecodeString(t)
	if err != nil || (len(raw) != 2 && len(raw) != 4 && len(raw) != 16) {
		return UUID{}, fmt.Errorf("uuid %q: want 4, 8 or 32 hex digits", s)
	}
	// Text is big-endian; wire order is reversed.
	for i, j := 0, len(raw)-1; i < j; i, j = i+1, j-1 {
		raw[i], raw[j] = raw[j], raw[i]
	}
	return FromWire(raw)
}

// MustUUID is ParseUUID for constants; it panics on a bad string.
func MustUUID(s string) UUID {
	u, err := ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

// Wire returns the UUID in little-endian wire order (2 or 16 bytes).
func (u UUID) Wire() []byte { return append([]byte(nil), u.b[:u.n]...) }

// Len is the wire length: 2, 16, or 0 for the zero UUID.
func (u UUID) Len() int { return int(u.n) }

// IsZero reports whether u is the zero UUID.
func (u UUID) IsZero() bool { return u.n == 0 }

// Is16 reports whether u is a 16-bit UUID.
func (u UUID) Is16() bool { return u.n == 2 }

// Long returns u as a 128-bit UUID.
func (u UUID) Long() UUID {
	if u.n != 2 {
		return u
	}
	l := UUID{b: base, n: 16}
	l.b[12], l.b[13] = u.b[0], u.b[1]
	return l
}

// String is the canonical upper-case 128-bit form, which is how upstream
// configurations write characteristic UUIDs.
func (u UUID) String() string {
	if u.n == 0 {
		return ""
	}
	l := u.Long()
	var be [16]byte
	for i := range be {
		be[i] = l.b[15-i]
	}
	h := strings.ToUpper(hex.EncodeToString(be[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
