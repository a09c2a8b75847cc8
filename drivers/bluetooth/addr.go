package bluetooth

import (
	"fmt"
	"strings"
)

// Addr is a Bluetooth device address, most significant byte first (the
// order in which it is written: 4C:65:A8:DF:85:C0 is {0x4C, ..., 0xC0}).
type Addr [6]byte

// ParseAddr parses "4C:65:A8:DF:85:C0" (also with '-' separators),
// case-insensitive.
func ParseAddr(s string) (Addr, error) {
	var a Addr
	t := strings.TrimSpace(s)
	parts := strings.FieldsFunc(t, func(r rune) bool { return r == ':' || r == '-' })
	if len(parts) != 6 || len(t) != 17 {
		return a, fmt.Errorf("address %q: want six hex bytes separated by ':'", s)
	}
	for i, p := range parts {
		var v byte
		if len(p) != 2 {
			return a, fmt.Errorf("address %q: want six hex bytes separated by ':'", s)
		}
		for _, c := range []byte(p) {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | (c - 'a' + 10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | (c - 'A' + 10)
			default:
				return a, fmt.Errorf("address %q: %q is not a hex byte", s, p)
			}
		}
		a[i] = v
	}
	return a, nil
}

func (a Addr) String() string {
	return fmt.Sprintf("%02X:%02X:%02X:%02X:%02X:%02X", a[0], a[1], a[2], a[3], a[4], a[5])
}

// wire returns the address in little-endian HCI/mgmt order.
func (a Addr) wire() []byte { return []byte{a[5], a[4], a[3], a[2], a[1], a[0]} }

func addrFromWire(b []byte) Addr { return Addr{b[5], b[4], b[3], b[2], b[1], b[0]} }

// AddrType is an LE address type, numbered as the kernel's BDADDR_LE_*.
type AddrType uint8

// Address types.
const (
	Public AddrType = 1
	Random AddrType = 2
)

func (t AddrType) String() string {
	switch t {
	case Public:
		return "public"
	case Random:
		return "random"
	}
	return fmt.Sprintf("address type %d", uint8(t))
}

// ParseAddrType parses "public" or "random".
func ParseAddrType(s string) (AddrType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "public":
		return Public, nil
	case "random":
		return Random, nil
	}
	return 0, fmt.Errorf("address type %q: want public or random", s)
}
