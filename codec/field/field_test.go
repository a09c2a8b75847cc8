package field

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]Field{
		"4:1:int":                {Start: 4, Length: 1, Type: Int},
		"4:2:big:int":            {Start: 4, Length: 2, Type: Int},
		"4:2:little:int":         {Start: 4, Length: 2, Little: true, Type: Int},
		"0:2:little:long:signed": {Start: 0, Length: 2, Little: true, Type: Int, Signed: true},
		"1:1:bool":               {Start: 1, Length: 1, Type: Bool},
		"0:4:float":              {Start: 0, Length: 4, Type: Float},
		"0:8:little:double":      {Start: 0, Length: 8, Little: true, Type: Float},
		"0:-1:string":            {Start: 0, Length: -1, Type: String, Encoding: "ascii"},
		"2:3:string:utf-8":       {Start: 2, Length: 3, Type: String, Encoding: "utf-8"},
		"0:-1:raw":               {Start: 0, Length: -1, Type: Raw, Encoding: "ascii"},
	}
	for spec, want := range good {
		got, err := Parse(spec)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, bad := range []string{"", "4", "4:1", "4:1:middle:int", "4:0:int", "x:1:int", "4:9:int", "4:3:float",
		"4:1:int:maybe", "4:1:string:ebcdic", "4:1:bool:x", "4:1:int:signed:extra:x", "100:1:int", "4:-2:int"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
	c, err := ParseCommand("2:2:big:8717")
	if err != nil || c != (Command{Start: 2, Length: 2, Value: 8717}) {
		t.Errorf("ParseCommand: %+v %v", c, err)
	}
	if !c.Match([]byte{0, 0, 0x22, 0x0d, 9}) || c.Match([]byte{0, 0, 0x0d, 0x22}) || c.Match([]byte{0, 0, 0x22}) {
		t.Error("Match")
	}
	for _, bad := range []string{"2:2:256:1", "2:1:256", "2:2:mid:1", "2:9:1", "a:1:1", "1:1:-1"} {
		if _, err := ParseCommand(bad); err == nil {
			t.Errorf("ParseCommand(%q): no error", bad)
		}
	}
}

// Vectors follow upstream's CAN converter tests (int.from_bytes,
// struct.unpack, bytes.decode) and the sample can.json.
func TestDecodeEncode(t *testing.T) {
	tests := []struct {
		spec string
		data []byte
		want any
	}{
		{"1:1:bool", []byte{0, 1, 0}, true},
		{"1:1:bool", []byte{1, 0, 1}, false},
		{"4:1:int", []byte{0, 0, 0, 0, 0x05}, int64(5)},
		{"4:2:big:int", []byte{0xaa, 0xaa, 0xbb, 0xbb, 0x12, 0x34}, int64(0x1234)},
		{"4:2:little:int", []byte{0xaa, 0xaa, 0xbb, 0xbb, 0x12, 0x34}, int64(0x3412)},
		{"0:2:big:int:signed", []byte{0x80, 0x00}, int64(-32768)},
		{"0:2:little:int:signed", []byte{0xff, 0xff}, int64(-1)},
		{"0:2:little:int", []byte{0xff, 0xff}, int64(65535)},
		{"0:1:int:signed", []byte{0x80}, int64(-128)},
		{"0:3:big:int:signed", []byte{0xff, 0xff, 0xfe}, int64(-2)},
		{"0:8:big:long:signed", []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, int64(math.MinInt64)},
		{"0:8:little:long", []byte{1, 2, 3, 4, 5, 6, 7, 8}, int64(0x0807060504030201)},
		{"0:4:big:float", []byte{0x41, 0x45, 0x70, 0xa4}, float64(float32(12.34))},
		{"0:4:little:float", []byte{0xa4, 0x70, 0x45, 0x41}, float64(float32(12.34))},
		{"0:8:big:double", []byte{0xc0, 0x5e, 0xdc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcd}, -123.45},
		{"0:8:little:double", []byte{0xcd, 0xcc, 0xcc, 0xcc, 0xcc, 0xdc, 0x5e, 0xc0}, -123.45},
		{"0:2:big:float", []byte{0x3c, 0xf6}, 1.240234375},
		{"0:2:little:float", []byte{0xf6, 0x3c}, 1.240234375},
		{"0:2:big:float", []byte{0x7c, 0x00}, math.Inf(1)},
		{"0:2:big:float", []byte{0x00, 0x01}, 5.960464477539063e-08},
		{"0:-1:string", []byte("abcd"), "abcd"},
		{"1:3:string:utf-8", []byte("xh\xc3\xa9"), "hé"},
		{"0:-1:string:latin-1", []byte{'c', 0xe9}, "cé"},
		{"0:-1:string:utf-16le", []byte{'h', 0, 0xe9, 0}, "hé"},
		{"0:-1:string:utf-16be", []byte{0, 'h', 0, 0xe9}, "hé"},
		{"0:-1:raw", []byte{0xaa, 0x0b}, "aa0b"},
	}
	for _, tc := range tests {
		f, err := Parse(tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		got, err := f.Decode(tc.data)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s on % x: got %#v, %v; want %#v", tc.spec, tc.data, got, err, tc.want)
			continue
		}
		// Round trip: encoding the value gives the field's bytes back.
		enc, err := f.Encode(got)
		want, _ := f.bytes(tc.data)
		if f.Type == Bool {
			want = []byte{want[0]}
		}
		if err != nil || !bytes.Equal(enc, want) {
			t.Errorf("%s: Encode(%#v) = % x, %v; want % x", tc.spec, got, enc, err, want)
		}
	}
	short, _ := Parse("4:2:int")
	if _, err := short.Decode([]byte{1, 2, 3, 4, 5}); err == nil {
		t.Error("short frame: no error")
	}
	if _, err := (Field{Start: 0, Length: 1, Type: String, Encoding: "ascii"}).Decode([]byte{0xff}); err == nil {
		t.Error("non-ASCII: no error")
	}
}

// TestIntTable round-trips every integer size, order and signedness.
func TestIntTable(t *testing.T) {
	for n := 1; n <= 8; n++ {
		for _, little := range []bool{false, true} {
			for _, signed := range []bool{false, true} {
				bits := uint(8 * n)
				var vals []int64
				if signed {
					lo := int64(math.MinInt64)
					if bits < 64 {
						lo = -(1 << (bits - 1))
					}
					vals = []int64{lo, -1, 0, 1, -lo - 1}
				} else {
					hi := int64(math.MaxInt64)
					if bits < 64 {
						hi = 1<<bits - 1
					}
					vals = []int64{0, 1, hi}
				}
				f := Field{Length: n, Little: little, Type: Int, Signed: signed}
				for _, v := range vals {
					b, err := f.Encode(v)
					if err != nil {
						t.Fatalf("%+v Encode(%d): %v", f, v, err)
					}
					got, err := f.Decode(b)
					if err != nil || got != v {
						t.Errorf("%+v: %d -> % x -> %v, %v", f, v, b, got, err)
					}
				}
				if bits < 64 && !signed {
					if _, err := f.Encode(int64(1) << bits); err == nil {
						t.Errorf("%+v: overflow accepted", f)
					}
				}
			}
		}
	}
	// Upstream: a negative value is encoded signed even without dataSigned.
	b, err := EncodeInt(-1, 2, false, false)
	if err != nil || !bytes.Equal(b, []byte{0xff, 0xff}) {
		t.Errorf("EncodeInt(-1) = % x %v", b, err)
	}
	if _, err := EncodeInt(200, 1, false, true); err == nil {
		t.Error("200 fits a signed byte?")
	}
}

func TestFloatTable(t *testing.T) {
	for _, n := range []int{2, 4, 8} {
		for _, little := range []bool{false, true} {
			f := Field{Length: n, Little: little, Type: Float}
			for _, v := range []float64{0, 1, -2.5, 65504, 0.5, math.Inf(-1), 6.103515625e-05} {
				b, err := f.Encode(v)
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.Decode(b)
				if err != nil || got != v {
					t.Errorf("%+v: %v -> % x -> %v", f, v, b, got)
				}
			}
		}
	}
	// Rounding to half precision: nearest even.
	if h := floatToHalf(1.0009765625 + 0.00048828125); h != 0x3c02 && h != 0x3c01 {
		t.Errorf("half rounding: %#x", h)
	}
	if h := floatToHalf(1e6); h != 0x7c00 {
		t.Errorf("half overflow: %#x", h)
	}
	if v := halfToFloat(floatToHalf(float32(math.NaN()))); v == v {
		t.Error("NaN lost")
	}
}

func TestStrings(t *testing.T) {
	for _, enc := range []string{"ascii", "utf-8", "latin-1", "utf-16", "utf-16le", "utf-16be"} {
		s := "abc"
		if enc != "ascii" {
			s = "abé"
		}
		b, err := EncodeString(s, enc, false)
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		got, err := decodeString(b, enc, false)
		if err != nil || got != s {
			t.Errorf("%s: %q -> % x -> %q %v", enc, s, b, got, err)
		}
	}
	if _, err := EncodeString("é", "ascii", false); err == nil {
		t.Error("ascii accepted é")
	}
	b, err := ParseHex("aa bb cc dd ee ff    aa bb")
	if err != nil || len(b) != 8 {
		t.Errorf("ParseHex: % x %v", b, err)
	}
	if _, err := ParseHex("aa bb cc d"); err == nil {
		t.Error("odd hex accepted")
	}
}

func TestBits(t *testing.T) {
	data := []byte{0b1010_0100, 0b0000_0011}
	for _, tc := range []struct {
		start, n int
		want     uint64
	}{
		{2, 1, 1}, {0, 3, 0b100}, {4, 4, 0b1010}, {7, 3, 0b111}, {0, 16, 0x03a4},
	} {
		got, err := Bits(data, tc.start, tc.n)
		if err != nil || got != tc.want {
			t.Errorf("Bits(%d,%d) = %b %v want %b", tc.start, tc.n, got, err, tc.want)
		}
		out := make([]byte, 2)
		if err := SetBits(out, tc.start, tc.n, tc.want); err != nil {
			t.Fatal(err)
		}
		back, _ := Bits(out, tc.start, tc.n)
		if back != tc.want {
			t.Errorf("SetBits round trip %d,%d", tc.start, tc.n)
		}
	}
	if _, err := Bits(data, 10, 7); err == nil {
		t.Error("out of range accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("4:2:little:int:signed", []byte{1, 2, 3, 4, 5, 6})
	f.Add("0:2:float", []byte{0x3c, 0})
	f.Add("0:-1:string:utf-16", []byte{0xff, 0xfe, 'a', 0})
	f.Fuzz(func(t *testing.T, spec string, data []byte) {
		fl, err := Parse(spec)
		if err != nil {
			return
		}
		v, err := fl.Decode(data)
		if err != nil {
			return
		}
		b, err := fl.Encode(v)
		if err != nil {
			return
		}
		// Whatever encodes must decode to the same value.
		v2, err := fl.Decode(append(make([]byte, fl.Start), b...))
		if err != nil {
			t.Fatalf("%s: re-decode of % x: %v", spec, b, err)
		}
		if fv, ok := v.(float64); ok && fv != fv {
			return
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("%s: %#v -> % x -> %#v", spec, v, b, v2)
		}
	})
}
