package binary

import "strings"

// Kind is the type of a value.
type Kind uint8

// Kinds. The names (String) are the upstream gateway's type names.
const (
	Invalid Kind = iota
	String       // text, UTF-8
	Bytes        // raw bytes
	Bits         // a list of bits
	Int8
	Uint8
	Int16
	Uint16
	Float16
	Int32
	Uint32
	Float32
	Int64
	Uint64
	Float64
)

var kindNames = [...]string{
	Invalid: "invalid", String: "string", Bytes: "bytes", Bits: "bits",
	Int8: "8int", Uint8: "8uint", Int16: "16int", Uint16: "16uint", Float16: "16float",
	Int32: "32int", Uint32: "32uint", Float32: "32float",
	Int64: "64int", Uint64: "64uint", Float64: "64float",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// ParseKind maps an upstream type name ("16int", "32float", "bits", "bit",
// "string", "bytes", ...; any case) to its Kind. Size-less aliases such as
// "int" or "float" are not kinds: see IntKind and FloatKind.
func ParseKind(name string) (Kind, bool) {
	s := strings.ToLower(strings.TrimSpace(name))
	if s == "bit" {
		return Bits, true
	}
	for k := String; k <= Float64; k++ {
		if kindNames[k] == s {
			return k, true
		}
	}
	return Invalid, false
}

// IntKind returns the integer kind of the given width in bits (8, 16, 32,
// 64), or Invalid.
func IntKind(bits int, signed bool) Kind {
	var k Kind
	switch bits {
	case 8:
		k = Int8
	case 16:
		k = Int16
	case 32:
		k = Int32
	case 64:
		k = Int64
	default:
		return Invalid
	}
	if !signed {
		k++ // each unsigned kind follows its signed one
	}
	return k
}

// FloatKind returns the float kind of the given width in bits (16, 32,
// 64), or Invalid.
func FloatKind(bits int) Kind {
	switch bits {
	case 16:
		return Float16
	case 32:
		return Float32
	case 64:
		return Float64
	}
	return Invalid
}

// Size is the number of bytes of a numeric kind; 0 for String, Bytes, Bits
// and Invalid.
func (k Kind) Size() int {
	switch k {
	case Int8, Uint8:
		return 1
	case Int16, Uint16, Float16:
		return 2
	case Int32, Uint32, Float32:
		return 4
	case Int64, Uint64, Float64:
		return 8
	}
	return 0
}

// Numeric reports whether k is an integer or float kind.
func (k Kind) Numeric() bool { return k.Size() > 0 }

// Float reports whether k is a float kind.
func (k Kind) Float() bool { return k == Float16 || k == Float32 || k == Float64 }

// Signed reports whether k is a signed integer kind.
func (k Kind) Signed() bool { return k == Int8 || k == Int16 || k == Int32 || k == Int64 }
