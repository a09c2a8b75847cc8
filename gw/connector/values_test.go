package connector

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A 64-bit value written from ThingsBoard keeps every digit (upstream's
// Python ints do); ordinary numbers stay float64 for the connectors.
func TestDecodeExact(t *testing.T) {
	var m map[string]any
	in := `{"u64":17275436396653061650,"i64":-1243365278113335247,"small":25,"f":0.5,"big":1e400,
	        "edge":9007199254740992,"over":9007199254740993,"nested":{"a":[1,12345678901234567890]}}`
	if err := DecodeExact([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	got := Exact(m)
	want := map[string]any{
		"u64": json.Number("17275436396653061650"), "i64": json.Number("-1243365278113335247"),
		"small": 25.0, "f": 0.5, "big": json.Number("1e400"),
		"edge": 9007199254740992.0, "over": json.Number("9007199254740993"),
		"nested": map[string]any{"a": []any{1.0, json.Number("12345678901234567890")}},
	}
	if !reflect.DeepEqual(got, any(want)) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}
