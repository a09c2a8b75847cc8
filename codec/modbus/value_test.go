package modbus

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/tbgw/tbgw/codec/binary"
)

var pattern = []bool{true, false, true, true, false, false, false, true, false, true, true, false, true, false, false, true, true, true, false, false, true, false, true, false}

// The expected values below were computed with pymodbus'
// BinaryPayloadDecoder (fromCoils/fromRegisters, decode_bits twice and the
// slice of the upstream converter) for the same inputs.
func TestDecodeBitsQuirk(t *testing.T) {
	for _, c := range []struct {
		fc    byte
		n     int
		bit   int
		asInt bool
		order binary.Endian
		kind  binary.Kind
		in    any // []bool coils or []uint16 registers
		want  any
	}{
		{1, 1, -1, false, binary.Big, binary.Bits, pattern[:1], true},
		{1, 3, -1, false, binary.Big, binary.Bits, []bool{true, true, false}, json.RawMessage(`[false,true,true]`)},
		{1, 8, -1, false, binary.Big, binary.Bits, pattern[:8], json.RawMessage(`[true,false,false,false,true,true,false,true]`)},
		{1, 10, -1, false, binary.Big, binary.Bits, pattern[:10], json.RawMessage(`[false,true,false,false,false,false,false,false,true,false]`)},
		{1, 16, -1, false, binary.Big, binary.Bits, pattern[:16], json.RawMessage(`[true,false,false,false,true,true,false,true,true,false,false,true,false,true,true,false]`)},
		{1, 20, -1, false, binary.Big, binary.Bits, pattern[:20], json.RawMessage(`[false,true,true,false]`)},
		{1, 24, -1, false, binary.Big, binary.Bits, pattern[:24], json.RawMessage(`[true,false,false,true,false,true,true,false]`)},
		{2, 8, 0, false, binary.Big, binary.Bits, pattern[:8], int64(1)},
		{2, 8, 3, false, binary.Big, binary.Bits, pattern[:8], int64(0)},
		{1, 16, 9, false, binary.Big, binary.Bits, pattern[:16], int64(0)},
		{1, 3, 7, false, binary.Big, binary.Bits, pattern[:3], int64(1)},
		{1, 16, -1, false, binary.Big, binary.Int16, pattern[:16], int64(-20119)},
		{1, 16, -1, false, binary.Little, binary.Int16, pattern[:16], int64(27057)},
		{3, 1, -1, true, binary.Big, binary.Bits, []uint16{0xA5C3}, int64(1)},
		{3, 2, -1, true, binary.Big, binary.Bits, []uint16{0xA5C3}, json.RawMessage(`[1,1]`)},
		{3, 8, -1, true, binary.Big, binary.Bits, []uint16{0xA5C3}, json.RawMessage(`[1,1,0,0,0,0,1,1]`)},
		{3, 16, -1, true, binary.Big, binary.Bits, []uint16{0xA5C3}, json.RawMessage(`[1,0,1,0,0,1,0,1,1,1,0,0,0,0,1,1]`)},
		{3, 17, -1, true, binary.Big, binary.Bits, []uint16{0xA5C3}, json.RawMessage(`[1]`)},
		{3, 40, -1, true, binary.Big, binary.Bits, []uint16{0xA5C3}, json.RawMessage(`[1,0,1,0,0,1,0,1,1,1,0,0,0,0,1,1]`)},
		{3, 16, 0, false, binary.Big, binary.Bits, []uint16{0xA5C3}, int64(1)},
		{3, 16, 9, false, binary.Big, binary.Bits, []uint16{0xA5C3}, int64(1)},
		{3, 4, 10, false, binary.Big, binary.Bits, []uint16{0xA5C3}, int64(1)},
	} {
		tag := Tag{Key: "k", Kind: c.kind, Function: c.fc, Count: c.n, Bit: c.bit, BitAsInt: c.asInt, Round: 6}
		var r Reading
		switch in := c.in.(type) {
		case []bool:
			r.Bits = in
		case []uint16:
			r.Regs = in
		}
		got, err := tag.Decode(r, binary.Order{Byte: c.order})
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("fc %d n %d bit %d %v: got %s, want %s", c.fc, c.n, c.bit, c.kind, show(got), show(c.want))
		}
	}
}

func show(v any) string {
	if r, ok := v.(json.RawMessage); ok {
		return string(r)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Vectors of the upstream converter unit tests (big-endian builder).
func TestDecodeRegisters(t *testing.T) {
	bb := binary.Order{}
	for _, c := range []struct {
		typ   string
		n     int
		regs  []uint16
		div   float64
		mul   float64
		mulI  bool
		order binary.Order
		want  any
	}{
		{"string", 4, []uint16{0x6162, 0x6364, 0x6566, 0x6768}, 0, 0, false, bb, "abcdefgh"},
		{"string", 2, []uint16{0x4F4E, 0x0000}, 0, 0, false, bb, "ON\x00\x00"},
		{"string", 1, []uint16{0xFFFE}, 0, 0, false, bb, "fffe"},
		{"bytes", 2, []uint16{0x0102, 0xABCD}, 0, 0, false, bb, "0102abcd"},
		{"8int", 1, []uint16{0xEE00}, 0, 0, false, bb, int64(-18)},
		{"8uint", 1, []uint16{0x1200}, 0, 0, false, bb, int64(18)},
		{"16int", 1, []uint16{0xA988}, 0, 0, false, bb, int64(-22136)},
		{"long", 1, []uint16{0xA988}, 0, 0, false, bb, int64(-22136)},
		{"long", 1, []uint16{0xA988}, 10, 0, false, bb, -2213.6},
		{"16int", 1, []uint16{0x0102}, 0, 3, true, bb, int64(774)},
		{"16int", 1, []uint16{0x0102}, 0, 0.5, false, bb, 129.0},
		{"32int", 2, []uint16{0xFFFF, 0xEDCC}, 0, 0, false, bb, int64(-4660)},
		{"64int", 4, []uint16{0xFFFF, 0xFFFF, 0x2152, 0x4111}, 0, 0, false, bb, int64(-3735928559)},
		{"16uint", 1, []uint16{0x1234}, 0, 0, false, bb, int64(4660)},
		{"32uint", 2, []uint16{0x1234, 0x5678}, 0, 0, false, bb, int64(305419896)},
		{"64uint", 4, []uint16{0x1234, 0x5678, 0xDEAD, 0xBEEF}, 0, 0, false, bb, int64(1311768468603649775)},
		{"64uint", 4, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, 0, 0, false, bb, json.RawMessage("18446744073709551615")},
		{"double", 2, []uint16{0x41B4, 0x0000}, 0, 0, false, bb, 22.5},
		{"16float", 1, []uint16{0x3CF6}, 0, 0, false, bb, 1.240234},
		{"32float", 2, []uint16{0x41B2, 0xB852}, 0, 0, false, bb, 22.34},
		{"32float", 2, []uint16{0x70A4, 0x4145}, 0, 0, false, binary.Order{Word: binary.Little}, 12.34},
		{"64float", 4, []uint16{0xC05E, 0xDCCC, 0xCCCC, 0xCCCD}, 0, 0, false, bb, -123.45},
		{"16int", 1, []uint16{0x88A9}, 0, 0, false, binary.Order{Byte: binary.Little}, int64(-22136)},
	} {
		k, err := ParseType(c.typ, c.n)
		if err != nil {
			t.Fatal(err)
		}
		tag := Tag{Key: c.typ, Kind: k, Function: 3, Count: c.n, Bit: -1, Round: 6, Divider: c.div, Multiplier: c.mul, MultiplierInt: c.mulI}
		got, err := tag.DecodeRegisters(c.regs, c.order)
		if err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %04X: got %#v, want %#v", c.typ, c.regs, got, c.want)
		}
	}
	tag := Tag{Kind: binary.Int32, Function: 3, Count: 1, Bit: -1}
	if _, err := tag.DecodeRegisters([]uint16{1}, bb); err == nil {
		t.Error("32int from one register accepted")
	}
}

func TestVariants(t *testing.T) {
	for _, c := range []struct {
		kind binary.Kind
		regs []uint16
		div  float64
		key  string
	}{
		{binary.Int16, []uint16{3}, 0, "3"},
		{binary.Int16, []uint16{30}, 10, "3.0"},
		{binary.Bits, []uint16{0x0080}, 0, "True"},
		{binary.String, []uint16{0x4F4E}, 0, "ON"},
	} {
		tag := Tag{Kind: c.kind, Function: 3, Count: 1, Bit: -1, Round: 6, Divider: c.div, Variants: map[string]any{c.key: "mapped"}}
		got, err := tag.DecodeRegisters(c.regs, binary.Order{})
		if err != nil || got != "mapped" {
			t.Errorf("%v %04X: %v %v (want key %q)", c.kind, c.regs, got, err, c.key)
		}
	}
}

func TestPython(t *testing.T) {
	for f, want := range map[float64]string{
		1: "1.0", 0.1: "0.1", 1e16: "1e+16", 1e15: "1000000000000000.0", 0.0001: "0.0001", 0.00001: "1e-05",
		-2213.6: "-2213.6", 1.5e300: "1.5e+300", 123456789.125: "123456789.125", math.Inf(-1): "-inf",
	} {
		if got := pyFloatRepr(f); got != want {
			t.Errorf("pyFloatRepr(%g) = %q, want %q", f, got, want)
		}
	}
	if s := pyStr(json.RawMessage(`[true,false]`)); s != "[True, False]" {
		t.Errorf("list repr %q", s)
	}
	for in, want := range map[string]int64{" 12 ": 12, "-3": -3, "+4": 4, "1_000": 1000} {
		n, err := pyInt(in)
		if err != nil || n.Int64() != want {
			t.Errorf("pyInt(%q) = %v %v", in, n, err)
		}
	}
	for _, in := range []any{"12.5", "", "1__0", "_1", "0x10", nil, []any{}} {
		if _, err := pyInt(in); err == nil {
			t.Errorf("pyInt(%#v) accepted", in)
		}
	}
	if _, err := pyInt("string"); err == nil || err.Error() != "invalid literal for int() with base 10: 'string'" {
		t.Errorf("pyInt error text: %v", err)
	}
	if n, _ := pyInt(json.Number("12.9")); n.Int64() != 12 {
		t.Errorf("pyInt(12.9) = %v", n)
	}
	if f, err := pyFloat(" 2.5 "); err != nil || f != 2.5 {
		t.Errorf("pyFloat: %v %v", f, err)
	}
	if pyRound(2.675, 2) != 2.67 || pyRound(0.5, 0) != 0 || pyRound(1.5, 0) != 2 {
		t.Error("pyRound")
	}
}

func TestConvert(t *testing.T) {
	d := Device{Name: "D", Order: binary.Order{}, Attributes: []Tag{{Key: "a", Kind: binary.Int16, Function: 3, Count: 1, Bit: -1}},
		Telemetry: []Tag{{Key: "t", Kind: binary.Bits, Function: 1, Count: 1, Bit: -1}, {Key: "bad", Kind: binary.Int32, Function: 3, Count: 2, Bit: -1}}}
	data, errs := d.Convert([]Reading{{Regs: []uint16{7}}}, []Reading{{Bits: []bool{true}}, {Regs: []uint16{1}}}, 1000)
	if len(errs) != 1 || len(data.Attributes) != 1 || len(data.Telemetry) != 1 {
		t.Fatalf("%+v %v", data, errs)
	}
	if data.Attributes[0].Value != int64(7) || data.Attributes[0].TS != 0 || data.Telemetry[0].Value != true || data.Telemetry[0].TS != 1000 {
		t.Fatalf("%+v", data)
	}
}

func TestParseType(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		want binary.Kind
	}{{"int", 1, binary.Int16}, {"integer", 2, binary.Int32}, {"long", 4, binary.Int64}, {"uint", 2, binary.Uint32},
		{"float", 1, binary.Float16}, {"double", 4, binary.Float64}, {"coil", 1, binary.Bits}, {"16INT", 9, binary.Int16}} {
		if got, err := ParseType(c.name, c.n); err != nil || got != c.want {
			t.Errorf("ParseType(%q, %d) = %v %v", c.name, c.n, got, err)
		}
	}
	for _, bad := range []string{"int3", "48int", "word"} {
		if _, err := ParseType(bad, 3); err == nil {
			t.Errorf("ParseType(%q, 3) accepted", bad)
		}
	}
}
