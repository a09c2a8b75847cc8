package bacnet

import (
	"bytes"
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestApplicationValues(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		v    Value
		want string
	}{
		{nil, "00"},
		{false, "10"},
		{true, "11"},
		{uint64(0), "2100"},
		{uint64(255), "21ff"},
		{uint64(256), "220100"},
		{uint64(1 << 32), "25050100000000"},
		{int64(-1), "31ff"},
		{int64(128), "320080"},
		{int64(-129), "32ff7f"},
		{float32(21.5), "4441ac0000"},
		{float64(-2.5), "5508c004000000000000"},
		{[]byte{1, 2, 3}, "63010203"},
		{"Zone", "7505005a6f6e65"},
		{NewBitString(false, true, false, false), "820440"},
		{Enumerated(62), "913e"},
		{Date{Year: 2024, Month: 3, Day: 15, Wday: 5}, "a47c030f05"},
		{Time{13, 5, 0, 255}, "b40d0500ff"},
		{ObjectID{AnalogInput, 1}, "c400000001"},
		{ObjectID{DeviceType, MaxInstance}, "c4023fffff"},
		{Context{Tag: 3, Data: []byte{9}}, "3909"},
		{Context{Tag: 20, Data: []byte{1, 2}}, "fa14 0102"},
		{Constructed{Tag: 0, Values: []Value{float32(1), Constructed{Tag: 30, Values: []Value{nil}}}}, "0e 443f800000 fe1e 00 ff1e 0f"},
	}
	for _, c := range cases {
		got, err := AppendValue(nil, c.v)
		if err != nil {
			t.Errorf("%#v: %v", c.v, err)
			continue
		}
		if want := h(c.want); !bytes.Equal(got, want) {
			t.Errorf("%#v: % X, want % X", c.v, got, want)
		}
		back, n, err := DecodeValue(got)
		if err != nil || n != len(got) {
			t.Errorf("%#v: decode %v (%d of %d)", c.v, err, n, len(got))
			continue
		}
		if !reflect.DeepEqual(back, c.v) {
			t.Errorf("%#v: decoded %#v", c.v, back)
		}
	}
	// Extended lengths: 254 (2 octets) and 255 (4 octets) forms.
	b, _ := AppendValue(nil, long)
	if !bytes.Equal(b[:4], h("75fe012d")) {
		t.Errorf("long string header % X", b[:4])
	}
	if v, _, err := DecodeValue(b); err != nil || v != long {
		t.Errorf("long string: %v", err)
	}
	big := make([]byte, 70000)
	b, _ = AppendValue(nil, big)
	if !bytes.Equal(b[:6], h("65ff00011170")) {
		t.Errorf("long octets header % X", b[:6])
	}
	if v, _, err := DecodeValue(b); err != nil || len(v.([]byte)) != 70000 {
		t.Errorf("long octets: %v", err)
	}
}

func TestCharacterSets(t *testing.T) {
	cases := map[string]string{
		"7504 00 41c3a4":            "Aä",      // UTF-8
		"7505 04 00410416":          "AЖ",      // UCS-2
		"7509 03 00000041 0001f600": "A😀",      // UCS-4
		"7503 05 41e4":              "Aä",      // ISO 8859-1
		"7503 00 41ff":              "A\uFFFD", // invalid UTF-8 is replaced, not rejected
	}
	for in, want := range cases {
		v, _, err := DecodeValue(h(in))
		if err != nil || v != want {
			t.Errorf("%s: %q %v", in, v, err)
		}
	}
	for _, bad := range []string{"7502 02 41", "7502 04 41", "7300", "7102 09 41"} {
		if _, _, err := DecodeValue(h(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

func TestMalformedValues(t *testing.T) {
	for _, bad := range []string{
		"", "21", "2500", "26", "3400", "4300000000", "54", "12", "8108", "8201",
		"a3000000", "b5000000000000", "c3000000", "d100", "0e", "0e1f", "1f", "0f", "f9",
		"7d", "7dfe00", "7dff000000", "09", "9500000000000000ff", "0101",
		"25ff00000001000000000000",
	} {
		if v, n, err := DecodeValue(h(bad)); err == nil && n == len(h(bad)) {
			t.Errorf("%q decoded to %#v", bad, v)
		}
	}
	deep := bytes.Repeat([]byte{0x0E}, 40)
	deep = append(deep, bytes.Repeat([]byte{0x0F}, 40)...)
	if _, _, err := DecodeValue(deep); err == nil {
		t.Error("40 nested constructed values decoded")
	}
	if _, err := AppendValue(nil, struct{}{}); err == nil {
		t.Error("encoded a struct")
	}
	if _, err := AppendValue(nil, "\xff"); err == nil {
		t.Error("encoded invalid UTF-8")
	}
	if _, err := AppendValue(nil, BitString{Len: 9, Bytes: []byte{0}}); err == nil {
		t.Error("encoded a short bit string")
	}
}

func TestNumbers(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 127, -128, 32767, -32768, 1 << 40, math.MinInt64, math.MaxInt64} {
		b, _ := AppendValue(nil, v)
		back, _, err := DecodeValue(b)
		if err != nil || back != v {
			t.Errorf("%d: %v %v", v, back, err)
		}
	}
	for _, v := range []uint64{0, 1, 255, 256, 65535, 1 << 24, math.MaxUint32, math.MaxUint64} {
		b, _ := AppendValue(nil, v)
		back, _, err := DecodeValue(b)
		if err != nil || back != v {
			t.Errorf("%d: %v %v", v, back, err)
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]ObjectType{"analogInput": AnalogInput, "analog-input": AnalogInput,
		"BINARY_VALUE": BinaryValue, "multiStateValue": MultiStateValue, "8": DeviceType, "objectType130": 130} {
		if got, err := ParseObjectType(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for in, want := range map[string]PropertyID{"presentValue": PropPresentValue, "present-value": 85,
		"objectName": 77, "statusFlags": 111, "85": 85, "property512": 512, "propertyList": 371} {
		if got, err := ParsePropertyID(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "analogue", "5000"} {
		if _, err := ParseObjectType(bad); err == nil {
			t.Errorf("object type %q parsed", bad)
		}
	}
	if _, err := ParsePropertyID("presentValu"); err == nil {
		t.Error("bad property parsed")
	}
	if AnalogValue.String() != "analogValue" || ObjectType(900).String() != "objectType900" ||
		PropPresentValue.String() != "presentValue" || PropertyID(9999).String() != "property9999" {
		t.Error("names")
	}
	if s, err := ParseSegmentation("segmented-both"); err != nil || s != SegmentedBoth || !s.CanReceive() {
		t.Error("segmentation")
	}
	if s, _ := ParseSegmentation("noSegmentation"); s.CanTransmit() || s.CanReceive() {
		t.Error("noSegmentation")
	}
}
