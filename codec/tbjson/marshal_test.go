package tbjson

import (
	"encoding/json"
	"math"
	"testing"
)

// RPC replies keep floats floats (upstream's json.dumps), whatever shape
// the connector builds them in.
func TestMarshalKeepsFloats(t *testing.T) {
	type item struct {
		A float64 `json:"a"`
	}
	cases := []struct {
		in   any
		want string
	}{
		{map[string]any{"result": map[string]any{"value": 25.0}}, `{"result":{"value":25.0}}`},
		{map[string]any{"b": int64(25), "a": math.Copysign(0, -1)}, `{"a":-0.0,"b":25}`},
		{[]any{1.5, int64(2), true, "x", nil}, `[1.5,2,true,"x",null]`},
		{[]float64{1, 2.5}, `[1.0,2.5]`},
		{[]float32{3}, `[3.0]`},
		{map[string]float64{"v": 1e16}, `{"v":1e+16}`},
		{map[string]any{"v": math.NaN()}, `{"v":null}`},
		{[]bool{true, false}, `[true,false]`},
		{[]int64{1, -2}, `[1,-2]`},
		{json.RawMessage(`{"x":1}`), `{"x":1}`},
		{[]byte("hi"), `"aGk="`},
		{item{A: 2}, `{"a":2}`}, // structs: encoding/json's rendering
		{map[int]string{1: "a"}, `{"1":"a"}`},
		{(*int)(nil), `null`},
		{[]any(nil), `null`},
	}
	for _, c := range cases {
		got, err := Marshal(c.in)
		if err != nil {
			t.Fatalf("%#v: %v", c.in, err)
		}
		if string(got) != c.want {
			t.Errorf("Marshal(%#v) = %s, want %s", c.in, got, c.want)
		}
	}
	if _, err := Marshal(map[string]any{"c": make(chan int)}); err == nil {
		t.Error("a channel marshalled without error")
	}
}
