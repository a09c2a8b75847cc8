package binary_test

import (
	"errors"
	"math"
	"testing"

	"github.com/tbgw/tbgw/codec/binary"
)

// vectors were produced by pymodbus' BinaryPayloadBuilder (which the
// upstream gateway uses) for every byte/word order; the last column is what
// its BinaryPayloadDecoder reads back.
var vectors = []struct {
	kind      string
	in        float64
	byteOrder binary.Endian
	wordOrder binary.Endian
	regs      []uint16
	want      float64
}{
	{"8int", -18, binary.Big, binary.Big, []uint16{0xEE00}, -18},
	{"8int", -18, binary.Big, binary.Little, []uint16{0xEE00}, -18},
	{"8int", -18, binary.Little, binary.Big, []uint16{0xEE00}, -18},
	{"8int", -18, binary.Little, binary.Little, []uint16{0xEE00}, -18},
	{"8uint", 18, binary.Big, binary.Big, []uint16{0x1200}, 18},
	{"8uint", 18, binary.Big, binary.Little, []uint16{0x1200}, 18},
	{"8uint", 18, binary.Little, binary.Big, []uint16{0x1200}, 18},
	{"8uint", 18, binary.Little, binary.Little, []uint16{0x1200}, 18},
	{"16int", -22136, binary.Big, binary.Big, []uint16{0xA988}, -22136},
	{"16int", -22136, binary.Big, binary.Little, []uint16{0xA988}, -22136},
	{"16int", -22136, binary.Little, binary.Big, []uint16{0x88A9}, -22136},
	{"16int", -22136, binary.Little, binary.Little, []uint16{0x88A9}, -22136},
	{"16uint", 4660, binary.Big, binary.Big, []uint16{0x1234}, 4660},
	{"16uint", 4660, binary.Big, binary.Little, []uint16{0x1234}, 4660},
	{"16uint", 4660, binary.Little, binary.Big, []uint16{0x3412}, 4660},
	{"16uint", 4660, binary.Little, binary.Little, []uint16{0x3412}, 4660},
	{"16float", 1.24, binary.Big, binary.Big, []uint16{0x3CF6}, 1.240234375},
	{"16float", 1.24, binary.Big, binary.Little, []uint16{0x3CF6}, 1.240234375},
	{"16float", 1.24, binary.Little, binary.Big, []uint16{0xF63C}, 1.240234375},
	{"16float", 1.24, binary.Little, binary.Little, []uint16{0xF63C}, 1.240234375},
	{"32int", 305419896, binary.Big, binary.Big, []uint16{0x1234, 0x5678}, 305419896},
	{"32int", 305419896, binary.Big, binary.Little, []uint16{0x5678, 0x1234}, 305419896},
	{"32int", 305419896, binary.Little, binary.Big, []uint16{0x3412, 0x7856}, 305419896},
	{"32int", 305419896, binary.Little, binary.Little, []uint16{0x7856, 0x3412}, 305419896},
	{"32int", -4660, binary.Big, binary.Big, []uint16{0xFFFF, 0xEDCC}, -4660},
	{"32int", -4660, binary.Big, binary.Little, []uint16{0xEDCC, 0xFFFF}, -4660},
	{"32int", -4660, binary.Little, binary.Big, []uint16{0xFFFF, 0xCCED}, -4660},
	{"32int", -4660, binary.Little, binary.Little, []uint16{0xCCED, 0xFFFF}, -4660},
	{"32uint", 305419896, binary.Big, binary.Big, []uint16{0x1234, 0x5678}, 305419896},
	{"32uint", 305419896, binary.Big, binary.Little, []uint16{0x5678, 0x1234}, 305419896},
	{"32uint", 305419896, binary.Little, binary.Big, []uint16{0x3412, 0x7856}, 305419896},
	{"32uint", 305419896, binary.Little, binary.Little, []uint16{0x7856, 0x3412}, 305419896},
	{"32float", 12.34, binary.Big, binary.Big, []uint16{0x4145, 0x70A4}, 12.34000015258789},
	{"32float", 12.34, binary.Big, binary.Little, []uint16{0x70A4, 0x4145}, 12.34000015258789},
	{"32float", 12.34, binary.Little, binary.Big, []uint16{0x4541, 0xA470}, 12.34000015258789},
	{"32float", 12.34, binary.Little, binary.Little, []uint16{0xA470, 0x4541}, 12.34000015258789},
	{"32float", 22.34, binary.Big, binary.Big, []uint16{0x41B2, 0xB852}, 22.34000015258789},
	{"32float", 22.34, binary.Big, binary.Little, []uint16{0xB852, 0x41B2}, 22.34000015258789},
	{"32float", 22.34, binary.Little, binary.Big, []uint16{0xB241, 0x52B8}, 22.34000015258789},
	{"32float", 22.34, binary.Little, binary.Little, []uint16{0x52B8, 0xB241}, 22.34000015258789},
	{"64int", -3735928559, binary.Big, binary.Big, []uint16{0xFFFF, 0xFFFF, 0x2152, 0x4111}, -3735928559},
	{"64int", -3735928559, binary.Big, binary.Little, []uint16{0x4111, 0x2152, 0xFFFF, 0xFFFF}, -3735928559},
	{"64int", -3735928559, binary.Little, binary.Big, []uint16{0xFFFF, 0xFFFF, 0x5221, 0x1141}, -3735928559},
	{"64int", -3735928559, binary.Little, binary.Little, []uint16{0x1141, 0x5221, 0xFFFF, 0xFFFF}, -3735928559},
	{"64uint", 1311768468603649775, binary.Big, binary.Big, []uint16{0x1234, 0x5678, 0xDEAD, 0xBEEF}, 1311768468603649775},
	{"64uint", 1311768468603649775, binary.Big, binary.Little, []uint16{0xBEEF, 0xDEAD, 0x5678, 0x1234}, 1311768468603649775},
	{"64uint", 1311768468603649775, binary.Little, binary.Big, []uint16{0x3412, 0x7856, 0xADDE, 0xEFBE}, 1311768468603649775},
	{"64uint", 1311768468603649775, binary.Little, binary.Little, []uint16{0xEFBE, 0xADDE, 0x7856, 0x3412}, 1311768468603649775},
	{"64float", -123.45, binary.Big, binary.Big, []uint16{0xC05E, 0xDCCC, 0xCCCC, 0xCCCD}, -123.45},
	{"64float", -123.45, binary.Big, binary.Little, []uint16{0xCCCD, 0xCCCC, 0xDCCC, 0xC05E}, -123.45},
	{"64float", -123.45, binary.Little, binary.Big, []uint16{0x5EC0, 0xCCDC, 0xCCCC, 0xCDCC}, -123.45},
	{"64float", -123.45, binary.Little, binary.Little, []uint16{0xCDCC, 0xCCCC, 0xCCDC, 0x5EC0}, -123.45},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		k, ok := binary.ParseKind(v.kind)
		if !ok {
			t.Fatalf("ParseKind(%q) failed", v.kind)
		}
		o := binary.Order{Byte: v.byteOrder, Word: v.wordOrder}
		b := binary.WordBytes(nil, v.regs)
		n, err := binary.Decode(k, b, o)
		if err != nil {
			t.Fatalf("%s %v: %v", v.kind, o, err)
		}
		if got := n.Float64(); got != v.want {
			t.Errorf("decode %s %v %04X: got %v, want %v", v.kind, o, v.regs, got, v.want)
		}
		var enc []byte
		switch {
		case k.Float():
			enc, err = binary.AppendFloat(nil, k, v.in, o)
		case k == binary.Uint64:
			// float64 cannot hold the vector exactly.
			if n.Uint64() != 0x12345678DEADBEEF {
				t.Errorf("decode %s %v: got %#x", v.kind, o, n.Uint64())
			}
			enc, err = binary.AppendUint(nil, k, 0x12345678DEADBEEF, o)
		default:
			enc, err = binary.AppendInt(nil, k, int64(v.in), o)
		}
		if err != nil {
			t.Fatalf("encode %s %v: %v", v.kind, o, err)
		}
		got := binary.Words(nil, enc)
		if !equalWords(got, v.regs) {
			t.Errorf("encode %s %v %v: got %04X, want %04X", v.kind, o, v.in, got, v.regs)
		}
	}
}

func equalWords(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The verified vectors of the upstream unit tests (FC16 word order).
func TestUpstreamWriteVectors(t *testing.T) {
	for _, c := range []struct {
		kind binary.Kind
		v    float64
		word binary.Endian
		want []uint16
	}{
		{binary.Int32, 0x12345678, binary.Big, []uint16{0x1234, 0x5678}},
		{binary.Int32, 0x12345678, binary.Little, []uint16{0x5678, 0x1234}},
		{binary.Float32, 12.34, binary.Big, []uint16{0x4145, 0x70A4}},
		{binary.Float32, 12.34, binary.Little, []uint16{0x70A4, 0x4145}},
	} {
		b, err := binary.AppendFloat(nil, c.kind, c.v, binary.Order{Word: c.word})
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.Words(nil, b); !equalWords(got, c.want) {
			t.Errorf("%v %v %v: got %04X, want %04X", c.kind, c.v, c.word, got, c.want)
		}
	}
}

func TestUint64Large(t *testing.T) {
	b := binary.WordBytes(nil, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE})
	n, err := binary.Decode(binary.Uint64, b, binary.Order{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Uint64() != math.MaxUint64-1 || n.String() != "18446744073709551614" {
		t.Fatalf("got %d %s", n.Uint64(), n)
	}
}

func TestRange(t *testing.T) {
	for _, c := range []struct {
		k binary.Kind
		v int64
	}{
		{binary.Int8, 128}, {binary.Int8, -129}, {binary.Uint8, 256}, {binary.Uint8, -1},
		{binary.Int16, 32768}, {binary.Uint16, 65536}, {binary.Int32, 1 << 31}, {binary.Uint32, 1 << 32},
		{binary.Uint64, -1},
	} {
		if _, err := binary.AppendInt(nil, c.k, c.v, binary.Order{}); !errors.Is(err, binary.ErrRange) {
			t.Errorf("%v %d: err %v, want ErrRange", c.k, c.v, err)
		}
	}
	for _, c := range []struct {
		k binary.Kind
		v float64
	}{{binary.Float16, 65520}, {binary.Float32, 1e39}, {binary.Int16, 1e6}, {binary.Int64, math.NaN()}} {
		if _, err := binary.AppendFloat(nil, c.k, c.v, binary.Order{}); !errors.Is(err, binary.ErrRange) {
			t.Errorf("%v %g: err %v, want ErrRange", c.k, c.v, err)
		}
	}
	if _, err := binary.Decode(binary.Int32, []byte{1, 2}, binary.Order{}); !errors.Is(err, binary.ErrShort) {
		t.Errorf("short decode: %v", err)
	}
	if _, err := binary.Decode(binary.String, []byte{1, 2}, binary.Order{}); !errors.Is(err, binary.ErrNotNumeric) {
		t.Errorf("string decode: %v", err)
	}
}

func TestHalf(t *testing.T) {
	for _, c := range []struct {
		f     float64
		bits  uint16
		exact bool
	}{
		{0, 0x0000, true}, {1, 0x3C00, true}, {-2, 0xC000, true}, {65504, 0x7BFF, true}, {65519, 0x7BFF, false},
		{6.103515625e-05, 0x0400, true}, {5.960464477539063e-08, 0x0001, true}, {2.9802322387695312e-08, 0x0000, false},
		{math.Inf(1), 0x7C00, true}, {math.Inf(-1), 0xFC00, true}, {1.240234375, 0x3CF6, true}, {0.333251953125, 0x3555, true},
		{6.097555160522461e-05, 0x03FF, true},
	} {
		b, err := binary.AppendFloat(nil, binary.Float16, c.f, binary.Order{})
		if err != nil {
			t.Fatalf("%g: %v", c.f, err)
		}
		if got := uint16(b[0])<<8 | uint16(b[1]); got != c.bits {
			t.Errorf("encode %g: got %04X, want %04X", c.f, got, c.bits)
		}
		n, _ := binary.Decode(binary.Float16, []byte{byte(c.bits >> 8), byte(c.bits)}, binary.Order{})
		if c.exact && n.Float64() != c.f {
			t.Errorf("decode %04X: got %g, want %g", c.bits, n.Float64(), c.f)
		}
	}
	n, _ := binary.Decode(binary.Float16, []byte{0x7E, 0x00}, binary.Order{})
	if !math.IsNaN(n.Float64()) {
		t.Errorf("NaN decodes to %g", n.Float64())
	}
}

func TestBits(t *testing.T) {
	bits := []bool{true, false, true, false, false, false, false, false, true}
	b := binary.PackBits(nil, bits)
	if len(b) != 2 || b[0] != 0x05 || b[1] != 0x01 {
		t.Fatalf("PackBits: % X", b)
	}
	got := binary.UnpackBits(nil, b)
	if len(got) != 16 {
		t.Fatalf("UnpackBits len %d", len(got))
	}
	for i, v := range bits {
		if got[i] != v {
			t.Fatalf("bit %d: %v", i, got[i])
		}
	}
	if w := binary.Words(nil, []byte{1, 2, 3}); !equalWords(w, []uint16{0x0102, 0x0300}) {
		t.Fatalf("Words odd: %04X", w)
	}
}

func TestParse(t *testing.T) {
	for name, want := range map[string]binary.Kind{
		"16INT": binary.Int16, "bit": binary.Bits, "bits": binary.Bits, "string": binary.String,
		"64float": binary.Float64, "int": binary.Invalid, "": binary.Invalid,
	} {
		if got, _ := binary.ParseKind(name); got != want {
			t.Errorf("ParseKind(%q) = %v, want %v", name, got, want)
		}
	}
	if binary.IntKind(32, false) != binary.Uint32 || binary.IntKind(8, true) != binary.Int8 ||
		binary.IntKind(48, true) != binary.Invalid || binary.FloatKind(64) != binary.Float64 {
		t.Error("IntKind/FloatKind")
	}
	if _, err := binary.ParseEndian("middle"); err == nil {
		t.Error("ParseEndian accepted middle")
	}
	if e, _ := binary.ParseEndian("Little"); e != binary.Little {
		t.Error("ParseEndian Little")
	}
}

// BenchmarkDecodeFloat64 decodes a 64-bit float from four registers in
// Little/Little order, the most expensive numeric layout.
func BenchmarkDecodeFloat64(b *testing.B) {
	regs := binary.WordBytes(nil, []uint16{0xCDCC, 0xCCCC, 0xCCDC, 0x5EC0})
	o := binary.Order{Byte: binary.Little, Word: binary.Little}
	b.ReportAllocs()
	var sum float64
	for b.Loop() {
		n, err := binary.Decode(binary.Float64, regs, o)
		if err != nil {
			b.Fatal(err)
		}
		sum += n.Float64()
	}
	if sum == 0 {
		b.Fatal("zero")
	}
}
