package connector

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// DecodeExact decodes values from ThingsBoard the way connectors receive
// them (see AttributeHandler): like json.Unmarshal with UseNumber; Exact
// then turns the numbers into float64 except those a float64 cannot hold
// exactly: integers beyond ±2^53 (a 64-bit register or counter written
// from ThingsBoard keeps every digit, as upstream's Python ints do) and
// numbers out of float64 range, which stay json.Number.
func DecodeExact(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// Exact converts, in place, the json.Number values DecodeExact left in v
// and its nested maps and slices, and returns v.
func Exact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = Exact(e)
		}
		return x
	case []any:
		for i := range x {
			x[i] = Exact(x[i])
		}
		return x
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return x // out of range: keep the digits
		}
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			if i > 1<<53 || i < -(1<<53) {
				return x
			}
			return f
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil && u > 1<<53 {
			return x
		}
		if math.IsInf(f, 0) {
			return x
		}
		return f
	}
	return v
}
