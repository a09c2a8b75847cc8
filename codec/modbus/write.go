package modbus

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/tbgw/tbgw/codec/binary"
)

// Write is a prepared write request.
type Write struct {
	Function byte // 5, 6, 15 or 16
	Address  uint16
	Regs     []uint16 // functions 6 (one register) and 16
	Bits     []bool   // functions 5 (one coil) and 15
}

// AppendPDU appends the request PDU of w.
func (w Write) AppendPDU(dst []byte) ([]byte, error) {
	switch w.Function {
	case WriteSingleCoil:
		if len(w.Bits) != 1 {
			return dst, fmt.Errorf("modbus: function 5 writes one coil, have %d", len(w.Bits))
		}
		return AppendWriteSingleCoil(dst, w.Address, w.Bits[0]), nil
	case WriteSingleRegister:
		if len(w.Regs) != 1 {
			return dst, fmt.Errorf("modbus: function 6 writes one register, have %d", len(w.Regs))
		}
		return AppendWriteSingleRegister(dst, w.Address, w.Regs[0]), nil
	case WriteMultipleCoils:
		return AppendWriteMultipleCoils(dst, w.Address, w.Bits)
	case WriteMultipleRegisters:
		return AppendWriteMultipleRegisters(dst, w.Address, w.Regs)
	}
	return dst, fmt.Errorf("modbus: function %d is not a write", w.Function)
}

// String describes w for logs.
func (w Write) String() string {
	if w.Bits != nil {
		return fmt.Sprintf("fc%d@%d bits %v", w.Function, w.Address, w.Bits)
	}
	return fmt.Sprintf("fc%d@%d regs %04X", w.Function, w.Address, w.Regs)
}

// EncodeWrite converts value (as decoded from JSON with UseNumber: nil,
// bool, json.Number, string, []any; Go numbers are accepted too) into the
// write request of tag t (Function 5, 6, 15 or 16) with byte/word order o,
// following the upstream gateway's downlink converter
// (pymodbus' BinaryPayloadBuilder):
//
//   - Integer types take Python's int(value), floats float(value); the
//     value is laid out per package binary and split into registers.
//     8-bit values fill the high byte of one register.
//   - "string" is the UTF-8 bytes of the value, "bytes" a hex string.
//   - "bits" with objectsCount 1 is int(value): the coil is on when it is
//     not 0, a register gets the number. With several bits the value is a
//     list, a string of 0/1 digits or an integer whose binary digits
//     (most significant first) are the bits.
//
// Then by function:
//
//   - 6 writes the first register only (as upstream, also for 32/64-bit
//     types; use 16 for those).
//   - 16 writes all registers of a numeric value; strings and bytes are cut
//     or zero-padded to objectsCount registers.
//   - 5 writes one coil: for bits the coil at the address, else on when the
//     numeric value is not 0.
//   - 15 writes bits so that a function 1 read of the same tag reads the
//     same list back: within each group of eight the order is reversed
//     (upstream's coil quirk, see DecodeBits); other types write each
//     register as 16 coils, most significant bit first (upstream to_coils).
func (t *Tag) EncodeWrite(value any, o binary.Order) (Write, error) {
	w, err := t.encodeWrite(value, o)
	if err == nil && t.Repack && o.Byte == binary.Little {
		// pymodbus' BinaryPayloadBuilder(repack=True) reads each register
		// back in the byte order: numbers lose their byte swap, strings
		// and 8-bit values gain one. Big-endian: no change; coils: none.
		for i, r := range w.Regs {
			w.Regs[i] = r>>8 | r<<8
		}
	}
	return w, err
}

func (t *Tag) encodeWrite(value any, o binary.Order) (Write, error) {
	w := Write{Function: t.Function, Address: t.Address}
	switch t.Function {
	case WriteSingleCoil, WriteSingleRegister, WriteMultipleCoils, WriteMultipleRegisters:
	default:
		return w, fmt.Errorf("function %d is not a write", t.Function)
	}
	if t.Kind == binary.Bits {
		return t.encodeBits(w, value)
	}
	var b []byte
	var err error
	switch {
	case t.Kind == binary.String:
		s, ok := value.(string)
		if !ok {
			if value == nil {
				return w, fmt.Errorf("string value expected, got null")
			}
			s = fmt.Sprint(value)
		}
		b = []byte(s)
	case t.Kind == binary.Bytes:
		s, _ := value.(string)
		if b, err = hex.DecodeString(strings.TrimSpace(s)); err != nil || value == nil {
			return w, fmt.Errorf("bytes value must be a hex string, got %v", value)
		}
	case t.Kind.Float():
		f, err := pyFloat(value)
		if err != nil {
			return w, err
		}
		if b, err = binary.AppendFloat(nil, t.Kind, f, o); err != nil {
			return w, err
		}
	case t.Kind.Numeric():
		n, err := pyInt(value)
		if err != nil {
			return w, err
		}
		if b, err = appendBig(nil, t.Kind, n, o); err != nil {
			return w, err
		}
	default:
		return w, fmt.Errorf("type %v cannot be written", t.Kind)
	}
	regs := binary.Words(nil, b)
	if (t.Kind == binary.String || t.Kind == binary.Bytes) && t.Function != WriteSingleRegister {
		n := max(t.Count, 1)
		if len(regs) > n {
			regs = regs[:n]
		}
		for len(regs) < n {
			regs = append(regs, 0)
		}
	}
	if len(regs) == 0 {
		regs = []uint16{0}
	}
	switch t.Function {
	case WriteSingleRegister:
		w.Regs = regs[:1]
	case WriteMultipleRegisters:
		w.Regs = regs
	case WriteSingleCoil:
		on := false
		for _, r := range regs {
			on = on || r != 0
		}
		if t.Kind == binary.String || t.Kind == binary.Bytes {
			on = len(b) > 0
		}
		w.Bits = []bool{on}
	case WriteMultipleCoils:
		w.Bits = make([]bool, 0, 16*len(regs))
		for _, r := range regs {
			for i := 15; i >= 0; i-- {
				w.Bits = append(w.Bits, r&(1<<i) != 0)
			}
		}
	}
	return w, nil
}

func appendBig(dst []byte, k binary.Kind, n *big.Int, o binary.Order) ([]byte, error) {
	if n.IsInt64() {
		return binary.AppendInt(dst, k, n.Int64(), o)
	}
	if n.IsUint64() {
		return binary.AppendUint(dst, k, n.Uint64(), o)
	}
	return dst, fmt.Errorf("%w: %s does not fit %s", binary.ErrRange, n, k)
}

func (t *Tag) encodeBits(w Write, value any) (Write, error) {
	count := max(t.Count, 1)
	if count == 1 {
		if l, ok := value.([]any); ok && len(l) == 1 {
			value = l[0]
		}
		n, err := pyInt(value)
		if err != nil {
			return w, err
		}
		switch t.Function {
		case WriteSingleCoil, WriteMultipleCoils:
			w.Bits = []bool{n.Sign() != 0}
		default:
			if n.Sign() < 0 || n.BitLen() > 16 {
				return w, fmt.Errorf("%w: %s does not fit a register", binary.ErrRange, n)
			}
			w.Regs = []uint16{uint16(n.Uint64())}
		}
		return w, nil
	}
	bits, err := bitList(value)
	if err != nil {
		return w, err
	}
	if len(bits) == 0 {
		return w, fmt.Errorf("empty bits value")
	}
	switch t.Function {
	case WriteSingleRegister, WriteMultipleRegisters:
		regs := binary.Words(nil, binary.PackBits(nil, bits))
		if t.Function == WriteSingleRegister {
			regs = regs[:1]
		}
		w.Regs = regs
		return w, nil
	}
	list := make([]bool, count)
	copy(list, bits)
	coils := make([]bool, count)
	for i := range list {
		coils[CoilOffset(i, count)] = list[i]
	}
	if t.Function == WriteSingleCoil {
		coils = coils[:1]
	}
	w.Bits = coils
	return w, nil
}

// CoilOffset maps position i of a bits list of n entries to the offset of
// the coil it stands for under the upstream coil order quirk: the list is
// split into groups of eight (the last may be shorter) and each group is
// reversed. The mapping is its own inverse.
func CoilOffset(i, n int) int {
	g := i / 8 * 8
	size := min(8, n-g)
	return g + size - 1 - (i - g)
}

// bitList turns a written bits value into a list.
func bitList(v any) ([]bool, error) {
	switch x := v.(type) {
	case []any:
		out := make([]bool, len(x))
		for i, e := range x {
			n, err := pyInt(e)
			if err != nil {
				return nil, err
			}
			out[i] = n.Sign() != 0
		}
		return out, nil
	case []bool:
		return x, nil
	case string:
		s := strings.TrimSpace(x)
		out := make([]bool, 0, len(s))
		for _, c := range s {
			switch c {
			case '0':
				out = append(out, false)
			case '1':
				out = append(out, true)
			default:
				return nil, fmt.Errorf("bits string %q: want 0 and 1 digits", x)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("empty bits string")
		}
		return out, nil
	case nil, map[string]any:
		return nil, fmt.Errorf("bits value must be a list, a 0/1 string or an integer, not %s", pyTypeName(v))
	}
	n, err := pyInt(v)
	if err != nil {
		return nil, err
	}
	if n.Sign() < 0 {
		return nil, fmt.Errorf("bits value %s is negative", n)
	}
	s := n.Text(2)
	out := make([]bool, len(s))
	for i := range s {
		out[i] = s[i] == '1'
	}
	return out, nil
}

// ParseValue decodes a JSON value the way EncodeWrite expects it (numbers
// as json.Number).
func ParseValue(raw []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
