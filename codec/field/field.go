// Package field decodes and encodes typed values at fixed byte positions
// of a raw frame, as the CAN connector's "value" and "command" strings
// describe them:
//
//	start:length[:order]:type[:signed|encoding]   e.g. "4:2:big:int:signed", "0:-1:string:utf-8"
//	start:length[:order]:value                    e.g. "2:2:big:8717" (a command to match)
//
// start and length count bytes; length -1 means "to the end"; order is big
// (default) or little. Types: bool (the first byte is non-zero), int/long
// (1 to 8 bytes, unsigned unless "signed"), float/double (2, 4 or 8 bytes:
// IEEE 754 half, single, double), string (ascii by default, utf-8,
// latin-1, utf-16, utf-16le, utf-16be) and raw (lowercase hex). [Bits]
// reads bit fields.
//
//	f, err := field.Parse("4:2:little:int")
//	v, err := f.Decode(frame) // int64
//	b, err := f.Encode(v)     // the two bytes back
package field

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Type of a field.
type Type uint8

// Field types.
const (
	Bool Type = iota + 1
	Int
	Float
	String
	Raw
)

func (t Type) String() string {
	switch t {
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Float:
		return "float"
	case String:
		return "string"
	case Raw:
		return "raw"
	}
	return "?"
}

// ParseType maps the upstream type names.
func ParseType(s string) (Type, bool) {
	switch strings.ToLower(s) {
	case "bool", "boolean":
		return Bool, true
	case "int", "long", "integer":
		return Int, true
	case "float", "double":
		return Float, true
	case "string":
		return String, true
	case "raw":
		return Raw, true
	}
	return 0, false
}

// Field is a typed value at a byte position.
type Field struct {
	Start    int
	Length   int // bytes; -1: to the end of the frame
	Little   bool
	Type     Type
	Signed   bool   // Int
	Encoding string // String: ascii, utf-8, latin-1, utf-16, utf-16le, utf-16be
}

// Command is a constant expected at a byte position, used to tell apart
// frames with the same identifier.
type Command struct {
	Start, Length int
	Little        bool
	Value         uint64
}

var encodings = map[string]string{
	"ascii": "ascii", "us-ascii": "ascii",
	"utf-8": "utf-8", "utf8": "utf-8",
	"latin-1": "latin-1", "latin1": "latin-1", "iso-8859-1": "latin-1",
	"utf-16": "utf-16", "utf16": "utf-16",
	"utf-16le": "utf-16le", "utf-16-le": "utf-16le",
	"utf-16be": "utf-16be", "utf-16-be": "utf-16be",
}

// Parse parses a value spec "start:length[:order]:type[:signed|encoding]".
func Parse(spec string) (Field, error) {
	parts := strings.Split(spec, ":")
	bad := func(why string) (Field, error) {
		return Field{}, fmt.Errorf("value %q: %s (want start:length[:big|little]:type[:signed|encoding])", spec, why)
	}
	if len(parts) < 3 || len(parts) > 5 {
		return bad("wrong number of parts")
	}
	var f Field
	var err error
	if f.Start, err = strconv.Atoi(parts[0]); err != nil || f.Start < 0 || f.Start > 99 {
		return bad("bad start")
	}
	if f.Length, err = strconv.Atoi(parts[1]); err != nil || f.Length < -1 || f.Length == 0 || f.Length > 99 {
		return bad("bad length")
	}
	rest := parts[2:]
	switch rest[0] {
	case "big":
		rest = rest[1:]
	case "little":
		f.Little = true
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return bad("missing type")
	}
	t, ok := ParseType(rest[0])
	if !ok {
		return bad("unknown type " + strconv.Quote(rest[0]))
	}
	f.Type = t
	opt := ""
	switch len(rest) {
	case 1:
	case 2:
		opt = rest[1]
	default:
		return bad("too many parts")
	}
	switch t {
	case Int:
		switch opt {
		case "", "unsigned":
		case "signed":
			f.Signed = true
		default:
			return bad("want signed or unsigned, got " + strconv.Quote(opt))
		}
	case String, Raw:
		if opt == "" {
			opt = "ascii"
		}
		enc, ok := encodings[strings.ToLower(opt)]
		if !ok {
			return bad("unsupported encoding " + strconv.Quote(opt))
		}
		f.Encoding = enc
	default:
		if opt != "" {
			return bad("no option allowed for " + t.String())
		}
	}
	return f, f.Validate()
}

// Validate checks that the length suits the type.
func (f Field) Validate() error {
	switch f.Type {
	case Int:
		if f.Length > 8 {
			return fmt.Errorf("int field of %d bytes: at most 8", f.Length)
		}
	case Float:
		if f.Length != -1 && f.Length != 2 && f.Length != 4 && f.Length != 8 {
			return fmt.Errorf("float field of %d bytes: want 2, 4 or 8", f.Length)
		}
	case Bool, String, Raw:
	default:
		return errors.New("field without a type")
	}
	if f.Start < 0 {
		return errors.New("negative start")
	}
	return nil
}

// ParseCommand parses "start:length[:order]:value".
func ParseCommand(spec string) (Command, error) {
	parts := strings.Split(spec, ":")
	bad := func(why string) (Command, error) {
		return Command{}, fmt.Errorf("command %q: %s (want start:length[:big|little]:value)", spec, why)
	}
	if len(parts) != 3 && len(parts) != 4 {
		return bad("wrong number of parts")
	}
	var c Command
	var err error
	if c.Start, err = strconv.Atoi(parts[0]); err != nil || c.Start < 0 || c.Start > 99 {
		return bad("bad start")
	}
	if c.Length, err = strconv.Atoi(parts[1]); err != nil || c.Length < 1 || c.Length > 8 {
		return bad("bad length")
	}
	if len(parts) == 4 {
		switch parts[2] {
		case "big":
		case "little":
			c.Little = true
		default:
			return bad("bad byte order")
		}
	}
	if c.Value, err = strconv.ParseUint(parts[len(parts)-1], 10, 64); err != nil {
		return bad("bad value")
	}
	if c.Length < 8 && c.Value >= 1<<(8*c.Length) {
		return bad("value does not fit the length")
	}
	return c, nil
}

// Match reports whether data holds the command's value.
func (c Command) Match(data []byte) bool {
	if c.Start+c.Length > len(data) {
		return false
	}
	return readUint(data[c.Start:c.Start+c.Length], c.Little) == c.Value
}

// bytes returns the field's bytes within data.
func (f Field) bytes(data []byte) ([]byte, error) {
	if f.Start > len(data) || (f.Start == len(data) && f.Length != -1) {
		return nil, fmt.Errorf("field at byte %d: frame has %d bytes", f.Start, len(data))
	}
	if f.Length == -1 {
		return data[f.Start:], nil
	}
	end := f.Start + f.Length
	if end > len(data) {
		return nil, fmt.Errorf("field %d:%d: frame has %d bytes", f.Start, f.Length, len(data))
	}
	return data[f.Start:end], nil
}

// Decode reads the field from data: bool, int64 (uint64 beyond int64 is
// returned as float64), float64 or string.
func (f Field) Decode(data []byte) (any, error) {
	b, err := f.bytes(data)
	if err != nil {
		return nil, err
	}
	switch f.Type {
	case Bool:
		if len(b) == 0 {
			return nil, errors.New("bool field: no byte")
		}
		return b[0] != 0, nil
	case Int:
		if len(b) > 8 {
			return nil, fmt.Errorf("int field of %d bytes: at most 8", len(b))
		}
		if len(b) == 0 {
			return int64(0), nil
		}
		u := readUint(b, f.Little)
		if f.Signed {
			shift := 64 - 8*uint(len(b))
			return int64(u<<shift) >> shift, nil
		}
		if u > math.MaxInt64 {
			return float64(u), nil
		}
		return int64(u), nil
	case Float:
		switch len(b) {
		case 2:
			return float64(halfToFloat(uint16(readUint(b, f.Little)))), nil
		case 4:
			return float64(math.Float32frombits(uint32(readUint(b, f.Little)))), nil
		case 8:
			return math.Float64frombits(readUint(b, f.Little)), nil
		}
		return nil, fmt.Errorf("float field of %d bytes: want 2, 4 or 8", len(b))
	case String:
		return decodeString(b, f.Encoding, f.Little)
	case Raw:
		return hex.EncodeToString(b), nil
	}
	return nil, errors.New("field without a type")
}

// Encode writes v as the field's bytes (the field's length; -1: the
// natural length of v). Integers must fit; floats of 2, 4 or 8 bytes;
// strings are encoded with the field's encoding.
func (f Field) Encode(v any) ([]byte, error) {
	switch f.Type {
	case Bool:
		b, ok := v.(bool)
		if !ok {
			i, isInt := toInt(v)
			if !isInt {
				return nil, fmt.Errorf("bool field: cannot encode %T", v)
			}
			b = i != 0
		}
		out := make([]byte, max(f.Length, 1))
		if b {
			out[0] = 1
		}
		return out, nil
	case Int:
		i, ok := toInt(v)
		if !ok {
			return nil, fmt.Errorf("int field: cannot encode %T", v)
		}
		n := f.Length
		if n == -1 {
			n = 8
		}
		return EncodeInt(i, n, f.Little, f.Signed)
	case Float:
		x, ok := toFloat(v)
		if !ok {
			return nil, fmt.Errorf("float field: cannot encode %T", v)
		}
		n := f.Length
		if n == -1 {
			n = 4
		}
		var u uint64
		switch n {
		case 2:
			u = uint64(floatToHalf(float32(x)))
		case 4:
			u = uint64(math.Float32bits(float32(x)))
		case 8:
			u = math.Float64bits(x)
		default:
			return nil, fmt.Errorf("float field of %d bytes: want 2, 4 or 8", n)
		}
		out := make([]byte, n)
		writeUint(out, u, f.Little)
		return out, nil
	case String:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("string field: cannot encode %T", v)
		}
		b, err := EncodeString(s, f.Encoding, f.Little)
		if err != nil {
			return nil, err
		}
		if f.Length > 0 && len(b) > f.Length {
			return nil, fmt.Errorf("string of %d bytes does not fit %d", len(b), f.Length)
		}
		return b, nil
	case Raw:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("raw field: cannot encode %T", v)
		}
		return ParseHex(s)
	}
	return nil, errors.New("field without a type")
}

// EncodeInt writes i in n bytes (1 to 8). It fails when i does not fit: a
// negative value always needs signed room, as Python's int.to_bytes does
// with signed=(dataSigned or value < 0).
func EncodeInt(i int64, n int, little, signed bool) ([]byte, error) {
	if n < 1 || n > 8 {
		return nil, fmt.Errorf("int of %d bytes: want 1 to 8", n)
	}
	bits := uint(8 * n)
	if signed || i < 0 {
		if bits < 64 && (i < -(1<<(bits-1)) || i >= 1<<(bits-1)) {
			return nil, fmt.Errorf("%d does not fit %d signed bytes", i, n)
		}
	} else if bits < 64 && uint64(i) >= 1<<bits {
		return nil, fmt.Errorf("%d does not fit %d bytes", i, n)
	}
	out := make([]byte, n)
	writeUint(out, uint64(i), little)
	return out, nil
}

// ParseHex reads hex digits, ignoring white space ("aa bb cc").
func ParseHex(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("hex data %q: %v", s, err)
	}
	return b, nil
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case float64:
		if x == math.Trunc(x) && x >= -9.2e18 && x <= 9.2e18 {
			return int64(x), true
		}
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	if i, ok := toInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

func readUint(b []byte, little bool) uint64 {
	var u uint64
	if little {
		for i := len(b) - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		return u
	}
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u
}

func writeUint(b []byte, u uint64, little bool) {
	n := len(b)
	for i := 0; i < n; i++ {
		c := byte(u >> (8 * uint(i)))
		if little {
			b[i] = c
		} else {
			b[n-1-i] = c
		}
	}
}

func decodeString(b []byte, enc string, little bool) (string, error) {
	switch enc {
	case "ascii":
		for _, c := range b {
			if c >= 0x80 {
				return "", fmt.Errorf("byte 0x%02x is not ASCII", c)
			}
		}
		return string(b), nil
	case "utf-8":
		if !utf8.Valid(b) {
			return "", errors.New("invalid UTF-8")
		}
		return string(b), nil
	case "latin-1":
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), nil
	case "utf-16", "utf-16le", "utf-16be":
		le := enc == "utf-16le"
		if enc == "utf-16" {
			le = true // Python: BOM decides, else native (little) order
			if len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff {
				le, b = false, b[2:]
			} else if len(b) >= 2 && b[0] == 0xff && b[1] == 0xfe {
				b = b[2:]
			}
		}
		if len(b)%2 != 0 {
			return "", errors.New("odd number of bytes for UTF-16")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if le {
				u[i] = binary.LittleEndian.Uint16(b[2*i:])
			} else {
				u[i] = binary.BigEndian.Uint16(b[2*i:])
			}
		}
		return string(utf16.Decode(u)), nil
	}
	return "", fmt.Errorf("unsupported encoding %q", enc)
}

// EncodeString encodes s; "utf-16" writes a little-endian BOM first, as
// Python does.
func EncodeString(s, enc string, little bool) ([]byte, error) {
	switch encodings[strings.ToLower(enc)] {
	case "ascii":
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return nil, fmt.Errorf("%q is not ASCII", s)
			}
		}
		return []byte(s), nil
	case "utf-8", "":
		return []byte(s), nil
	case "latin-1":
		out := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, fmt.Errorf("%q is not Latin-1", s)
			}
			out = append(out, byte(r))
		}
		return out, nil
	case "utf-16", "utf-16le", "utf-16be":
		e := encodings[strings.ToLower(enc)]
		u := utf16.Encode([]rune(s))
		var out []byte
		if e == "utf-16" {
			out = append(out, 0xff, 0xfe)
		}
		for _, c := range u {
			if e == "utf-16be" {
				out = binary.BigEndian.AppendUint16(out, c)
			} else {
				out = binary.LittleEndian.AppendUint16(out, c)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", enc)
}

// Bits returns n bits (1 to 64) of data starting at bit offset start,
// counting bit 0 as the least significant bit of data[0] and continuing
// into the following bytes (Intel/LSB-first numbering, as DBC files and
// upstream's fromBit/toBit use).
func Bits(data []byte, start, n int) (uint64, error) {
	if n < 1 || n > 64 || start < 0 || start+n > 8*len(data) {
		return 0, fmt.Errorf("bits %d..%d outside %d bytes", start, start+n-1, len(data))
	}
	var u uint64
	for i := 0; i < n; i++ {
		bit := start + i
		if data[bit/8]>>(uint(bit)%8)&1 == 1 {
			u |= 1 << uint(i)
		}
	}
	return u, nil
}

// SetBits writes the low n bits of v into data at bit offset start (the
// numbering of Bits).
func SetBits(data []byte, start, n int, v uint64) error {
	if n < 1 || n > 64 || start < 0 || start+n > 8*len(data) {
		return fmt.Errorf("bits %d..%d outside %d bytes", start, start+n-1, len(data))
	}
	for i := 0; i < n; i++ {
		bit := start + i
		mask := byte(1) << (uint(bit) % 8)
		if v>>uint(i)&1 == 1 {
			data[bit/8] |= mask
		} else {
			data[bit/8] &^= mask
		}
	}
	return nil
}

// halfToFloat converts IEEE 754 binary16 bits.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = mant * 2^-24.
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | mant<<13)
}

// floatToHalf converts to IEEE 754 binary16, rounding to nearest even.
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - e)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is correct
	}
	return sign | uint16(half)
}
