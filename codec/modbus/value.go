package modbus

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/binary"
)

// Tag is one configured datapoint: a value read from (or written to) a
// range of registers or coils.
type Tag struct {
	Key      string      // ThingsBoard key
	Kind     binary.Kind // see ParseType
	Function byte        // 1-4 for reads; 5, 6, 15, 16 for writes
	Address  uint16
	Count    int // objectsCount: registers for functions 3, 4, 6, 16; bits for 1, 2, 5, 15

	// Writes only: upstream's repack (see EncodeWrite).
	Repack bool

	// Reads only.
	Divider       float64 // functions 3, 4: value / Divider when not 0 (wins over Multiplier)
	Multiplier    float64 // functions 3, 4: value * Multiplier when not 0
	MultiplierInt bool    // Multiplier was written as an integer (int * int stays int)
	Round         int     // decimals kept of float types (upstream default 6)
	Bit           int     // bits: pick this bit (as an int) when >= 0
	BitAsInt      bool    // bits: bitTargetType "int" instead of "bool"
	// Variants maps the Python str() of a decoded value to the value
	// reported instead ("variants" of the configuration).
	Variants map[string]any
	Report   *codec.Strategy // per-key report strategy, nil to inherit
}

// ParseType resolves an upstream type name for objectsCount count: the
// kinds of binary.ParseKind, and the size-less aliases int, integer, long,
// word, dword (signed), uint, unsigned (unsigned), float, double (float) and
// coil, coils (bits), which take 16 bits per object.
func ParseType(name string, count int) (binary.Kind, error) {
	if k, ok := binary.ParseKind(name); ok {
		return k, nil
	}
	var k binary.Kind
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "int", "integer", "long", "word", "dword", "dword/integer":
		k = binary.IntKind(16*count, true)
	case "uint", "unsigned", "unsigned integer", "unsigned int":
		k = binary.IntKind(16*count, false)
	case "float", "double":
		k = binary.FloatKind(16 * count)
	case "coil", "coils":
		return binary.Bits, nil
	default:
		return binary.Invalid, fmt.Errorf("unknown type %q", name)
	}
	if k == binary.Invalid {
		return k, fmt.Errorf("type %q with objectsCount %d: %d bits is not a size of that type", name, count, 16*count)
	}
	return k, nil
}

// Words returns the number of registers a numeric kind occupies.
func Words(k binary.Kind) int { return (k.Size() + 1) / 2 }

// DecodeRegisters converts the registers a function 3 or 4 read of t
// returned, the way the upstream gateway does:
//
//   - The registers are taken as big-endian bytes; numbers are decoded per
//     the package binary rules for o (8-bit types take the first byte).
//   - "string" is the objectsCount*2 bytes as UTF-8 (NULs kept), or their
//     hex when not valid UTF-8; "bytes" is their hex.
//   - "bits" is the bits of the first byte then of the second byte, least
//     significant first, of which the last objectsCount are kept (with
//     Python's slice semantics when objectsCount exceeds 16); one bit is a
//     bool (or int, see BitAsInt), several a JSON list; Bit picks one as int.
//   - Floats are rounded to Round decimals, then Divider or Multiplier
//     apply, then Variants.
func (t *Tag) DecodeRegisters(regs []uint16, o binary.Order) (any, error) {
	var buf [32]byte
	b := binary.WordBytes(buf[:0], regs)
	v, err := t.decode(b, o)
	if err != nil {
		return nil, err
	}
	if v, err = t.scale(v); err != nil {
		return nil, err
	}
	return t.variant(v), nil
}

// DecodeBits converts the bits a function 1 or 2 read of t returned. Like
// pymodbus' BinaryPayloadDecoder.fromCoils, each group of eight coils
// becomes one byte whose most significant bit is the group's first coil,
// and the bytes are then decoded as by DecodeRegisters with the word order
// forced to Big (fromCoils drops it) and without Divider and Multiplier.
//
// The consequence for "bits" is upstream's coil order quirk: reading coils
// c0..c7 yields the list [c7, c6, ..., c0]; for objectsCount below 8 the
// list is [c(n-1) ... c0]; for 16 it is [c7..c0, c15..c8].
func (t *Tag) DecodeBits(bits []bool, o binary.Order) (any, error) {
	var buf [32]byte
	n := (len(bits) + 7) / 8
	b := buf[:0]
	if n > len(buf) {
		b = make([]byte, 0, n)
	}
	b = b[:n]
	for i, v := range bits {
		if v {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	o.Word = binary.Big
	v, err := t.decode(b, o)
	if err != nil {
		return nil, err
	}
	return t.variant(v), nil
}

func (t *Tag) decode(b []byte, o binary.Order) (any, error) {
	switch t.Kind {
	case binary.Bits:
		return t.decodeBits(b)
	case binary.String, binary.Bytes:
		s := b[:min(len(b), 2*t.Count)]
		if t.Kind == binary.String && utf8.Valid(s) {
			return string(s), nil
		}
		return hex.EncodeToString(s), nil
	}
	n, err := binary.Decode(t.Kind, b, o)
	if err != nil {
		return nil, err
	}
	switch {
	case t.Kind.Float():
		return pyRound(n.Float64(), t.Round), nil
	case t.Kind == binary.Uint64 && n.Uint64() > math.MaxInt64:
		return json.RawMessage(n.String()), nil
	}
	return n.Int64(), nil
}

func (t *Tag) decodeBits(b []byte) (any, error) {
	var all [16]bool
	bits := binary.UnpackBits(all[:0], b[:min(len(b), 2)])
	start := len(bits) - t.Count // Python: decoded[len(decoded)-count:]
	if start < 0 {
		start += len(bits)
		if start < 0 {
			start = 0
		}
	}
	sel := bits[start:]
	if len(sel) == 0 {
		return nil, errors.New("no bits to decode")
	}
	if t.Bit >= 0 {
		i := min(t.Bit, len(sel)-1)
		return boolInt(sel[i]), nil
	}
	if t.Count == 1 {
		if t.BitAsInt {
			return boolInt(sel[len(sel)-1]), nil
		}
		return sel[len(sel)-1], nil
	}
	out := make([]byte, 0, 1+6*len(sel))
	out = append(out, '[')
	for i, v := range sel {
		if i > 0 {
			out = append(out, ',')
		}
		switch {
		case t.BitAsInt && v:
			out = append(out, '1')
		case t.BitAsInt:
			out = append(out, '0')
		default:
			out = strconv.AppendBool(out, v)
		}
	}
	return json.RawMessage(append(out, ']')), nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// scale applies Divider or Multiplier (functions 3 and 4 only).
func (t *Tag) scale(v any) (any, error) {
	if t.Divider == 0 && t.Multiplier == 0 {
		return v, nil
	}
	var f float64
	isInt := false
	var i int64
	switch x := v.(type) {
	case int64:
		f, i, isInt = float64(x), x, true
	case bool:
		i = boolInt(x)
		f, isInt = float64(i), true
	case float64:
		f = x
	case json.RawMessage: // a uint64 above MaxInt64
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return nil, fmt.Errorf("cannot scale %s", x)
		}
	case string:
		var err error
		if f, err = pyFloat(x); err != nil {
			return nil, err
		}
		if t.Divider == 0 {
			return nil, fmt.Errorf("cannot multiply string %q", x)
		}
	default:
		return nil, fmt.Errorf("cannot scale %v", v)
	}
	if t.Divider != 0 {
		return f / t.Divider, nil
	}
	if isInt && t.MultiplierInt {
		m := int64(t.Multiplier)
		p := i * m
		if i == 0 || (p/i == m && !(i == -1 && m == math.MinInt64)) {
			return p, nil
		}
	}
	return f * t.Multiplier, nil
}

func (t *Tag) variant(v any) any {
	if len(t.Variants) == 0 {
		return v
	}
	if r, ok := t.Variants[pyStr(v)]; ok {
		return r
	}
	return v
}

// Reading is what was read for one tag.
type Reading struct {
	Regs []uint16 // functions 3, 4
	Bits []bool   // functions 1, 2
	Err  error    // the read failed; the tag is skipped
}

// Decode converts a reading of t according to t.Function.
func (t *Tag) Decode(r Reading, o binary.Order) (any, error) {
	switch {
	case r.Err != nil:
		return nil, r.Err
	case t.Function == ReadCoils || t.Function == ReadDiscreteInputs:
		return t.DecodeBits(r.Bits, o)
	case t.Function == ReadHoldingRegisters || t.Function == ReadInputRegisters:
		return t.DecodeRegisters(r.Regs, o)
	}
	return nil, fmt.Errorf("function %d is not a read", t.Function)
}

// Device is the uplink configuration of one polled device.
type Device struct {
	Name       string
	Type       string // device profile, "" for default
	Order      binary.Order
	Attributes []Tag
	Telemetry  []Tag
}

// Convert builds the device's data from readings: attrs[i] is the reading
// of d.Attributes[i], tele[i] of d.Telemetry[i]. Telemetry is stamped ts
// (Unix ms). Tags that cannot be decoded are left out and reported in errs,
// each naming device and key.
func (d *Device) Convert(attrs, tele []Reading, ts int64) (data codec.Data, errs []error) {
	data.Device, data.Type = d.Name, d.Type
	points := func(tags []Tag, rs []Reading, ts int64) []codec.Point {
		var out []codec.Point
		for i := range tags {
			if i >= len(rs) {
				break
			}
			t := &tags[i]
			v, err := t.Decode(rs[i], d.Order)
			if err == nil && v == nil {
				continue // a variant mapped to null
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("device %q key %q: %w", d.Name, t.Key, err))
				continue
			}
			if out == nil {
				out = make([]codec.Point, 0, len(tags)-i)
			}
			out = append(out, codec.Point{Key: t.Key, Value: v, TS: ts, Report: t.Report})
		}
		return out
	}
	data.Attributes = points(d.Attributes, attrs, 0)
	data.Telemetry = points(d.Telemetry, tele, ts)
	return data, errs
}

// VariantValue converts a JSON replacement value of a "variants" map to a
// datapoint value (nil for JSON null).
func VariantValue(raw json.RawMessage) (any, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return json.RawMessage(x.String()), nil
		}
		return f, nil
	}
	var c []byte
	c, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(c), nil
}
