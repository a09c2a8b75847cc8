// Package value converts decoded device values to the data-model types by
// the upstream type names of converter configurations ("int", "double",
// "bool", "string", ...).
//
// Data-model values are int64, float64, bool, string and json.RawMessage
// (an object or array, compact JSON). nil means "no value": the datapoint
// is skipped.
//
//	t := value.ParseType("integer")      // at config load
//	v, ok := value.Convert(t, "12.7")     // int64(12), true
//
// Conversions follow upstream (Python) meaning: int(float(x)) for integer
// types, float(x), truthy strings for booleans, str(x) otherwise, with two
// deliberate differences: objects and arrays become JSON text, not Python
// repr, and booleans become "true"/"false", not "True"/"False".
package value

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Type is a target type of a datapoint.
type Type uint8

// Types.
const (
	Auto   Type = iota // keep the decoded type
	Int                // int64: "int", "integer", "long", "uint", "16int", ...
	Float              // float64: "float", "double", ...
	Bool               // bool: "bool", "boolean"
	String             // string: "string", "str", "raw" and anything unknown
	JSON               // objects/arrays kept as JSON, scalars as decoded: "json"
)

func (t Type) String() string {
	switch t {
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case String:
		return "string"
	case JSON:
		return "json"
	}
	return "auto"
}

// ParseType maps an upstream type name to a Type, case-insensitively and
// by substring the way upstream does: a name containing "int" or "long" is
// Int, "float" or "double" Float, "bool" Bool; "json" is JSON; "" is Auto;
// everything else ("string", "raw", ...) is String.
func ParseType(name string) Type {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case n == "":
		return Auto
	case strings.Contains(n, "int") || strings.Contains(n, "long"):
		return Int
	case strings.Contains(n, "float") || strings.Contains(n, "double"):
		return Float
	case strings.Contains(n, "bool"):
		return Bool
	case n == "json":
		return JSON
	}
	return String
}

// Convert converts v (int64, float64, bool, string, json.RawMessage or
// other integer/float Go types) to t. ok is false when v is nil or cannot
// be converted; see [Coerce] for upstream's fallback.
func Convert(t Type, v any) (any, bool) {
	v = normalize(v)
	if v == nil {
		return nil, false
	}
	switch t {
	case Auto, JSON:
		return v, true
	case Int:
		switch x := v.(type) {
		case int64:
			return x, true
		case float64:
			return FloatToInt(x)
		case bool:
			if x {
				return int64(1), true
			}
			return int64(0), true
		case string:
			i, ok := ParseInt(x)
			return i, ok
		}
	case Float:
		switch x := v.(type) {
		case int64:
			return float64(x), true
		case float64:
			return x, true
		case bool:
			if x {
				return 1.0, true
			}
			return 0.0, true
		case string:
			f, ok := ParseFloat(x)
			return f, ok
		}
	case Bool:
		switch x := v.(type) {
		case bool:
			return x, true
		case int64:
			if x == 0 || x == 1 {
				return x == 1, true
			}
		case float64:
			if x == 0 || x == 1 {
				return x == 1, true
			}
		case string:
			b, ok := ParseBool(x)
			return b, ok
		}
	case String:
		return Text(v), true
	}
	return nil, false
}

// Coerce is Convert with upstream's fallback: a value that cannot be
// converted is sent as its text. Only nil yields nil.
func Coerce(t Type, v any) any {
	if r, ok := Convert(t, v); ok {
		return r
	}
	if v = normalize(v); v == nil {
		return nil
	}
	return Text(v)
}

// normalize maps other Go numeric types to int64/float64 and []byte to
// string; nil and unknown types to nil.
func normalize(v any) any {
	switch x := v.(type) {
	case int64, float64, bool, string:
		return v
	case json.RawMessage:
		if len(x) == 0 || string(x) == "null" {
			return nil
		}
		return v
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		if uint64(x) > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case float32:
		return float64(x)
	case []byte:
		return string(x)
	}
	return nil
}

// Text returns the text form of a data-model value (Python str() with JSON
// spelling for booleans, objects and arrays; "" for nil).
func Text(v any) string {
	switch x := normalize(v).(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return string(AppendFloat(nil, x))
	case bool:
		if x {
			return "true"
		}
		return "false"
	case json.RawMessage:
		return string(x)
	}
	return ""
}

// AppendText appends Text(v) to dst.
func AppendText(dst []byte, v any) []byte {
	switch x := normalize(v).(type) {
	case string:
		return append(dst, x...)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		return AppendFloat(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case json.RawMessage:
		return append(dst, x...)
	}
	return dst
}

// AppendFloat formats f the way Python's str(float) does: the shortest
// representation that round-trips, always with a fraction or exponent
// ("21.0", "1e+16", "1.5e-05"), "inf", "-inf", "nan".
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	abs := math.Abs(f)
	if abs >= 1e16 || abs < 1e-4 {
		// Go's shortest 'e' form matches Python's: 1e+16, 1.5e-05.
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// FloatToInt truncates toward zero; ok is false for NaN and out-of-range.
func FloatToInt(f float64) (int64, bool) {
	if f != f || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return 0, false
	}
	return int64(f), true
}

// ParseInt parses s as int(float(s)) does: surrounding space allowed,
// integers of any size that fit int64 exactly, otherwise a float
// truncated toward zero ("12.7" -> 12, "-1e3" -> -1000).
func ParseInt(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, true
	}
	f, ok := ParseFloat(s)
	if !ok {
		return 0, false
	}
	return FloatToInt(f)
}

// ParseFloat parses s as Python's float(s): surrounding space allowed,
// "inf", "-infinity", "nan" (any case) and digit underscores accepted.
func ParseFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err == nil {
		return f, true
	}
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return f, true // ±Inf or 0, as Python
	}
	// strconv accepts "inf"/"nan"; Go also rejects "1_0" for base 10
	// floats: Python accepts underscores between digits.
	if strings.Contains(s, "_") && !strings.Contains(s, "__") && s[0] != '_' && s[len(s)-1] != '_' {
		if f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64); err == nil {
			return f, true
		}
	}
	return 0, false
}

// ParseBool accepts upstream's truth values, case-insensitively and with
// surrounding space: y, yes, t, true, on, 1 and n, no, f, false, off, 0.
func ParseBool(s string) (bool, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 5 {
		return false, false
	}
	var b [5]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	switch string(b[:len(s)]) {
	case "y", "yes", "t", "true", "on", "1":
		return true, true
	case "n", "no", "f", "false", "off", "0":
		return false, true
	}
	return false, false
}
