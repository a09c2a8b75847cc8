package gw

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// decodeExact decodes like json.Unmarshal, except that numbers a float64
// cannot hold exactly stay json.Number: integers beyond ±2^53 (a 64-bit
// register or counter written from ThingsBoard keeps every digit, as
// upstream's Python ints do) and numbers out of float64 range. Everything
// else is a float64, as connectors expect.
func decodeExact(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// exactNumbers converts, in place, the json.Number values decodeExact left
// in m and its nested maps and slices.
func exactNumbers(m map[string]any) map[string]any {
	for k, v := range m {
		m[k] = exactValue(v)
	}
	return m
}

func exactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return exactNumbers(x)
	case []any:
		for i := range x {
			x[i] = exactValue(x[i])
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
