package binary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Number is a decoded numeric value together with its kind. The zero
// Number is invalid.
type Number struct {
	kind Kind
	raw  uint64 // the value's bits, zero-extended
}

// Kind returns the kind the number was decoded as.
func (n Number) Kind() Kind { return n.kind }

// Int64 returns the value as a signed integer: sign-extended for signed
// kinds, the bits for unsigned ones (a Uint64 above MaxInt64 wraps), and
// truncated toward zero for floats.
func (n Number) Int64() int64 {
	switch n.kind {
	case Int8:
		return int64(int8(n.raw))
	case Int16:
		return int64(int16(n.raw))
	case Int32:
		return int64(int32(n.raw))
	case Float16, Float32, Float64:
		return int64(n.Float64())
	}
	return int64(n.raw)
}

// Uint64 returns the value as an unsigned integer (two's complement for
// negative signed values, truncated for floats).
func (n Number) Uint64() uint64 {
	if n.kind.Signed() || n.kind.Float() {
		return uint64(n.Int64())
	}
	return n.raw
}

// Float64 returns the value as a float64.
func (n Number) Float64() float64 {
	switch n.kind {
	case Float16:
		return halfToFloat(uint16(n.raw))
	case Float32:
		return float64(math.Float32frombits(uint32(n.raw)))
	case Float64:
		return math.Float64frombits(n.raw)
	case Uint64:
		return float64(n.raw)
	}
	return float64(n.Int64())
}

// String formats integers in decimal and floats in the shortest form that
// reads back to the same value.
func (n Number) String() string {
	switch {
	case n.kind.Float():
		return strconv.FormatFloat(n.Float64(), 'g', -1, 64)
	case n.kind == Uint64:
		return strconv.FormatUint(n.raw, 10)
	}
	return strconv.FormatInt(n.Int64(), 10)
}

// Errors.
var (
	ErrShort      = errors.New("binary: not enough data")
	ErrNotNumeric = errors.New("binary: kind is not numeric")
	ErrRange      = errors.New("binary: value out of range")
)

// Decode reads a number of kind k from the start of b, which is laid out
// in order o (see the package documentation).
func Decode(k Kind, b []byte, o Order) (Number, error) {
	size := k.Size()
	if size == 0 {
		return Number{}, ErrNotNumeric
	}
	if len(b) < size {
		return Number{}, fmt.Errorf("%w: %s needs %d bytes, have %d", ErrShort, k, size, len(b))
	}
	var raw uint64
	switch size {
	case 1:
		raw = uint64(b[0])
	case 2:
		v := binary.BigEndian.Uint16(b)
		if o.Byte == Little {
			v = v<<8 | v>>8
		}
		raw = uint64(v)
	default:
		var buf [8]byte
		copy(buf[:size], b)
		o.Arrange(buf[:size])
		if size == 4 {
			raw = uint64(binary.BigEndian.Uint32(buf[:4]))
		} else {
			raw = binary.BigEndian.Uint64(buf[:])
		}
	}
	return Number{kind: k, raw: raw}, nil
}

// appendRaw appends the low size bytes of raw in order o.
func appendRaw(dst []byte, size int, raw uint64, o Order) []byte {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], raw)
	b := buf[8-size:]
	switch size {
	case 1:
	case 2:
		if o.Byte == Little {
			b[0], b[1] = b[1], b[0]
		}
	default:
		o.Arrange(b)
	}
	return append(dst, b...)
}

// AppendInt appends v as an integer of kind k (signed or unsigned) in
// order o. A value that does not fit k is an ErrRange error; a float kind
// takes float64(v).
func AppendInt(dst []byte, k Kind, v int64, o Order) ([]byte, error) {
	if k.Float() {
		return AppendFloat(dst, k, float64(v), o)
	}
	size := k.Size()
	if size == 0 {
		return dst, ErrNotNumeric
	}
	if k.Signed() {
		bits := uint(size * 8)
		if bits < 64 && (v < -(1<<(bits-1)) || v > 1<<(bits-1)-1) {
			return dst, fmt.Errorf("%w: %d does not fit %s", ErrRange, v, k)
		}
		return appendRaw(dst, size, uint64(v), o), nil
	}
	if v < 0 {
		return dst, fmt.Errorf("%w: %d does not fit %s", ErrRange, v, k)
	}
	return AppendUint(dst, k, uint64(v), o)
}

// AppendUint appends v as an integer of kind k in order o, with a range
// check like AppendInt.
func AppendUint(dst []byte, k Kind, v uint64, o Order) ([]byte, error) {
	if k.Float() {
		return AppendFloat(dst, k, float64(v), o)
	}
	size := k.Size()
	if size == 0 {
		return dst, ErrNotNumeric
	}
	bits := uint(size * 8)
	limit := uint64(math.MaxUint64)
	if k.Signed() {
		limit = 1<<(bits-1) - 1
	} else if bits < 64 {
		limit = 1<<bits - 1
	}
	if v > limit {
		return dst, fmt.Errorf("%w: %d does not fit %s", ErrRange, v, k)
	}
	return appendRaw(dst, size, v, o), nil
}

// AppendFloat appends v as a float of kind k in order o. A finite value too
// large for the kind is an ErrRange error (as Python's struct.pack). For
// an integer kind v is truncated toward zero first.
func AppendFloat(dst []byte, k Kind, v float64, o Order) ([]byte, error) {
	switch k {
	case Float16:
		h, ok := floatToHalf(v)
		if !ok {
			return dst, fmt.Errorf("%w: %g does not fit %s", ErrRange, v, k)
		}
		return appendRaw(dst, 2, uint64(h), o), nil
	case Float32:
		f := float32(v)
		if math.IsInf(float64(f), 0) && !math.IsInf(v, 0) {
			return dst, fmt.Errorf("%w: %g does not fit %s", ErrRange, v, k)
		}
		return appendRaw(dst, 4, uint64(math.Float32bits(f)), o), nil
	case Float64:
		return appendRaw(dst, 8, math.Float64bits(v), o), nil
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dst, fmt.Errorf("%w: %g does not fit %s", ErrRange, v, k)
	}
	t := math.Trunc(v)
	if k.Signed() || t < 0 {
		if t < -(1<<63) || t >= 1<<63 {
			return dst, fmt.Errorf("%w: %g does not fit %s", ErrRange, v, k)
		}
		return AppendInt(dst, k, int64(t), o)
	}
	if t >= 1<<64 {
		return dst, fmt.Errorf("%w: %g does not fit %s", ErrRange, v, k)
	}
	return AppendUint(dst, k, uint64(t), o)
}
