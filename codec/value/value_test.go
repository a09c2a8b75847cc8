package value

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func TestParseType(t *testing.T) {
	tests := map[string]Type{
		"int": Int, "integer": Int, "long": Int, "INT": Int, "uint": Int, "16int": Int,
		"float": Float, "double": Float, "Double": Float,
		"bool": Bool, "boolean": Bool,
		"string": String, "str": String, "raw": String, "bytes": String,
		"json": JSON, "": Auto,
	}
	for in, want := range tests {
		if got := ParseType(in); got != want {
			t.Errorf("ParseType(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestConvert(t *testing.T) {
	obj := json.RawMessage(`{"a":1}`)
	tests := []struct {
		t    Type
		in   any
		want any
		ok   bool
	}{
		{Int, "12.7", int64(12), true},
		{Int, " -12.7 ", int64(-12), true},
		{Int, "21.420000", int64(21), true},
		{Int, "1e3", int64(1000), true},
		{Int, "99999999999999999999", nil, false},
		{Int, int64(5), int64(5), true},
		{Int, 5.9, int64(5), true},
		{Int, true, int64(1), true},
		{Int, "abc", nil, false},
		{Int, math.NaN(), nil, false},
		{Int, uint16(7), int64(7), true},
		{Float, "1_000.5", 1000.5, true},
		{Float, "inf", math.Inf(1), true},
		{Float, int64(3), 3.0, true},
		{Float, "x", nil, false},
		{Float, obj, nil, false},
		{Bool, "Yes", true, true},
		{Bool, "off", false, true},
		{Bool, " T ", true, true},
		{Bool, int64(1), true, true},
		{Bool, int64(2), nil, false},
		{Bool, "maybe", nil, false},
		{String, 21.0, "21.0", true},
		{String, 1e16, "1e+16", true},
		{String, 1.5e-5, "1.5e-05", true},
		{String, 0.1, "0.1", true},
		{String, int64(-3), "-3", true},
		{String, true, "true", true},
		{String, obj, `{"a":1}`, true},
		{String, []byte("b"), "b", true},
		{JSON, obj, obj, true},
		{Auto, "x", "x", true},
		{String, nil, nil, false},
		{Int, json.RawMessage("null"), nil, false},
	}
	for _, tc := range tests {
		got, ok := Convert(tc.t, tc.in)
		if ok != tc.ok || (ok && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("Convert(%v, %#v) = %#v, %v; want %#v, %v", tc.t, tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got := Coerce(Int, "abc"); got != "abc" {
		t.Errorf("Coerce fallback: %#v", got)
	}
	if got := Coerce(Int, nil); got != nil {
		t.Errorf("Coerce nil: %#v", got)
	}
}

func TestFloatText(t *testing.T) {
	tests := map[float64]string{
		21.5: "21.5", 100: "100.0", 1e16: "1e+16", 9999999999999998: "9999999999999998.0",
		0.0001: "0.0001", 0.00001: "1e-05", math.NaN(): "nan", math.Inf(-1): "-inf", 123456.789: "123456.789",
	}
	for f, want := range tests {
		if got := string(AppendFloat(nil, f)); got != want {
			t.Errorf("AppendFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func FuzzConvert(f *testing.F) {
	for _, s := range []string{"12.7", " -1e3 ", "yes", "1_0", "inf", "99999999999999999999", ""} {
		f.Add(s, "int")
	}
	f.Fuzz(func(t *testing.T, s, typ string) {
		ty := ParseType(typ)
		v, ok := Convert(ty, s)
		if ok && ty != Auto && ty != JSON {
			switch v.(type) {
			case int64, float64, bool, string:
			default:
				t.Fatalf("Convert(%v, %q) = %T", ty, s, v)
			}
		}
		_ = Coerce(ty, s)
		_ = Text(v)
	})
}
